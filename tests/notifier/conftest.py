"""The notifier on real NATS and Postgres, sending to the local sipgate fake, with a clock tests can move."""

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import pytest
from faststream import FastStream, TestApp
from nats.js import JetStreamContext
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ignis.contracts import subjects
from ignis.contracts.scheduling import AppointmentEvent
from ignis.kit.clock import utcnow
from ignis.kit.crypto import decrypt
from ignis.notifier.main import create_app as create_notifier
from ignis.notifier.settings import NotifierSettings
from tests.conftest import wait_until_serving
from tests.fakes import sipgate as fake
from tests.fakes.sipgate import FakeSipgate


@dataclass
class Clock:
    """The notifier's idea of now: real time unless a test sets it."""

    fixed: dt.datetime | None = None

    def __call__(self) -> dt.datetime:
        return self.fixed or utcnow()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def notifier_settings(
    nats_url: str, database_url: str, practice_file: Path, tmp_path: Path, sipgate: FakeSipgate
) -> NotifierSettings:
    return NotifierSettings(
        nats_url=nats_url,
        database_url=database_url,
        home=tmp_path,
        log_format="text",
        practice_file=practice_file,
        sms_provider="sipgate",
        sipgate_api_url=sipgate.url,
        sipgate_token_id=fake.TOKEN_ID,
        sipgate_token=SecretStr(fake.TOKEN),
        sms_timeout_seconds=0.5,
    )


async def forget_history(nats_url: str) -> None:
    """A fresh start for the notifier's consumer: no events of earlier tests, no position in the stream."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await js.purge_stream(subjects.EVENTS_STREAM)
        await js.delete_consumer(subjects.EVENTS_STREAM, subjects.NOTIFIER_APPOINTMENTS_CONSUMER)
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await js.delete_consumer(subjects.EVENTS_STREAM, subjects.NOTIFIER_REQUESTS_CONSUMER)
    await nc.close()


@pytest.fixture
async def notifier(
    notifier_settings: NotifierSettings, clock: Clock, services: None, nats_url: str
) -> AsyncIterator[FastStream]:
    """The notifier beside the patients and scheduler services (`services`), all committing for real."""
    await forget_history(nats_url)
    app = create_notifier(notifier_settings, clock=clock, poll_seconds=0.05)
    async with TestApp(app):
        await wait_until_serving(app.broker, "notifier")
        yield app


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    yield nc.jetstream()
    await nc.close()


async def publish(
    js: JetStreamContext, subject: str, event: AppointmentEvent, msg_id: str | None = None
) -> None:
    """As the scheduler's outbox relay does (a different `msg_id` gets past JetStream's dedupe)."""
    await js.publish(
        subject,
        event.model_dump_json().encode(),
        stream=subjects.EVENTS_STREAM,
        headers={"Nats-Msg-Id": msg_id or str(event.event_id)},
    )


async def messages(engine: AsyncEngine, **where: Any) -> list[dict[str, Any]]:
    """notifier.message rows, oldest first, the text decrypted (it is stored encrypted)."""
    clauses = " AND ".join(f"{column} = :{column}" for column in where) or "true"
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT * FROM notifier.message WHERE {clauses} ORDER BY created_at"), where
        )
        return [{**row._mapping, "body": decrypt(row.body) if row.body is not None else None} for row in rows]


async def settled(
    engine: AsyncEngine, count: int, within_seconds: float = 10.0, **where: Any
) -> list[dict[str, Any]]:
    """Wait until `count` messages (matching `where`) exist and none of them is still on its way."""
    deadline = asyncio.get_running_loop().time() + within_seconds
    while True:
        rows = await messages(engine, **where)
        done = [r for r in rows if r["status"] not in ("pending", "claimed", "sending")]
        if len(rows) >= count and len(done) == len(rows):
            return rows
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"messages not settled: {[(r['template'], r['status']) for r in rows]}")
        await asyncio.sleep(0.05)


def new_id() -> uuid.UUID:
    return uuid.uuid4()
