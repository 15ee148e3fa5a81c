"""What other services may learn about a patient: names for staff screens, and the phone number and SMS
consent the notifier needs before it texts."""

import datetime as dt
import logging
import uuid

from ignis.contracts.notifications import (
    Contact,
    Contacts,
    GetContact,
    GetContacts,
    SetSmsConsent,
    SmsConsentSet,
)
from ignis.contracts.patients import FhirPatientId, GetFhirPatientId, GetPatientNames, PatientNames
from ignis.kit.errors import NotFound
from ignis.kit.phones import is_mobile
from ignis.patients.models import Patient
from ignis.patients.repository import PatientRepository

logger = logging.getLogger("ignis.patients.contact")


async def patient_names(repo: PatientRepository, query: GetPatientNames) -> PatientNames:
    ids = []
    for text in query.patient_ids:
        try:
            ids.append(uuid.UUID(text))
        except ValueError:
            continue  # an id this service never issued simply has no name
    patients = await repo.records.by_ids(ids)
    return PatientNames(names={str(p.id): f"{p.first_name} {p.last_name}" for p in patients})


async def contact(repo: PatientRepository, query: GetContact) -> Contact:
    patient = await repo.records.get(query.patient_id)
    if patient is None:
        raise NotFound("no such patient")
    return _contact(patient, (await repo.fhir_ids([patient.id])).get(patient.id))  # none in Ignis' own mode


async def contacts(repo: PatientRepository, query: GetContacts) -> Contacts:
    """Two reads for the whole batch in Ignis' own mode (the patients, their FHIR ids)."""
    patients = await repo.records.get_many(list(dict.fromkeys(query.patient_ids)))
    fhir_ids = await repo.fhir_ids([p.id for p in patients])
    return Contacts(contacts={p.id: _contact(p, fhir_ids.get(p.id)) for p in patients})


def _contact(patient: Patient, fhir_patient_id: str | None) -> Contact:
    return Contact(
        phone=patient.phone,
        mobile=patient.phone is not None and is_mobile(patient.phone),
        sms_consent=patient.sms_consent,
        sms_consent_at=patient.sms_consent_at,
        fhir_patient_id=fhir_patient_id,
    )


async def fhir_patient_id(repo: PatientRepository, query: GetFhirPatientId) -> FhirPatientId:
    return FhirPatientId(fhir_patient_id=(await repo.fhir_ids([query.patient_id])).get(query.patient_id))


async def set_sms_consent(repo: PatientRepository, cmd: SetSmsConsent, now: dt.datetime) -> SmsConsentSet:
    patient = await repo.records.get(cmd.patient_id)
    if patient is None:
        raise NotFound("no such patient")
    if patient.sms_consent != cmd.sms_consent:
        await repo.records.set_sms_consent(patient, cmd.sms_consent, now)
        logger.info(
            "SMS consent changed", extra={"patient_id": str(patient.id), "sms_consent": cmd.sms_consent}
        )
    return SmsConsentSet(
        patient_id=patient.id, sms_consent=patient.sms_consent, sms_consent_at=patient.sms_consent_at
    )
