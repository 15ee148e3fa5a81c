"""FHIR record mode: each SMS the notifier sends is a `Communication` (medium SMS) on the practice's server,
written once, after the SMS went out; a server that is away delays it, it neither loses nor doubles it."""

import asyncio
import datetime as dt
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from faststream import TestApp
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ignis.contracts import subjects
from ignis.contracts.notifications import SetSmsConsent, SmsConsentSet
from ignis.fhir import codes
from ignis.fhir.client import FhirClient, FhirUnavailable, Resource, token
from ignis.kit.bus import make_broker
from ignis.notifier import fhir_sync
from ignis.notifier.main import create_app as create_notifier
from ignis.notifier.models import Message
from ignis.notifier.settings import NotifierSettings
from tests.conftest import Caller, wait_until_serving
from tests.factories import MUELLER
from tests.fakes import sipgate as fake
from tests.fakes.sipgate import FakeSipgate
from tests.fhir.conftest import on_server
from tests.fhir.test_scheduling import fhir_caller
from tests.fhir_engine.engine import FhirEngine
from tests.notifier.conftest import forget_history, settled
from tests.scheduler.test_booking import in_three_days, offered, tool


@pytest.fixture
async def notifier(
    nats_url: str,
    database_url: str,
    practice_file: Path,
    tmp_path: Path,
    sipgate: FakeSipgate,
    fhir_url: str,
    fhir_services: None,
) -> AsyncIterator[None]:
    """The notifier in FHIR record mode beside patients and scheduler in that mode, sending to the sipgate
    fake."""
    await forget_history(nats_url)
    settings = NotifierSettings(
        nats_url=nats_url,
        database_url=database_url,
        home=tmp_path,
        log_format="text",
        practice_file=practice_file,
        sms_provider="sipgate",
        sipgate_api_url=sipgate.url,
        sipgate_token_id=fake.TOKEN_ID,
        sipgate_token=SecretStr(fake.TOKEN),
        records="fhir",
        fhir_url=fhir_url,
        fhir_timeout_seconds=20.0,
    )
    app = create_notifier(settings, poll_seconds=0.05)
    async with TestApp(app):
        await wait_until_serving(app.broker, "notifier")
        yield


async def consent_to_sms(nats_url: str, caller: Caller) -> None:
    """As the staff app records it (a Consent on the server, in this mode)."""
    bus = make_broker(nats_url, "test-client")
    await bus.start()
    try:
        reply = await bus.request(
            SetSmsConsent(patient_id=caller.patient_id, sms_consent=True),
            subjects.PATIENTS_SMS_CONSENT,
            timeout=20,
        )
        assert SmsConsentSet.model_validate_json(reply.body).sms_consent
    finally:
        await bus.stop()


async def communications(fhir: FhirClient, patient: Resource) -> list[Resource]:
    return await fhir.search(
        "Communication",
        {"subject": f"Patient/{patient['id']}", "medium": token(codes.PARTICIPATION_MODE, "SMSWRIT")},
    )


async def communications_once(
    fhir: FhirClient, patient: Resource, count: int, within_seconds: float = 10
) -> list[Resource]:
    deadline = asyncio.get_running_loop().time() + within_seconds
    while len(found := await communications(fhir, patient)) < count:
        assert asyncio.get_running_loop().time() < deadline, (
            f"no {count} Communication within {within_seconds}s"
        )
        await asyncio.sleep(0.1)
    return found


