"""Business rules of caller identification and registration.

`not_found` and `too_many_attempts` are answers, not exceptions: the failed attempt they count must be
committed with the reply, whereas a raised `ServiceError` rolls the unit of work back.
"""

import datetime as dt
import secrets
from collections.abc import Sequence

import phonenumbers

from ignis.contracts.base import ErrorCode, ErrorReply
from ignis.contracts.patients import (
    IdentifyPatient,
    PatientAlreadyRegistered,
    PatientIdentified,
    PatientRefResolved,
    PatientRegistered,
    RegisterPatient,
    ResolvePatientRef,
)
from ignis.patients.errors import InvalidPhone, NotVerified
from ignis.patients.matching import NameMatch, match_name, normalise, phonetic
from ignis.patients.models import Patient
from ignis.patients.repository import PatientRepository
from ignis.patients.settings import PatientsSettings
from ignis.practice.config import Practice


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def to_e164(number: str, region: str = "DE") -> str | None:
    """`0151…`, `+49151…` and `0049151…` are one number; None if it is not a valid phone number."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _best(candidates: Sequence[Patient], spoken: str, name_of: str) -> list[Patient]:
    """The candidates whose name matches best; exact spellings win over phonetic near misses."""
    scored = [(match_name(spoken, getattr(patient, name_of)), patient) for patient in candidates]
    top = max((score for score, _ in scored), default=NameMatch.NONE)
    return [] if top is NameMatch.NONE else [patient for score, patient in scored if score is top]


def find_matches(candidates: Sequence[Patient], last_name: str, first_name: str | None) -> list[Patient]:
    """Patients that name + birth date identify; more than one means ask, never guess."""
    matches = _best(candidates, last_name, "last_name")
    if first_name and matches:
        matches = _best(matches, first_name, "first_name")
    return matches


def salutation_of(patient: Patient) -> str:
    if patient.salutation:
        return f"{patient.salutation} {patient.last_name}"
    return f"{patient.first_name} {patient.last_name}"


async def _issue_ref(
    repo: PatientRepository,
    settings: PatientsSettings,
    conversation_id: str,
    patient: Patient,
    now: dt.datetime,
) -> str:
    expires_at = now + dt.timedelta(minutes=settings.ref_ttl_minutes)
    return await repo.issue_ref(conversation_id, patient.id, "pr_" + secrets.token_urlsafe(16), expires_at)


async def identify(
    repo: PatientRepository, settings: PatientsSettings, cmd: IdentifyPatient, now: dt.datetime
) -> PatientIdentified | ErrorReply:
    if await repo.failures(cmd.conversation_id) >= settings.max_identify_attempts:
        return ErrorReply(
            code=ErrorCode.too_many_attempts, message="identification locked for this conversation"
        )
    matches = find_matches(await repo.by_birth_date(cmd.birth_date), cmd.last_name, cmd.first_name)
    if len(matches) == 1:
        patient = matches[0]
        ref = await _issue_ref(repo, settings, cmd.conversation_id, patient, now)
        return PatientIdentified(
            patient_ref=ref, first_name=patient.first_name, salutation=salutation_of(patient)
        )
    if len(matches) > 1:
        return ErrorReply(code=ErrorCode.ambiguous, message=f"{len(matches)} patients match")
    failures = await repo.record_failure(cmd.conversation_id, now)
    if failures >= settings.max_identify_attempts:
        return ErrorReply(
            code=ErrorCode.too_many_attempts, message="identification locked for this conversation"
        )
    return ErrorReply(code=ErrorCode.not_found, message=f"no match (attempt {failures})")


async def register(
    repo: PatientRepository, settings: PatientsSettings, cmd: RegisterPatient, now: dt.datetime
) -> PatientRegistered | PatientAlreadyRegistered | ErrorReply:
    if cmd.phone:
        phone = to_e164(cmd.phone)
        if phone is None:
            raise InvalidPhone("phone number not valid")
    else:
        # A suppressed or foreign caller id is no reason to refuse the registration.
        phone = to_e164(cmd.caller_id) if cmd.caller_id else None

    await repo.lock_birth_date(cmd.birth_date)
    matches = find_matches(await repo.by_birth_date(cmd.birth_date), cmd.last_name, cmd.first_name)
    if len(matches) > 1:
        return ErrorReply(code=ErrorCode.already_registered, message="several existing records match")
    if matches:
        # Same checks as identify, including its attempt limit, before a ref is handed out.
        if await repo.failures(cmd.conversation_id) >= settings.max_identify_attempts:
            return ErrorReply(code=ErrorCode.too_many_attempts, message="identification locked")
        patient = matches[0]
        ref = await _issue_ref(repo, settings, cmd.conversation_id, patient, now)
        return PatientAlreadyRegistered(
            patient_ref=ref, first_name=patient.first_name, salutation=salutation_of(patient)
        )

    patient = await repo.add(new_patient(cmd, phone, now))
    return PatientRegistered(patient_ref=await _issue_ref(repo, settings, cmd.conversation_id, patient, now))


def new_patient(cmd: RegisterPatient, phone: str | None, now: dt.datetime) -> Patient:
    return Patient(
        first_name=cmd.first_name.strip(),
        last_name=cmd.last_name.strip(),
        salutation=cmd.salutation.value if cmd.salutation else None,
        birth_date=cmd.birth_date,
        last_name_key=normalise(cmd.last_name),
        last_name_phonetic=phonetic(cmd.last_name),
        phone=phone,
        insurance=cmd.insurance.value,
        sms_consent=cmd.sms_consent,
        sms_consent_at=now if cmd.sms_consent else None,
    )


async def resolve_ref(
    repo: PatientRepository, cmd: ResolvePatientRef, now: dt.datetime
) -> PatientRefResolved:
    verification = await repo.verification(cmd.patient_ref)
    if verification is None or verification.conversation_id != cmd.conversation_id:
        raise NotVerified("ref unknown in this conversation")
    if verification.expires_at <= now:
        raise NotVerified("ref expired")
    return PatientRefResolved(patient_id=str(verification.patient_id))


async def seed(repo: PatientRepository, practice: Practice, now: dt.datetime) -> int:
    """Load the practice file's demo patients into an empty database; returns how many were added."""
    if await repo.count():
        return 0
    for entry in practice.demo_patients:
        cmd = RegisterPatient(
            conversation_id="seed",
            first_name=entry.first_name,
            last_name=entry.last_name,
            birth_date=entry.birth_date,
            insurance=entry.insurance,
            sms_consent=entry.sms_consent,
            salutation=entry.salutation,
        )
        await repo.add(new_patient(cmd, to_e164(entry.phone) if entry.phone else None, now))
    return len(practice.demo_patients)
