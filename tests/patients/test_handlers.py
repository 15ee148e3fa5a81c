"""The patients service over real NATS and real Postgres (rolled back after each test)."""

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from faststream import TestApp
from faststream.nats import NatsBroker
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.contracts import subjects
from ignis.contracts.base import ErrorCode, ErrorReply
from ignis.contracts.notifications import Contact, Contacts, GetContact, GetContacts
from ignis.contracts.patients import (
    Insurance,
    PatientAlreadyRegistered,
    PatientIdentified,
    PatientRefResolved,
    PatientRegistered,
    ResolvePatientRef,
)
from ignis.kit.bus import make_broker
from ignis.kit.clock import utcnow
from ignis.patients.main import create_app
from ignis.patients.models import Patient
from ignis.patients.repository import PatientRepository
from ignis.patients.settings import PatientsSettings
from tests.conftest import wait_until_serving
from tests.factories import (
    GROSS,
    MAYER_1,
    MAYER_2,
    MUELLER,
    SCHMIDT_KARL,
    SCHMIDT_KLARA,
    patient,
)
from tests.patient_commands import IDENTIFY, REGISTER, RESOLVE, Reply, ask, identify, register

CONTACT: Reply = TypeAdapter(Contact | ErrorReply)
CONTACTS: Reply = TypeAdapter(Contacts | ErrorReply)


@pytest.fixture
async def client(
    patients_settings: PatientsSettings, sessionmaker: async_sessionmaker[AsyncSession], nats_url: str
) -> AsyncIterator[NatsBroker]:
    """A running patients service and a plain broker to talk to it, both on the real NATS."""
    async with TestApp(create_app(patients_settings, sessionmaker)):
        requester = make_broker(nats_url, "test-client")
        await requester.start()
        await wait_until_serving(requester, "patients")
        yield requester
        await requester.stop()


@pytest.fixture
async def seeded(session: AsyncSession) -> dict[str, Patient]:
    repo = PatientRepository(session)
    people = {"anna": MUELLER, "juergen": GROSS, "klara": SCHMIDT_KLARA, "karl": SCHMIDT_KARL}
    people |= {"mayer1": MAYER_1, "mayer2": MAYER_2}
    added = {key: await repo.add(patient(person)) for key, person in people.items()}
    await session.commit()
    return added


@pytest.mark.usefixtures("seeded")
class TestIdentify:
    @pytest.mark.parametrize("spoken", ["Müller", "Mueller", "Muller", "MUELLER", "Müler"])
    async def test_umlaut_and_phonetic_variants(self, client: NatsBroker, spoken: str) -> None:
        reply = await ask(
            client, subjects.PATIENTS_IDENTIFY, identify("c1", spoken, MUELLER.birth_date), IDENTIFY
        )
        assert isinstance(reply, PatientIdentified)
        assert (reply.first_name, reply.salutation) == ("Anna", "Frau Müller")
        assert reply.patient_ref.startswith("pr_")

    async def test_sharp_s(self, client: NatsBroker) -> None:
        reply = await ask(
            client, subjects.PATIENTS_IDENTIFY, identify("c1", "Gross", GROSS.birth_date), IDENTIFY
        )
        assert isinstance(reply, PatientIdentified)
        assert reply.first_name == "Jürgen"

    async def test_wrong_birth_date_is_not_found(self, client: NatsBroker) -> None:
        reply = await ask(
            client, subjects.PATIENTS_IDENTIFY, identify("c1", "Müller", dt.date(1980, 3, 13)), IDENTIFY
        )
        assert reply == ErrorReply(code=ErrorCode.not_found, message="no match (attempt 1)")

    async def test_same_name_and_birth_date_asks_for_the_first_name(self, client: NatsBroker) -> None:
        reply = await ask(
            client, subjects.PATIENTS_IDENTIFY, identify("c1", "Schmidt", SCHMIDT_KARL.birth_date), IDENTIFY
        )
        assert isinstance(reply, ErrorReply)
        assert reply.code is ErrorCode.ambiguous
        command = identify("c1", "Schmidt", SCHMIDT_KARL.birth_date, first_name="Karl")
        reply = await ask(client, subjects.PATIENTS_IDENTIFY, command, IDENTIFY)
        assert isinstance(reply, PatientIdentified)
        assert reply.first_name == "Karl"

    async def test_identical_records_are_never_guessed(self, client: NatsBroker) -> None:
        command = identify("c1", "Mayer", MAYER_1.birth_date, first_name="Peter")
        reply = await ask(client, subjects.PATIENTS_IDENTIFY, command, IDENTIFY)
        assert isinstance(reply, ErrorReply)
        assert reply.code is ErrorCode.ambiguous

    async def test_three_failures_lock_the_conversation(self, client: NatsBroker) -> None:
        wrong = identify("c-locked", "Müller", dt.date(1981, 3, 12))
        codes = [(await ask(client, subjects.PATIENTS_IDENTIFY, wrong, IDENTIFY)).code for _ in range(3)]
        assert codes == [ErrorCode.not_found, ErrorCode.not_found, ErrorCode.too_many_attempts]
        right = identify("c-locked", "Müller", MUELLER.birth_date)
        reply = await ask(client, subjects.PATIENTS_IDENTIFY, right, IDENTIFY)
        assert isinstance(reply, ErrorReply)
        assert reply.code is ErrorCode.too_many_attempts
        # Another conversation is not affected.
        other = await ask(
            client, subjects.PATIENTS_IDENTIFY, identify("c-other", "Müller", MUELLER.birth_date), IDENTIFY
        )
        assert isinstance(other, PatientIdentified)

    async def test_ambiguity_is_not_a_failed_attempt(self, client: NatsBroker) -> None:
        ambiguous = identify("c-amb", "Schmidt", SCHMIDT_KARL.birth_date)
        for _ in range(4):
            assert (
                await ask(client, subjects.PATIENTS_IDENTIFY, ambiguous, IDENTIFY)
            ).code is ErrorCode.ambiguous


