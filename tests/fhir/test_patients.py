"""The patients service in FHIR record mode: callers are identified among the practice's own Patients on the
FHIR server and registered there, once, however often the registration is sent."""

import asyncio
import datetime as dt
import signal
from typing import Any

import pytest
from faststream.nats import NatsBroker
from pydantic import TypeAdapter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ignis.contracts import subjects
from ignis.contracts.base import ErrorCode, ErrorReply
from ignis.contracts.notifications import Contact, GetContact, SetSmsConsent, SmsConsentSet
from ignis.contracts.patients import (
    Insurance,
    PatientAlreadyRegistered,
    PatientIdentified,
    PatientRefResolved,
    PatientRegistered,
    RegisterPatient,
    ResolvePatientRef,
    Salutation,
)
from ignis.fhir import codes
from ignis.fhir.client import FhirClient
from ignis.patients.models import IdentityAttempt, Patient
from tests import patient_commands
from tests.factories import GROSS, MAYER_1, MAYER_2, MUELLER, NEW_PATIENT
from tests.fhir.conftest import on_server, practice_patient
from tests.fhir_engine.engine import FhirEngine
from tests.patient_commands import IDENTIFY, REGISTER, RESOLVE, Reply, ask, identify

CONTACT: Reply = TypeAdapter(Contact | ErrorReply)
CONSENT: Reply = TypeAdapter(SmsConsentSet | ErrorReply)


def register(conversation: str, **changes: Any) -> RegisterPatient:
    """A new patient with private insurance and a salutation, as the FHIR mapping writes both."""
    privat = {"insurance": Insurance.privat, "salutation": Salutation.frau}
    return patient_commands.register(conversation, **(privat | changes))


class TestIdentify:
    @pytest.mark.parametrize("spoken", ["Müller", "Mueller", "Muller", "Müler"])
    async def test_a_patient_the_practice_keeps_is_found_by_german_name_matching(
        self, patients_bus: NatsBroker, fhir: FhirClient, spoken: str
    ) -> None:
        anna, _ = await on_server(fhir, MUELLER, GROSS)

        reply = await ask(
            patients_bus, subjects.PATIENTS_IDENTIFY, identify("c1", spoken, MUELLER.birth_date), IDENTIFY
        )

        assert isinstance(reply, PatientIdentified)
        assert (reply.first_name, reply.salutation) == ("Anna", "Frau Müller")
        resolved = await ask(
            patients_bus,
            subjects.PATIENTS_RESOLVE_REF,
            ResolvePatientRef(conversation_id="c1", patient_ref=reply.patient_ref),
            RESOLVE,
        )
        assert isinstance(resolved, PatientRefResolved)
        contact = await ask(
            patients_bus, subjects.PATIENTS_CONTACT, GetContact(patient_id=resolved.patient_id), CONTACT
        )
        assert contact.phone == MUELLER.phone  # the id Ignis gave stands for the FHIR Patient `anna`
        assert anna["id"]

    async def test_wrong_birth_date_and_inactive_records_are_not_found(
        self, patients_bus: NatsBroker, fhir: FhirClient
    ) -> None:
        await fhir.create(practice_patient(GROSS, active=False))
        await on_server(fhir, MUELLER)

        wrong_day = await ask(
            patients_bus, subjects.PATIENTS_IDENTIFY, identify("c1", "Müller", dt.date(1980, 3, 13)), IDENTIFY
        )
        inactive = await ask(
            patients_bus, subjects.PATIENTS_IDENTIFY, identify("c2", "Groß", GROSS.birth_date), IDENTIFY
        )

        assert isinstance(wrong_day, ErrorReply)
        assert wrong_day.code is ErrorCode.not_found
        assert isinstance(inactive, ErrorReply)
        assert inactive.code is ErrorCode.not_found

    async def test_two_records_of_one_name_and_birth_date_are_never_guessed(
        self, patients_bus: NatsBroker, fhir: FhirClient
    ) -> None:
        await on_server(fhir, MAYER_1, MAYER_2)

        reply = await ask(
            patients_bus,
            subjects.PATIENTS_IDENTIFY,
            identify("c1", "Mayer", MAYER_1.birth_date, "Peter"),
            IDENTIFY,
        )

        assert isinstance(reply, ErrorReply)
        assert reply.code is ErrorCode.ambiguous

    async def test_a_server_that_is_away_is_unavailable_and_costs_no_attempt(
        self, patients_bus: NatsBroker, fhir_engine: FhirEngine, session: AsyncSession
    ) -> None:
        fhir_engine.process.send_signal(signal.SIGSTOP)  # the engine stops answering
        try:
            reply = await ask(
                patients_bus,
                subjects.PATIENTS_IDENTIFY,
                identify("c1", "Müller", MUELLER.birth_date),
                IDENTIFY,
            )
        finally:
            fhir_engine.process.send_signal(signal.SIGCONT)

        assert isinstance(reply, ErrorReply)
        assert reply.code is ErrorCode.unavailable
        assert await session.scalar(select(func.count()).select_from(IdentityAttempt)) == 0


