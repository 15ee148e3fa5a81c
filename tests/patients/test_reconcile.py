"""Reconciliation: a post-call webhook that never arrived loses no transcript, since the patients service
fetches every finished conversation without a call record from ElevenLabs (here: the fake, which never
delivers a webhook) and stores it through the same idempotent path."""

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from faststream import TestApp
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from ignis.cli.main import app, parse_since
from ignis.kit.clock import utcnow
from ignis.patients.main import create_app
from ignis.patients.models import Call
from ignis.patients.reconcile import reconcile
from ignis.patients.repository import PatientRepository
from ignis.patients.settings import PatientsSettings
from tests.fakes.elevenlabs import FakeElevenLabs

FIXTURES = Path(__file__).parents[1] / "fixtures" / "elevenlabs"
AGENT = "agent_ignis_test"


def conversation(conversation_id: str, hours_ago: float, agent_id: str = AGENT) -> dict[str, Any]:
    """The official post-call example's data, as ElevenLabs keeps the conversation."""
    data = json.loads((FIXTURES / "post_call_transcription.json").read_text())["data"]
    started = int((utcnow() - dt.timedelta(hours=hours_ago)).timestamp())
    data |= {"conversation_id": conversation_id, "agent_id": agent_id}
    data["analysis"]["transcript_summary"] = f"Termin verschoben ({conversation_id})."
    data["metadata"] |= {
        "start_time_unix_secs": started,
        "phone_call": {
            "type": "sip_trunking",
            "direction": "inbound",
            "phone_number_id": "phnum_x",
            "agent_number": "+49301234567",
            "external_number": "+4915123456789",
            "call_sid": "sid",
        },
    }
    return data


@pytest.fixture
def settings(patients_settings: PatientsSettings, elevenlabs: FakeElevenLabs) -> PatientsSettings:
    return patients_settings.model_copy(
        update={
            "elevenlabs_api_key": SecretStr(elevenlabs.api_key),
            "elevenlabs_api_url": elevenlabs.url,
            "elevenlabs_agent_id": AGENT,
        }
    )


async def records(session: AsyncSession) -> dict[str, Call]:
    return {c.conversation_id: c for c in (await session.execute(select(Call))).scalars()}


class TestReconcile:
    async def test_a_day_without_webhooks_loses_no_transcript(
        self,
        settings: PatientsSettings,
        elevenlabs: FakeElevenLabs,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        for hours, name in [(23, "conv_morning"), (2, "conv_noon"), (0.1, "conv_now")]:
            elevenlabs.add_conversation(conversation(name, hours))
        elevenlabs.add_conversation(conversation("conv_talking", 0), status="in-progress")
        elevenlabs.add_conversation(conversation("conv_last_week", 24 * 7))
        elevenlabs.add_conversation(conversation("conv_other_agent", 1, agent_id="agent_other"))

        result = await reconcile(sessionmaker, settings, utcnow() - dt.timedelta(days=1))
        assert result is not None
        assert (result.listed, result.missing, result.stored, result.unfinished) == (3, 3, 3, 1)
        stored = await records(session)
        assert set(stored) == {"conv_morning", "conv_noon", "conv_now"}
        call = stored["conv_noon"]
        assert call.summary == "Termin verschoben (conv_noon)."
        assert call.caller_number == "+4915123456789"
        assert call.transcript
        assert call.transcript[0]["role"] == "agent"

        elevenlabs.requests.clear()
        elevenlabs.responses.clear()
        again = await reconcile(sessionmaker, settings, utcnow() - dt.timedelta(days=1))
        assert again is not None
        assert (again.missing, again.stored) == (0, 0)
        assert [c.path for c in elevenlabs.requests] == ["/v1/convai/conversations"]  # nothing fetched

    async def test_a_call_that_has_a_record_is_not_fetched_and_an_erased_one_not_fetched_back(
        self,
        settings: PatientsSettings,
        elevenlabs: FakeElevenLabs,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        elevenlabs.add_conversation(conversation("conv_erased", 1))
        async with sessionmaker() as unit, unit.begin():
            await PatientRepository(unit).record_vendor_deletions(["conv_erased"], "erasure", utcnow())
        result = await reconcile(sessionmaker, settings, utcnow() - dt.timedelta(days=1))
        assert result is not None
        assert (result.listed, result.missing) == (1, 0)
        assert await records(session) == {}

    async def test_off_without_an_api_key(
        self, patients_settings: PatientsSettings, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        assert await reconcile(sessionmaker, patients_settings, utcnow()) is None


@pytest.mark.usefixtures("clean_database")
async def test_the_service_reconciles_on_its_own(
    settings: PatientsSettings, elevenlabs: FakeElevenLabs, engine: AsyncEngine
) -> None:
    elevenlabs.add_conversation(conversation("conv_missed", 5))
    async with TestApp(create_app(settings)):
        for _ in range(100):
            async with AsyncSession(engine) as session:
                if await records(session):
                    break
            await asyncio.sleep(0.1)
    async with AsyncSession(engine) as session:
        assert set(await records(session)) == {"conv_missed"}


@pytest.mark.usefixtures("clean_database")
async def test_reconcile_calls_command(
    settings: PatientsSettings, elevenlabs: FakeElevenLabs, engine: AsyncEngine, database_url: str
) -> None:
    elevenlabs.add_conversation(conversation("conv_weekend", 50))
    env = {
        "IGNIS_DATABASE_URL": database_url,
        "IGNIS_HOME": str(settings.home),
        "IGNIS_ELEVENLABS_API_KEY": elevenlabs.api_key,
        "IGNIS_ELEVENLABS_API_URL": elevenlabs.url,
        "IGNIS_ELEVENLABS_AGENT_ID": AGENT,
    }
    short = await asyncio.to_thread(CliRunner().invoke, app, ["reconcile-calls", "--since", "1d"], env=env)
    assert short.exit_code == 0, short.output
    assert "1 conversations" not in short.output
    assert "0 conversations, 0 without a call record, 0 stored" in short.output
    done = await asyncio.to_thread(CliRunner().invoke, app, ["reconcile-calls", "--since", "3d"], env=env)
    assert done.exit_code == 0, done.output
    assert "1 conversations, 1 without a call record, 1 stored" in done.output
    async with AsyncSession(engine) as session:
        assert set(await records(session)) == {"conv_weekend"}
    unset = env | {"IGNIS_ELEVENLABS_API_KEY": ""}
    off = await asyncio.to_thread(CliRunner().invoke, app, ["reconcile-calls"], env=unset)
    assert off.exit_code == 2
    assert "not configured" in off.output


def test_since() -> None:
    now = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
    assert parse_since("36h", now) == now - dt.timedelta(hours=36)
    assert parse_since("2d", now) == now - dt.timedelta(days=2)
    assert parse_since("2026-11-20", now) == dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    assert parse_since("2026-11-20T08:00+01:00", now) == dt.datetime(2026, 11, 20, 7, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="Invalid isoformat"):
        parse_since("yesterday", now)