@pytest.mark.usefixtures("seeded")
class TestResolveRef:
    async def test_ref_is_bound_to_its_conversation(
        self, client: NatsBroker, seeded: dict[str, Patient]
    ) -> None:
        identified = await ask(
            client, subjects.PATIENTS_IDENTIFY, identify("conv-a", "Müller", MUELLER.birth_date), IDENTIFY
        )
        same = ResolvePatientRef(conversation_id="conv-a", patient_ref=identified.patient_ref)
        # With what the practice's booking rules ask: birth date, insurance, a phone registration or not;
        # and until when the ref holds (the scheduler may use the answer again until then).
        resolved = await ask(client, subjects.PATIENTS_RESOLVE_REF, same, RESOLVE)
        assert isinstance(resolved, PatientRefResolved)
        assert resolved.model_copy(update={"expires_at": None}) == PatientRefResolved(
            patient_id=str(seeded["anna"].id),
            birth_date=MUELLER.birth_date,
            insurance=Insurance.gesetzlich,
            registered_by_phone=False,
        )
        assert resolved.expires_at is not None
        ttl = dt.timedelta(minutes=PatientsSettings().ref_ttl_minutes)
        assert utcnow() + ttl - dt.timedelta(minutes=1) < resolved.expires_at <= utcnow() + ttl
        reused = ResolvePatientRef(conversation_id="conv-b", patient_ref=identified.patient_ref)
        reply = await ask(client, subjects.PATIENTS_RESOLVE_REF, reused, RESOLVE)
        assert isinstance(reply, ErrorReply)
        assert reply.code is ErrorCode.not_verified

    async def test_expired_ref_is_refused(
        self, client: NatsBroker, seeded: dict[str, Patient], session: AsyncSession
    ) -> None:
        past = utcnow() - dt.timedelta(minutes=1)
        await PatientRepository(session).issue_ref("conv-old", seeded["anna"].id, "pr_old", past)
        await session.commit()
        command = ResolvePatientRef(conversation_id="conv-old", patient_ref="pr_old")
        reply = await ask(client, subjects.PATIENTS_RESOLVE_REF, command, RESOLVE)
        assert isinstance(reply, ErrorReply)
        assert reply.code is ErrorCode.not_verified

    async def test_invented_ref_is_refused(self, client: NatsBroker) -> None:
        command = ResolvePatientRef(conversation_id="conv-a", patient_ref="pr_guessed")
        assert (
            await ask(client, subjects.PATIENTS_RESOLVE_REF, command, RESOLVE)
        ).code is ErrorCode.not_verified


