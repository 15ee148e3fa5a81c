"""The scheduler and patients services running for real (own engines, committed data wiped afterwards),
a gateway in front of them, and callers that are already verified."""

import uuid
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.gateway.settings import GatewaySettings
from ignis.patients.repository import PatientRepository
from ignis.patients.service import utcnow
from tests.factories import MUELLER, Person, patient


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
