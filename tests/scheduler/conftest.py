"""The scheduler and patients services running for real (own engines, committed data wiped afterwards),
a gateway in front of them, and callers that are already verified."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from faststream import TestApp
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.gateway.settings import GatewaySettings
from ignis.patients.main import create_app as create_patients
from ignis.patients.repository import PatientRepository
from ignis.patients.service import utcnow
from ignis.patients.settings import PatientsSettings
from ignis.scheduler.main import create_app as create_scheduler
from ignis.scheduler.settings import SchedulerSettings
from tests.conftest import wait_until_serving
from tests.factories import MUELLER, Person, patient

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
async def caller(engine: AsyncEngine, services: None) -> Caller:
    return await verified_caller(engine)


@pytest.fixture
async def client(gateway: httpx.AsyncClient, services: None) -> httpx.AsyncClient:
    return gateway


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    """The production budget: 100 concurrent bookers queue behind the scheduler's workers."""
    return gateway_settings.model_copy(update={"tool_budget_seconds": 4.0})
