"""Real servers for the whole suite: a NATS with JetStream and a Postgres that the run starts itself.

`IGNIS_TEST_NATS_URL` / `IGNIS_TEST_DATABASE_URL` point the suite at servers of your own instead; the
dev stack's `IGNIS_NATS_URL` / `IGNIS_DATABASE_URL` are deliberately not used, so tests never answer
(or are answered by) a running `ignis up`.
"""

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import yaml
from faststream import TestApp
from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from ignis.cli.setup import migrate_all
from ignis.contracts import subjects
from ignis.contracts.base import Ping
from ignis.gateway.main import create_app as create_gateway
from ignis.gateway.settings import GatewaySettings
from ignis.kit.bus import ensure_streams, make_broker
from ignis.kit.clock import utcnow
from ignis.kit.crypto import new_data_key, use_data_keys
from ignis.kit.db import create_engine
from ignis.kit.embedded import EmbeddedPostgres, free_port, start_nats
from ignis.kit.settings import Settings
from ignis.patients.main import create_app as create_patients
from ignis.patients.repository import PatientRepository
from ignis.patients.settings import PatientsSettings
from ignis.scheduler.main import create_app as create_scheduler
from ignis.scheduler.settings import SchedulerSettings
from tests.factories import MUELLER, Person, patient
from tests.fakes.elevenlabs import FakeElevenLabs, running_fake_elevenlabs
from tests.fakes.sipgate import FakeSipgate, running_fake_sipgate
from tests.fhir_engine.engine import FhirEngine, running_engine
from tests.pii import assert_no_pii

# One data key for the whole run: every process of a test (and the test itself, reading rows) agrees on it,
# whichever IGNIS_HOME its settings name. Subprocesses inherit it.
TEST_DATA_KEYS = os.environ.setdefault("IGNIS_DATA_KEYS", new_data_key())
use_data_keys(TEST_DATA_KEYS)


async def wait_until_serving(broker: NatsBroker, service: str, within_seconds: float = 5.0) -> None:
    """A service's subscriptions reach the server asynchronously; wait until it answers its ping."""
    deadline = time.monotonic() + within_seconds
    while True:
        try:
            await broker.request(Ping(), subjects.ping(service), timeout=0.5)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.02)


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("IGNIS_TEST_NATS_URL"):
        yield url
        return
    url, process = start_nats(tmp_path_factory.mktemp("nats"), port=free_port())
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("IGNIS_TEST_DATABASE_URL"):
        yield url
        return
    server = EmbeddedPostgres(
        tmp_path_factory.mktemp("pg") / "data", database="ignis_test", delete_on_stop=True
    )
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def fhir_engine() -> Iterator[FhirEngine]:
    """Medplum's FHIR engine (fhir-router 4.5.2, in-memory repository) over HTTP on a free loopback port,
    started once per run, on first use (tests/fhir_engine)."""
    with running_engine() as engine:
        yield engine


@pytest.fixture
def fhir_url(fhir_engine: FhirEngine) -> Iterator[str]:
    """The engine's FHIR base for one test; the store is emptied (and the auth reset to none) afterwards."""
    yield fhir_engine.base_url
    fhir_engine.reset()


def other_database(url: str, name: str) -> str:
    """The URL of another database on the same server."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def drop_database(engine: AsyncEngine, name: str) -> None:
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate_all(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test, whatever it committed."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        yield conn
        await transaction.rollback()


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    # Each unit of work's commit() releases a savepoint; the outer transaction still rolls back.
    return async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


@pytest.fixture
async def clean_database(engine: AsyncEngine) -> AsyncIterator[None]:
    """For tests whose writes must really commit (several processes or connections): wipe afterwards."""
    yield
    await wipe(engine)


async def wipe(engine: AsyncEngine) -> None:
    """Every row the services wrote (the schema and its migrations stay)."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "TRUNCATE patients.patient, patients.verification, patients.identity_attempt, "
                "patients.identity_unlock, patients.call, patients.request, patients.outbox, "
                "patients.vendor_deletion, patients.fhir_patient, "
                "scheduler.appointment, scheduler.outbox, scheduler.waitlist_entry, scheduler.slot_hold, "
                "notifier.appointment, notifier.message, notifier.staff_alert, "
                "staff_app.account, staff_app.session, staff_app.audit CASCADE"
            )
        )


