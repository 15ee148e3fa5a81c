"""Patient refs: the opaque token an identification hands the voice agent, valid in its conversation only.

Every later command about the patient (a request, a booking in the scheduler) names the ref, never the
patient's id, and is resolved here.
"""

import datetime as dt
import secrets

from ignis.contracts.patients import Insurance, PatientRefResolved, ResolvePatientRef
from ignis.kit.errors import NotVerified
from ignis.patients.models import Patient
from ignis.patients.repository import PatientRepository
from ignis.patients.settings import PatientsSettings


def new_ref(settings: PatientsSettings, now: dt.datetime) -> tuple[str, dt.datetime]:
    """A fresh ref and its expiry (a conversation that holds one for the patient keeps its own)."""
    return "pr_" + secrets.token_urlsafe(16), now + dt.timedelta(minutes=settings.ref_ttl_minutes)


async def issue_ref(
    repo: PatientRepository,
    settings: PatientsSettings,
    conversation_id: str,
    patient: Patient,
    now: dt.datetime,
) -> str:
    return await repo.issue_ref(conversation_id, patient.id, *new_ref(settings, now))


async def resolve_ref(
    repo: PatientRepository, cmd: ResolvePatientRef, now: dt.datetime
) -> PatientRefResolved:
    found = await repo.verified_patient(cmd.patient_ref)  # no SMS consent needed here
    if found is None or found[0].conversation_id != cmd.conversation_id:
        raise NotVerified("ref unknown in this conversation")
    verification, patient = found
    if verification.expires_at <= now:
        raise NotVerified("ref expired")
    if patient is None:  # erased during the call
        raise NotVerified("patient erased")
    fhir_id = await repo.records.fhir_id(patient.id)
    # With what the practice's booking rules ask of the patient (the scheduler checks them).
    return PatientRefResolved(
        patient_id=str(patient.id),
        fhir_patient_id=fhir_id,
        birth_date=patient.birth_date,
        insurance=Insurance(patient.insurance) if patient.insurance else None,  # FHIR mode: not read back
        registered_by_phone=bool(patient.registered_by_phone),
        expires_at=verification.expires_at,
    )