async def test_a_confirmation_sms_is_one_communication_for_the_patient(
    gateway: httpx.AsyncClient,
    notifier: None,
    nats_url: str,
    engine: AsyncEngine,
    fhir: FhirClient,
    sipgate: FakeSipgate,
) -> None:
    caller = await fhir_caller(engine, fhir)
    [patient] = await fhir.search("Patient", {"birthdate": MUELLER.birth_date.isoformat()})
    await consent_to_sms(nats_url, caller)
    slot = (await offered(gateway, caller, earliest=in_three_days()))[0]

    booked = await tool(gateway, "book_appointment", caller.body(slot_id=slot["slot_id"]))
    [message] = await settled(engine, 1, template="confirmation")
    [communication] = await communications_once(fhir, patient, 1)
    await asyncio.sleep(0.5)  # a few more rounds of the writer: still one

    assert booked["code"] == "booked"
    assert message["status"] == "sent"
    [sms] = sipgate.sent
    assert communication["status"] == "completed"
    assert communication["identifier"] == [{"system": codes.IGNIS_SMS, "value": str(message["id"])}]
    assert communication["medium"][0]["coding"][0] == {"system": codes.PARTICIPATION_MODE, "code": "SMSWRIT"}
    assert communication["recipient"] == [{"reference": f"Patient/{patient['id']}"}]
    assert communication["payload"] == [{"contentString": sms["message"]}]
    appointment = {"system": codes.IGNIS_APPOINTMENT, "value": booked["appointment"]["appointment_id"]}
    assert communication["about"] == [{"identifier": appointment}]
    assert dt.datetime.fromisoformat(communication["sent"]) == message["finished_at"]
    assert len(await communications(fhir, patient)) == 1


async def sent_sms(sessionmaker: async_sessionmaker[AsyncSession], patient: Resource) -> Message:
    """A confirmation the notifier sent in FHIR record mode, its Communication not written yet."""
    now = dt.datetime.now(dt.UTC)
    message = Message(
        idempotency_key=f"{uuid.uuid4()}:confirmation",
        event_id=uuid.uuid4(),
        template="confirmation",
        appointment_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        practitioner_id="weber",
        start_at=now + dt.timedelta(days=3),
        status="sent",
        due_at=now,
        attempts=1,
        provider="sipgate",
        provider_status=204,
        body="Praxis Dr. Weber: Ihr Termin ist bestätigt.",
        finished_at=now,
        fhir_patient_id=patient["id"],
    )
    async with sessionmaker() as session, session.begin():
        session.add(message)
    return message


async def test_a_server_that_is_away_delays_the_communication_and_loses_nothing(
    fhir_engine: FhirEngine,
    fhir_url: str,
    fhir: FhirClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    [patient] = await on_server(fhir, MUELLER)
    message = await sent_sms(sessionmaker, patient)
    async with FhirClient(fhir_url, timeout_seconds=0.5) as writer:
        fhir_engine.process.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(FhirUnavailable):
                await fhir_sync.sync_once(sessionmaker, writer)
        finally:
            fhir_engine.process.send_signal(signal.SIGCONT)

        assert await fhir_sync.sync_once(sessionmaker, writer) == 1
        assert await fhir_sync.sync_once(sessionmaker, writer) == 0  # written once, then nothing left
    [communication] = await communications(fhir, patient)
    assert communication["identifier"] == [{"system": codes.IGNIS_SMS, "value": str(message.id)}]
    assert communication["payload"] == [{"contentString": message.body}]


async def test_a_write_repeated_after_a_crash_makes_no_second_communication(
    fhir: FhirClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    [patient] = await on_server(fhir, MUELLER)
    message = await sent_sms(sessionmaker, patient)
    assert await fhir_sync.sync_once(sessionmaker, fhir) == 1
    async with sessionmaker() as session, session.begin():
        await session.execute(
            text("UPDATE notifier.message SET fhir_written_at = NULL WHERE id = :id"), {"id": message.id}
        )

    assert await fhir_sync.sync_once(sessionmaker, fhir) == 1  # written again ...
    assert len(await communications(fhir, patient)) == 1  # ... and still one on the server
    assert await fhir_sync.sync_once(sessionmaker, fhir) == 0


async def test_an_sms_of_ignis_record_mode_is_not_written(
    fhir: FhirClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    [patient] = await on_server(fhir, MUELLER)
    message = await sent_sms(sessionmaker, patient)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            text("UPDATE notifier.message SET fhir_patient_id = NULL WHERE id = :id"), {"id": message.id}
        )

    assert await fhir_sync.sync_once(sessionmaker, fhir) == 0
    assert await communications(fhir, patient) == []
