"""New patients: registration by the voice agent, and the practice file's demo patients.

A registration is an identification too (an existing name + birth date answers with its ref), so it draws
on the same budgets, and a new patient counts like a failed attempt (see `budget`).
"""

import datetime as dt

from ignis.contracts.base import ErrorCode, ErrorReply
from ignis.contracts.patients import PatientAlreadyRegistered, PatientRegistered, RegisterPatient
from ignis.kit.phones import to_e164
from ignis.patients import budget
from ignis.patients.errors import InvalidPhone
from ignis.patients.identity import TOO_MANY_ATTEMPTS, alert_locks, find_matches, salutation_of
from ignis.patients.matching import normalise, phonetic
from ignis.patients.models import Patient
from ignis.patients.refs import issue_ref
from ignis.patients.repository import PatientRepository
from ignis.patients.settings import PatientsSettings
from ignis.practice.config import Practice


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

    attempt = budget.Attempt.of(cmd.conversation_id, cmd.caller_id, cmd.last_name)
    verdict = await budget.check(repo, settings, attempt, now)
    if repeated := await _repeated_registration(repo, cmd, attempt):
        return repeated  # the gateway asked again after a lost reply: the same answer, not a refusal
    if verdict.locked or verdict.usage.registrations >= settings.max_registrations:
        return TOO_MANY_ATTEMPTS
    await repo.lock_birth_date(cmd.birth_date)
    candidates = await repo.records.by_birth_date(cmd.birth_date, fresh=True)
    matches = find_matches(candidates, cmd.last_name, cmd.first_name)
    if len(matches) > 1:
        return ErrorReply(code=ErrorCode.already_registered, message="several existing records match")
    if matches:
        patient = matches[0]
        ref = await issue_ref(repo, settings, cmd.conversation_id, patient, now)
        return PatientAlreadyRegistered(
            patient_ref=ref, first_name=patient.first_name, salutation=salutation_of(patient)
        )

    locked = await budget.count(repo, settings, attempt, verdict.usage, now)
    await alert_locks(repo, settings, attempt, locked, cmd.last_name, now)
    patient = await repo.records.add(new_patient(cmd, phone, now))
    return PatientRegistered(patient_ref=await issue_ref(repo, settings, cmd.conversation_id, patient, now))


async def _repeated_registration(
    repo: PatientRepository, cmd: RegisterPatient, attempt: budget.Attempt
) -> PatientRegistered | PatientAlreadyRegistered | None:
    """The answer already given in this conversation to this registration, if it was given: a patient of
    this name and birth date verified here (reveals nothing the caller was not told already)."""
    verified = {patient.id: (ref, patient) for ref, patient in await repo.verified_in(cmd.conversation_id)}
    same_day = [patient for _, patient in verified.values() if patient.birth_date == cmd.birth_date]
    matches = find_matches(same_day, cmd.last_name, cmd.first_name)
    if len(matches) != 1:
        return None
    ref, patient = verified[matches[0].id]
    if await repo.registered_in(cmd.conversation_id, attempt.name_said):
        return PatientRegistered(patient_ref=ref)
    return PatientAlreadyRegistered(
        patient_ref=ref, first_name=patient.first_name, salutation=salutation_of(patient)
    )


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
        registered_by_phone=True,  # a new patient, for the practice's booking rules
    )


async def seed(repo: PatientRepository, practice: Practice, now: dt.datetime) -> int:
    """Load the practice file's demo patients into an empty database; returns how many were added."""
    if await repo.records.count():
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
        await repo.records.add(new_patient(cmd, to_e164(entry.phone) if entry.phone else None, now))
    return len(practice.demo_patients)