@pytest.fixture
def patients_settings(nats_url: str, database_url: str, tmp_path: Path) -> PatientsSettings:
    return PatientsSettings(nats_url=nats_url, database_url=database_url, home=tmp_path, log_format="text")


# Open every day from 07:00 to 20:00, so tests find slots whatever day they run on.
EVERY_DAY = ["07:00-12:00", "13:00-20:00"]
TEST_PRACTICE = {
    "name": "Testpraxis",
    "address": {"street": "Teststraße 1", "postal_code": "10115", "city": "Berlin"},
    "phone": "+49 30 1234567",
    "bundesland": "BE",
    "opening_hours": dict.fromkeys(["mo", "di", "mi", "do", "fr", "sa", "so"], EVERY_DAY),
    "practitioners": [
        {
            "id": "weber",
            "name": "Dr. Weber",
            "hours": dict.fromkeys(["mo", "di", "mi", "do", "fr", "sa", "so"], EVERY_DAY),
        },
        {
            "id": "yilmaz",
            "name": "Dr. Yilmaz",
            "hours": dict.fromkeys(["mo", "di", "mi", "do", "fr", "sa", "so"], EVERY_DAY),
        },
    ],
    "visit_types": [
        {"id": "akut", "name": "Akutsprechstunde", "minutes": 10},
        {"id": "vorsorge", "name": "Vorsorgeuntersuchung", "minutes": 30, "practitioners": ["weber"]},
    ],
    "booking": {"min_notice_minutes": 60, "horizon_days": 60, "grid_minutes": 5, "cancel_until_hours": 24},
}


