"""A patient's conversations also go at ElevenLabs: on erasure and when their call records expire, best
effort, recorded, and retried while ElevenLabs fails; the local erasure never waits for it."""

import datetime as dt
import uuid

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ignis.cli.erasure import STREAMS, Removed, erase_everywhere
from ignis.kit.bus import ensure_streams
from ignis.kit.clock import utcnow
from ignis.kit.settings import Settings
from ignis.patients import vendor
from ignis.patients.models import Call
from ignis.patients.repository import PatientRepository
from ignis.patients.retention import purge_expired_calls
from tests.factories import GROSS, MUELLER, patient
from tests.fakes.elevenlabs import FakeElevenLabs


@pytest.fixture
def settings(elevenlabs: FakeElevenLabs) -> Settings:
    return Settings(elevenlabs_api_key=SecretStr(elevenlabs.api_key), elevenlabs_api_url=elevenlabs.url)


def at_elevenlabs(elevenlabs: FakeElevenLabs, *conversation_ids: str) -> None:
    for conversation_id in conversation_ids:
        elevenlabs.add_conversation(
            {"conversation_id": conversation_id, "agent_id": "agent_x", "transcript": []}
        )


def record(conversation_id: str, patient_id: uuid.UUID | None = None, **fields: object) -> Call:
    later = utcnow() + dt.timedelta(days=9)
    return Call(
        conversation_id=conversation_id,
        kind="post_call_transcription",
        patient_id=patient_id,
        retain_until=fields.pop("retain_until", later),
        **fields,
    )


@pytest.mark.usefixtures("clean_database")
class TestErasure:
    async def erase(
        self, engine: AsyncEngine, database_url: str, nats_url: str, settings: Settings
    ) -> tuple[uuid.UUID, Removed | None]:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            repo = PatientRepository(session)
            anna, juergen = await repo.add(patient(MUELLER)), await repo.add(patient(GROSS))
            await repo.issue_ref("conv-anna", anna.id, "pr-anna", utcnow() + dt.timedelta(hours=1))
            await repo.add_call(record("conv-anna", anna.id))
            await repo.add_call(record("conv-unverified", caller_number=MUELLER.phone))
            await repo.add_call(record("conv-juergen", juergen.id))
        await ensure_streams(Settings(nats_url=nats_url), STREAMS)
        removed = await erase_everywhere(database_url, nats_url, anna.id, 1.0, elevenlabs=settings)
        return anna.id, removed

    async def test_erasure_deletes_her_conversations_there_and_nothing_else(
        self,
        engine: AsyncEngine,
        database_url: str,
        nats_url: str,
        settings: Settings,
        elevenlabs: FakeElevenLabs,
    ) -> None:
        at_elevenlabs(elevenlabs, "conv-anna", "conv-unverified", "conv-juergen")
        _, removed = await self.erase(engine, database_url, nats_url, settings)
        assert removed is not None
        assert removed["elevenlabs"] == "2 deleted, 0 failed/pending"
        assert sorted(elevenlabs.deleted_conversations) == ["conv-anna", "conv-unverified"]
        assert list(elevenlabs.conversations) == ["conv-juergen"]

    async def test_a_failed_deletion_stays_pending_and_is_retried(
        self,
        engine: AsyncEngine,
        database_url: str,
        nats_url: str,
        settings: Settings,
        elevenlabs: FakeElevenLabs,
    ) -> None:
        at_elevenlabs(elevenlabs, "conv-anna", "conv-unverified")
        elevenlabs.fail_next(503)
        _, removed = await self.erase(engine, database_url, nats_url, settings)
        assert removed is not None
        assert removed["patients"] == {
            "calls": 2,
            "requests": 0,
            "verifications": 1,
            "identity_attempts": 0,
            "patient": 1,
        }
        assert removed["elevenlabs"] == "1 deleted, 1 failed/pending"
        async with AsyncSession(engine) as session:
            assert len(await PatientRepository(session).pending_vendor_deletions()) == 1

        sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        assert await vendor.delete_conversations(sessionmaker, settings) == vendor.Deleted(1, 0)
        assert elevenlabs.conversations == {}
        assert await vendor.delete_conversations(sessionmaker, settings) == vendor.Deleted(0, 0)


async def test_expired_call_records_go_at_elevenlabs_too(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, elevenlabs: FakeElevenLabs
) -> None:
    at_elevenlabs(elevenlabs, "conv-old", "conv-young")
    async with sessionmaker() as session, session.begin():
        repo = PatientRepository(session)
        await repo.add_call(record("conv-old", retain_until=utcnow() - dt.timedelta(minutes=1)))
        await repo.add_call(record("conv-young"))
        assert await purge_expired_calls(repo, utcnow()) == 1
    assert await vendor.delete_conversations(sessionmaker, settings) == vendor.Deleted(1, 0)
    assert elevenlabs.deleted_conversations == ["conv-old"]


async def test_not_configured(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    assert await vendor.delete_conversations(sessionmaker, Settings(_env_file=None)) is None
