"""Bus entry points of the patients service: translation and dependency injection only."""

from typing import Annotated

from faststream import Context, Depends
from faststream.nats import NatsRouter

from ignis.contracts import subjects
from ignis.contracts.base import ErrorReply
from ignis.contracts.patients import (
    IdentifyPatient,
    PatientAlreadyRegistered,
    PatientIdentified,
    PatientRefResolved,
    PatientRegistered,
    RegisterPatient,
    ResolvePatientRef,
)
from ignis.kit.bus import HANDLER_CONCURRENCY
from ignis.kit.db import Session
from ignis.patients import service
from ignis.patients.repository import PatientRepository
from ignis.patients.settings import PatientsSettings

router = NatsRouter()
QUEUE = subjects.queue("patients")


def get_repository(session: Session) -> PatientRepository:
    return PatientRepository(session)


Repository = Annotated[PatientRepository, Depends(get_repository)]
Settings = Annotated[PatientsSettings, Context("settings")]


@router.subscriber(subjects.PATIENTS_IDENTIFY, queue=QUEUE, max_workers=HANDLER_CONCURRENCY)
async def identify_patient(
    cmd: IdentifyPatient, repo: Repository, settings: Settings
) -> PatientIdentified | ErrorReply:
    return await service.identify(repo, settings, cmd, service.utcnow())


@router.subscriber(subjects.PATIENTS_REGISTER, queue=QUEUE, max_workers=HANDLER_CONCURRENCY)
async def register_patient(
    cmd: RegisterPatient, repo: Repository, settings: Settings
) -> PatientRegistered | PatientAlreadyRegistered | ErrorReply:
    return await service.register(repo, settings, cmd, service.utcnow())


@router.subscriber(subjects.PATIENTS_RESOLVE_REF, queue=QUEUE, max_workers=HANDLER_CONCURRENCY)
async def resolve_patient_ref(cmd: ResolvePatientRef, repo: Repository) -> PatientRefResolved:
    return await service.resolve_ref(repo, cmd, service.utcnow())