class TestRegister:
    async def test_registers_with_e164_phone_and_consent_time(
        self, client: NatsBroker, session: AsyncSession
    ) -> None:
        before = utcnow()
        reply = await ask(
            client, subjects.PATIENTS_REGISTER, register("c-reg", phone="0170 99988877"), REGISTER
        )
        assert isinstance(reply, PatientRegistered)
        stored = (await session.execute(select(Patient))).scalars().one()
        assert stored.phone == "+4917099988877"
        assert stored.sms_consent
        assert stored.sms_consent_at is not None
        assert stored.sms_consent_at >= before - dt.timedelta(seconds=1)
        resolved = await ask(
            client,
            subjects.PATIENTS_RESOLVE_REF,
            ResolvePatientRef(conversation_id="c-reg", patient_ref=reply.patient_ref),
            RESOLVE,
        )
        assert resolved.patient_id == str(stored.id)

    async def test_caller_id_is_the_default_phone(self, client: NatsBroker, session: AsyncSession) -> None:
        command = register("c-reg", phone=None, caller_id="004930 999888", sms_consent=False)
        assert isinstance(await ask(client, subjects.PATIENTS_REGISTER, command, REGISTER), PatientRegistered)
        stored = (await session.execute(select(Patient))).scalars().one()
        assert (stored.phone, stored.sms_consent_at) == ("+4930999888", None)

    async def test_suppressed_caller_id_registers_without_phone(
        self, client: NatsBroker, session: AsyncSession
    ) -> None:
        command = register("c-reg", phone=None, caller_id="anonymous")
        assert isinstance(await ask(client, subjects.PATIENTS_REGISTER, command, REGISTER), PatientRegistered)
        assert (await session.execute(select(Patient.phone))).scalar_one() is None

    async def test_invalid_phone_is_refused_and_nothing_stored(
        self, client: NatsBroker, session: AsyncSession
    ) -> None:
        reply = await ask(client, subjects.PATIENTS_REGISTER, register("c-reg", phone="12345"), REGISTER)
        assert isinstance(reply, ErrorReply)
        assert reply.code is ErrorCode.invalid_phone
        assert (await session.execute(select(Patient))).first() is None

    async def test_second_registration_returns_the_existing_record(
        self, client: NatsBroker, session: AsyncSession
    ) -> None:
        first = await ask(client, subjects.PATIENTS_REGISTER, register("c-1"), REGISTER)
        spelled_differently = register("c-2", last_name="Krueger-Oezdemir")
        again = await ask(client, subjects.PATIENTS_REGISTER, spelled_differently, REGISTER)
        assert isinstance(first, PatientRegistered)
        assert isinstance(again, PatientAlreadyRegistered)
        assert len((await session.execute(select(Patient))).scalars().all()) == 1
        ids = [
            (
                await ask(
                    client,
                    subjects.PATIENTS_RESOLVE_REF,
                    ResolvePatientRef(conversation_id=c, patient_ref=r),
                    RESOLVE,
                )
            ).patient_id
            for c, r in (("c-1", first.patient_ref), ("c-2", again.patient_ref))
        ]
        assert ids[0] == ids[1]

    @pytest.mark.usefixtures("seeded")
    async def test_registration_does_not_bypass_the_attempt_limit(self, client: NatsBroker) -> None:
        wrong = identify("c-locked", "Müller", dt.date(1999, 1, 1))
        for _ in range(3):
            await ask(client, subjects.PATIENTS_IDENTIFY, wrong, IDENTIFY)
        command = register("c-locked", MUELLER, phone=None)
        reply = await ask(client, subjects.PATIENTS_REGISTER, command, REGISTER)
        assert isinstance(reply, ErrorReply)
        assert reply.code is ErrorCode.too_many_attempts


class TestFailuresAlwaysGetAReply:
    async def test_malformed_message_gets_invalid_request(self, client: NatsBroker) -> None:
        message = await client.request(
            {"conversation_id": "c", "birth_date": "not a date"}, subjects.PATIENTS_IDENTIFY, timeout=5
        )
        reply = IDENTIFY.validate_json(message.body)
        assert isinstance(reply, ErrorReply)
        assert reply.code is ErrorCode.invalid_request
        assert "birth_date" in reply.message
        assert "not a date" not in reply.message

    async def test_raising_handler_answers_internal_at_once(
        self, client: NatsBroker, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        async def explode(*_: object) -> None:
            raise RuntimeError(f"database said: Key (phone)=({MUELLER.phone}) already exists")

        monkeypatch.setattr("ignis.patients.identity.identify", explode)
        started = time.monotonic()
        reply = await ask(
            client, subjects.PATIENTS_IDENTIFY, identify("c", "Müller", MUELLER.birth_date), IDENTIFY
        )
        assert reply == ErrorReply(code=ErrorCode.internal, message="internal error")
        assert time.monotonic() - started < 2, "the requester must not wait for its timeout"
        failures = [r for r in caplog.records if r.getMessage() == "handler failed"]
        assert failures, "the failure must be logged"
        assert "RuntimeError" in failures[0].__dict__["error"]


async def test_contacts_of_several_patients_in_one_request_as_each_alone_the_unknown_left_out(
    client: NatsBroker, seeded: dict[str, Patient]
) -> None:
    anna, juergen = seeded["anna"].id, seeded["juergen"].id
    reply = await ask(
        client,
        subjects.PATIENTS_CONTACTS,
        GetContacts(patient_ids=[anna, uuid.uuid4(), juergen, anna]),
        CONTACTS,
    )
    assert isinstance(reply, Contacts)
    assert set(reply.contacts) == {anna, juergen}
    for patient_id in (anna, juergen):
        alone = await ask(client, subjects.PATIENTS_CONTACT, GetContact(patient_id=patient_id), CONTACT)
        assert reply.contacts[patient_id] == alone
    assert reply.contacts[anna].phone == MUELLER.phone