class TestRegister:
    async def test_writes_patient_coverage_and_sms_consent_the_german_way(
        self, patients_bus: NatsBroker, fhir: FhirClient
    ) -> None:
        reply = await ask(patients_bus, subjects.PATIENTS_REGISTER, register("c1"), REGISTER)

        assert isinstance(reply, PatientRegistered)
        [patient] = await fhir.search("Patient", {"birthdate": NEW_PATIENT.birth_date.isoformat()})
        assert patient["name"][0]["family"] == NEW_PATIENT.last_name
        assert patient["name"][0]["given"] == [NEW_PATIENT.first_name]
        assert patient["gender"] == "female"
        assert patient["telecom"] == [{"system": "phone", "value": NEW_PATIENT.phone, "use": "mobile"}]
        assert patient["identifier"][0]["system"] == codes.IGNIS_REGISTRATION
        [coverage] = await fhir.search("Coverage", {"beneficiary": f"Patient/{patient['id']}"})
        assert coverage["type"]["coding"] == [{"system": codes.VERSICHERUNGSART, "code": "PKV"}]
        [consent] = await fhir.search("Consent", {"patient": f"Patient/{patient['id']}"})
        assert consent["provision"]["type"] == "permit"
        assert {"system": codes.IGNIS_CONSENT, "code": "sms"}.items() <= consent["category"][1]["coding"][
            0
        ].items()

    async def test_a_retried_registration_makes_one_patient(
        self, patients_bus: NatsBroker, fhir: FhirClient
    ) -> None:
        first = await ask(patients_bus, subjects.PATIENTS_REGISTER, register("c1"), REGISTER)
        again = await ask(patients_bus, subjects.PATIENTS_REGISTER, register("c1"), REGISTER)

        assert isinstance(first, PatientRegistered)
        assert again == first
        assert len(await fhir.search("Patient", {"birthdate": NEW_PATIENT.birth_date.isoformat()})) == 1
        assert len(await fhir.search("Coverage", {})) == 1

    async def test_concurrent_registrations_of_one_person_make_one_patient(
        self, committing_patients_bus: NatsBroker, fhir: FhirClient
    ) -> None:
        patients_bus = committing_patients_bus
        commands = [register("c1")] * 4 + [
            register(f"other-{n}", caller_id=f"+49301111{n:03}") for n in range(4)
        ]
        replies = await asyncio.gather(
            *(ask(patients_bus, subjects.PATIENTS_REGISTER, c, REGISTER) for c in commands)
        )

        assert all(isinstance(r, PatientRegistered | PatientAlreadyRegistered) for r in replies), replies
        assert len(await fhir.search("Patient", {"birthdate": NEW_PATIENT.birth_date.isoformat()})) == 1
        assert len(await fhir.search("Coverage", {})) == 1

    async def test_a_patient_the_practice_already_has_is_not_registered_again(
        self, patients_bus: NatsBroker, fhir: FhirClient
    ) -> None:
        await on_server(fhir, MUELLER)

        reply = await ask(
            patients_bus,
            subjects.PATIENTS_REGISTER,
            register("c1", first_name="Anna", last_name="Mueller", birth_date=MUELLER.birth_date),
            REGISTER,
        )

        assert isinstance(reply, PatientAlreadyRegistered)
        assert reply.salutation == "Frau Müller"
        assert len(await fhir.search("Patient", {})) == 1

    async def test_no_patient_row_in_ignis_postgres(
        self, patients_bus: NatsBroker, session: AsyncSession
    ) -> None:
        await ask(patients_bus, subjects.PATIENTS_REGISTER, register("c1"), REGISTER)

        assert await session.scalar(select(func.count()).select_from(Patient)) == 0


async def test_sms_consent_is_a_consent_on_the_server(patients_bus: NatsBroker, fhir: FhirClient) -> None:
    registered = await ask(
        patients_bus, subjects.PATIENTS_REGISTER, register("c1", sms_consent=False), REGISTER
    )
    resolved = await ask(
        patients_bus,
        subjects.PATIENTS_RESOLVE_REF,
        ResolvePatientRef(conversation_id="c1", patient_ref=registered.patient_ref),
        RESOLVE,
    )
    patient_id = resolved.patient_id
    before = await ask(patients_bus, subjects.PATIENTS_CONTACT, GetContact(patient_id=patient_id), CONTACT)

    given = await ask(
        patients_bus,
        subjects.PATIENTS_SMS_CONSENT,
        SetSmsConsent(patient_id=patient_id, sms_consent=True),
        CONSENT,
    )
    after = await ask(patients_bus, subjects.PATIENTS_CONTACT, GetContact(patient_id=patient_id), CONTACT)
    withdrawn = await ask(
        patients_bus,
        subjects.PATIENTS_SMS_CONSENT,
        SetSmsConsent(patient_id=patient_id, sms_consent=False),
        CONSENT,
    )

    assert not before.sms_consent
    assert given.sms_consent
    assert after.sms_consent
    assert after.mobile
    assert not withdrawn.sms_consent
    [consent] = await fhir.search("Consent", {})
    assert consent["provision"]["type"] == "deny"
