"""Bus entry points of the patients service: translation and dependency injection only."""

from typing import Annotated, Any

from faststream import Depends
from faststream.nats import NatsRouter

from ignis.contracts import subjects
from ignis.contracts.base import ErrorReply
from ignis.contracts.calls import CallDetail, CallPage, GetCall, ListCalls
from ignis.contracts.notifications import Contact, GetContact, SetSmsConsent, SmsConsentSet
from ignis.contracts.patients import (
    CallerLookedUp,
    GetPatientNames,
    IdentifyPatient,
    IdentityLocks,
    IdentityUnlocked,
    ListIdentityLocks,
    LookupCaller,
    PatientAlreadyRegistered,
    PatientIdentified,
    PatientNames,
    PatientRefResolved,
    PatientRegistered,
    RegisterPatient,
    ResolvePatientRef,
    UnlockIdentity,
)
from ignis.contracts.requests import (
    ClaimRequest,
    CompleteRequest,
    CreateRequest,
    ListRequests,
    RequestCreated,
    RequestPage,
    RequestUpdated,
)
from ignis.kit.bus import HANDLER_CONCURRENCY, durable_subscriber, settle
from ignis.kit.context import Broker, Context, Message
from ignis.kit.db import Session, Sessionmaker
from ignis.patients import service
from ignis.patients.repository import PatientRepository
from ignis.patients.settings import PatientsSettings

router = NatsRouter()
QUEUE = subjects.queue("patients")


async def get_repository(session: Session) -> PatientRepository:
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


@router.subscriber(subjects.PATIENTS_REQUEST_CREATE, queue=QUEUE, max_workers=HANDLER_CONCURRENCY)
async def create_request(cmd: CreateRequest, repo: Repository) -> RequestCreated:
    return await service.create_request(repo, cmd, service.utcnow())


@router.subscriber(subjects.PATIENTS_REQUEST_LIST, queue=QUEUE, max_workers=HANDLER_CONCURRENCY)
async def list_requests(query: ListRequests, repo: Repository) -> RequestPage:
    return await service.list_requests(repo, query)


@router.subscriber(subjects.PATIENTS_REQUEST_CLAIM, queue=QUEUE, max_workers=HANDLER_CONCURRENCY)
async def claim_request(cmd: ClaimRequest, repo: Repository) -> RequestUpdated:
    return await service.claim_request(repo, cmd, service.utcnow())


@router.subscriber(subjects.PATIENTS_REQUEST_COMPLETE, queue=QUEUE, max_workers=HANDLER_CONCURRENCY)
async def complete_request(cmd: CompleteRequest, repo: Repository) -> RequestUpdated:
    return await service.complete_request(repo, cmd, service.utcnow())


@router.subscriber(subjects.PATIENTS_NAMES, queue=QUEUE, max_workers=HANDLER_CONCURRENCY)
async def patient_names(query: GetPatientNames, repo: Repository) -> PatientNames:
    return await service.patient_names(repo, query)


@router.subscriber(subjects.PATIENTS_LOOKUP_CALLER, queue=QUEUE, max_workers=HANDLER_CONCURRENCY)
async def lookup_caller(query: LookupCaller, repo: Repository) -> CallerLookedUp:
    return await service.lookup_caller(repo, query)


@router.subscriber(subjects.PATIENTS_CALLS_LIST, queue=QUEUE, max_workers=HANDLER_CONCURRENCY)
async def list_calls(query: ListCalls, repo: Repository) -> CallPage:
    return await service.list_calls(repo, query)


@router.subscriber(subjects.PATIENTS_CALLS_GET, queue=QUEUE, max_workers=HANDLER_CONCURRENCY)
async def get_call(query: GetCall, repo: Repository) -> CallDetail:
    return await service.get_call(repo, query)


@router.subscriber(subjects.PATIENTS_SMS_CONSENT, queue=QUEUE, max_workers=HANDLER_CONCURRENCY)
async def set_sms_consent(cmd: SetSmsConsent, repo: Repository) -> SmsConsentSet:
    return await service.set_sms_consent(repo, cmd, service.utcnow())


@router.subscriber(subjects.PATIENTS_CONTACT, queue=QUEUE, max_workers=HANDLER_CONCURRENCY)
async def contact(query: GetContact, repo: Repository) -> Contact:
    return await service.contact(repo, query)


@router.subscriber(subjects.PATIENTS_LOCKS_LIST, queue=QUEUE, max_workers=HANDLER_CONCURRENCY)
async def identity_locks(_: ListIdentityLocks, repo: Repository, settings: Settings) -> IdentityLocks:
    return await service.identity_locks(repo, settings, service.utcnow())


@router.subscriber(subjects.PATIENTS_LOCKS_UNLOCK, queue=QUEUE, max_workers=HANDLER_CONCURRENCY)
async def unlock_identity(cmd: UnlockIdentity, repo: Repository) -> IdentityUnlocked:
    return await service.unlock_identity(repo, cmd, service.utcnow())


@durable_subscriber(
    router,
    subjects.elevenlabs_webhook("*"),
    stream=subjects.WEBHOOKS_STREAM,
    durable=subjects.PATIENTS_CALLS_CONSUMER,
)
async def store_call(
    _: Any, message: Message, sessionmaker: Sessionmaker, settings: Settings, broker: Broker
) -> None:
    """Acknowledged only after the record is committed; a redelivery finds it and changes nothing. Then the
    event (the whole transcript) is deleted from the stream: the record is the one copy, purged with it.

    The raw bytes are read, not FastStream's decoded body: they are ElevenLabs' event as it was signed.
    """

    async def work() -> None:
        async with sessionmaker() as session, session.begin():
            await service.store_call(PatientRepository(session), settings, message.body, service.utcnow())

    await settle(message, broker, work, remove=True)
