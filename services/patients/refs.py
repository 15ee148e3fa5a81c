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


async def issue_ref(
    repo: PatientRepository,
    settings: PatientsSettings,
    conversation_id: str,
    patient: Patient,
    now: dt.datetime,
) -> str:
    expires_at = now + dt.timedelta(minutes=settings.ref_ttl_minutes)
    return await repo.issue_ref(conversation_id, patient.id, "pr_" + secrets.token_urlsafe(16), expires_at)


async def resolve_ref(
    repo: PatientRepository, cmd: ResolvePatientRef, now: dt.datetime
) -> PatientRefResolved:
    verification = await repo.verification(cmd.patient_ref)
    if verification is None or verification.conversation_id != cmd.conversation_id:
        raise NotVerified("ref unknown in this conversation")
    if verification.expires_at <= now:
        raise NotVerified("ref expired")
    patient = await repo.records.get(verification.patient_id)
    if patient is None:  # erased during the call
        raise NotVerified("patient erased")
    fhir_ids = await repo.fhir_ids([patient.id])  # empty in Ignis' own record mode
    # With what the practice's booking rules ask of the patient (the scheduler checks them).
    return PatientRefResolved(
        patient_id=str(patient.id),
        fhir_patient_id=fhir_ids.get(patient.id),
        birth_date=patient.birth_date,
        insurance=Insurance(patient.insurance) if patient.insurance else None,  # FHIR mode: not read back
        registered_by_phone=bool(patient.registered_by_phone),
    )