@pytest.fixture
def practice_file(tmp_path: Path) -> Path:
    path = tmp_path / "practice.yaml"
    path.write_text(yaml.safe_dump(TEST_PRACTICE, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
async def services(
    nats_url: str,
    database_url: str,
    practice_file: Path,
    tmp_path: Path,
    engine: AsyncEngine,
    clean_database: None,
) -> AsyncIterator[None]:
    """Both services with their own engines: bookings really commit (concurrency needs it)."""
    common = {"nats_url": nats_url, "database_url": database_url, "home": tmp_path, "log_format": "text"}
    patients = create_patients(PatientsSettings(**common))
    scheduler = create_scheduler(SchedulerSettings(**common, practice_file=practice_file))
    async with TestApp(patients), TestApp(scheduler):
        await wait_until_serving(patients.broker, "scheduler")
        await wait_until_serving(patients.broker, "patients")
        yield


TOOL_SECRET = "test-tool-secret"
WEBHOOK_SECRET = "test-webhook-secret"
METRICS_TOKEN = "test-metrics-token"
HEADERS = {"X-Ignis-Tool-Secret": TOOL_SECRET}
METRICS_HEADERS = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture
def gateway_settings(nats_url: str, tmp_path: Path) -> GatewaySettings:
    return GatewaySettings(
        nats_url=nats_url,
        home=tmp_path,
        tool_secret=SecretStr(TOOL_SECRET),
        elevenlabs_webhook_secret=SecretStr(WEBHOOK_SECRET),
        metrics_token=SecretStr(METRICS_TOKEN),
        tool_budget_seconds=0.5,
        readiness_timeout_seconds=2.0,
        log_format="text",
    )


@pytest.fixture
async def gateway(gateway_settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app on the real NATS, driven through HTTP in-process."""
    app = create_gateway(gateway_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


@pytest.fixture(autouse=True)
def _no_pii_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail any test during which a patient's name, birth date or phone number reached a log record."""
    caplog.set_level(logging.DEBUG)
    yield
    assert_no_pii(caplog.records)


@pytest.fixture
async def events(nats_url: str) -> AsyncIterator[JetStreamContext]:
    """JetStream, with the event stream emptied so a test sees only its own events."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await js.purge_stream(subjects.EVENTS_STREAM)
    yield js
    await nc.close()


async def own_stream(nats_url: str, stream: str, subject_filter: str) -> None:
    """A stream of a test's own (on `subject_filter`), besides the dead-letter stream that settle uses."""
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().add_stream(name=stream, subjects=[subject_filter])
    finally:
        await nc.close()
    await ensure_streams(Settings(nats_url=nats_url), [subjects.DEAD_LETTER_STREAM])


async def received(js: JetStreamContext, expected: int, within_seconds: float = 5) -> list[Msg]:
    """Up to `expected` events from the start of the stream (acked), waiting at most `within_seconds`."""
    subscription = await js.pull_subscribe(
        subjects.EVENTS_SUBJECTS, durable=None, stream=subjects.EVENTS_STREAM
    )
    messages = []
    deadline = asyncio.get_running_loop().time() + within_seconds
    while len(messages) < expected and asyncio.get_running_loop().time() < deadline:
        with contextlib.suppress(TimeoutError):
            messages += await subscription.fetch(expected - len(messages), timeout=0.5)
    for message in messages:
        await message.ack()
        payload = json.loads(message.data)
        assert "reason" not in payload
        uuid.UUID(payload["event_id"])
    await subscription.unsubscribe()
    return messages


@dataclass
class Caller:
    conversation_id: str
    patient_ref: str
    patient_id: uuid.UUID

    def body(self, **fields: object) -> dict[str, object]:
        return {"conversation_id": self.conversation_id, "patient_ref": self.patient_ref, **fields}


async def verified_caller(engine: AsyncEngine, person: Person = MUELLER) -> Caller:
    """A patient identified in a conversation of their own, as identify_patient would leave it."""
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        repo = PatientRepository(session)
        added = await repo.add(patient(person))
        conversation = f"conv-{uuid.uuid4().hex[:8]}"
        ref = await repo.issue_ref(
            conversation, added.id, f"pr_{uuid.uuid4().hex}", utcnow().replace(year=2100)
        )
    return Caller(conversation, ref, added.id)


@pytest.fixture
async def client(gateway: httpx.AsyncClient, services: None) -> httpx.AsyncClient:
    return gateway


@pytest.fixture(scope="session")
async def elevenlabs_server() -> AsyncIterator[FakeElevenLabs]:
    async with running_fake_elevenlabs() as server:
        yield server


@pytest.fixture
def elevenlabs(elevenlabs_server: FakeElevenLabs) -> Iterator[FakeElevenLabs]:
    """The ElevenLabs fake, empty: no secrets, tools, agents, webhooks, numbers or conversations."""
    elevenlabs_server.reset()
    yield elevenlabs_server
    elevenlabs_server.reset()


@pytest.fixture(scope="session")
async def sipgate_server() -> AsyncIterator[FakeSipgate]:
    async with running_fake_sipgate() as server:
        yield server


@pytest.fixture
def sipgate(sipgate_server: FakeSipgate) -> Iterator[FakeSipgate]:
    sipgate_server.reset()
    yield sipgate_server
    sipgate_server.reset()


@contextlib.asynccontextmanager
async def slow_replica(nats_url: str, subject: str, service: str) -> AsyncIterator[None]:
    """A replica of `service` that takes 3 s to answer `subject`: longer than any budget under test."""
    broker = make_broker(nats_url, f"slow-{service}")

    @broker.subscriber(subject, queue=subjects.queue(service))
    async def slow(_: Any) -> dict[str, Any]:
        await asyncio.sleep(3)
        return {}

    await broker.start()
    try:
        yield
    finally:
        await broker.stop()
