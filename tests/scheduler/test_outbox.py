"""The transactional outbox: events only for committed changes, and exactly once even when the relay
dies between publishing and marking."""

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

import pytest
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.contracts import subjects
from ignis.contracts.scheduling import AppointmentBooked
from ignis.kit.clock import utcnow
from ignis.kit.db import autocommit_sessionmaker, make_sessionmaker
from ignis.kit.outbox import OutboxRelay, add_event, forget_events
from ignis.kit.settings import Settings
from tests.conftest import received

pytestmark = pytest.mark.usefixtures("clean_database")


def booked_event() -> AppointmentBooked:
    start = dt.datetime(2030, 1, 7, 8, 0, tzinfo=dt.UTC)
    return AppointmentBooked(
        event_id=uuid.uuid4(),
        occurred_at=utcnow(),
        appointment_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        practitioner_id="weber",
        visit_type_id="akut",
        start=start,
        end=start + dt.timedelta(minutes=10),
    )


async def relay(engine: AsyncEngine, nats_url: str, batch: int = 100) -> OutboxRelay:
    # Autocommit sessions, as create_service gives the relay.
    sessions = autocommit_sessionmaker(make_sessionmaker(engine))
    started = OutboxRelay(sessions, "scheduler", Settings(nats_url=nats_url), batch=batch)
    await started.connect()
    return started


async def pending(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(
            await conn.scalar(text("SELECT count(*) FROM scheduler.outbox WHERE published_at IS NULL")) or 0
        )


class TestOutbox:
    async def test_relay_killed_after_publish_still_delivers_exactly_once(
        self, engine: AsyncEngine, nats_url: str, events: JetStreamContext, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        event = booked_event()
        async with AsyncSession(engine) as session, session.begin():
            await add_event(session, "scheduler", subjects.APPOINTMENT_BOOKED, event)

        dying = await relay(engine, nats_url)

        async def killed(*_: object) -> None:
            raise SystemExit("relay killed between publish and marking")

        monkeypatch.setattr(dying, "mark_published", killed)
        with pytest.raises(SystemExit):
            await dying.publish_pending()
        await dying.close()
        assert await pending(engine) == 1, "the row survives the crash"

        restarted = await relay(engine, nats_url)
        assert await restarted.publish_pending() == 1  # published again, with the same Nats-Msg-Id
        assert await restarted.publish_pending() == 0
        await restarted.close()

        messages = await received(events, expected=2, within_seconds=1.5)
        assert [json.loads(m.data)["event_id"] for m in messages] == [str(event.event_id)]
        assert messages[0].subject == subjects.APPOINTMENT_BOOKED

    async def test_rolled_back_change_publishes_nothing(
        self, engine: AsyncEngine, nats_url: str, events: JetStreamContext
    ) -> None:
        async with AsyncSession(engine) as session:
            await add_event(session, "scheduler", subjects.APPOINTMENT_BOOKED, booked_event())
            await session.rollback()
        running = await relay(engine, nats_url)
        assert await running.publish_pending() == 0
        await running.close()
        assert await received(events, expected=1, within_seconds=0.5) == []

    async def test_events_go_out_in_commit_order(
        self, engine: AsyncEngine, nats_url: str, events: JetStreamContext
    ) -> None:
        sent = [booked_event() for _ in range(5)]
        for event in sent:
            async with AsyncSession(engine) as session, session.begin():
                await add_event(session, "scheduler", subjects.APPOINTMENT_BOOKED, event)
        running = await relay(engine, nats_url)
        await running.publish_pending()
        await running.close()
        messages = await received(events, expected=5)
        assert [json.loads(m.data)["event_id"] for m in messages] == [str(e.event_id) for e in sent]

    async def test_no_transaction_is_open_while_publishing(
        self, engine: AsyncEngine, nats_url: str, events: JetStreamContext, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A slow NATS must not hold row locks or a transaction: handlers and erasures touch those rows."""
        event = booked_event()
        async with AsyncSession(engine) as session, session.begin():
            await add_event(session, "scheduler", subjects.APPOINTMENT_BOOKED, event)
        publish = JetStreamContext.publish
        open_elsewhere: list[int] = []

        async def slow_publish(js: JetStreamContext, *args: Any, **kwargs: Any) -> Any:
            async with engine.connect() as conn:
                await conn.execute(text("SET LOCAL lock_timeout = '200ms'"))
                # Waits for (and here fails on) a row lock the relay would hold across this round trip.
                await conn.execute(
                    text("UPDATE scheduler.outbox SET subject = subject WHERE event_id = :id"),
                    {"id": event.event_id},
                )
                open_elsewhere.append(
                    int(
                        await conn.scalar(
                            text(
                                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
                            )
                        )
                        or 0
                    )
                )
                await conn.rollback()
            return await publish(js, *args, **kwargs)

        monkeypatch.setattr(JetStreamContext, "publish", slow_publish)
        running = await relay(engine, nats_url)
        try:
            assert await running.publish_pending() == 1
        finally:
            await running.close()
        assert open_elsewhere == [0], "no transaction is open while the event is published"
        assert await pending(engine) == 0
        assert len(await received(events, expected=2, within_seconds=1.5)) == 1

    async def test_event_erased_while_being_published_leaves_the_stream(
        self, engine: AsyncEngine, nats_url: str, events: JetStreamContext, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The erasure no longer waits for the relay, so the relay takes back what it published meanwhile."""
        event = booked_event()
        async with AsyncSession(engine) as session, session.begin():
            await add_event(session, "scheduler", subjects.APPOINTMENT_BOOKED, event)
        publish = JetStreamContext.publish

        async def erased_meanwhile(js: JetStreamContext, *args: Any, **kwargs: Any) -> Any:
            ack = await publish(js, *args, **kwargs)
            async with AsyncSession(engine) as session, session.begin():
                await forget_events(session, "scheduler", "patient_id", str(event.patient_id))
            return ack

        monkeypatch.setattr(JetStreamContext, "publish", erased_meanwhile)
        running = await relay(engine, nats_url)
        try:
            assert await running.publish_pending() == 1
        finally:
            await running.close()
        assert await received(events, expected=1, within_seconds=0.5) == []

    async def test_two_relays_at_once_publish_every_event_exactly_once(
        self, engine: AsyncEngine, nats_url: str, events: JetStreamContext
    ) -> None:
        """Several replicas run a relay each: none loses an event, and the stream holds each once."""
        sent = [booked_event() for _ in range(40)]
        async with AsyncSession(engine) as session, session.begin():
            for event in sent:
                await add_event(session, "scheduler", subjects.APPOINTMENT_BOOKED, event)
        relays = [await relay(engine, nats_url, batch=7) for _ in range(2)]

        async def publish_all(running: OutboxRelay) -> None:
            while await running.publish_pending():
                pass

        try:
            await asyncio.gather(*(publish_all(running) for running in relays))
        finally:
            for running in relays:
                await running.close()
        assert await pending(engine) == 0
        messages = await received(events, expected=len(sent) + 1, within_seconds=1.5)
        published = sorted(json.loads(m.data)["event_id"] for m in messages)
        assert published == sorted(str(e.event_id) for e in sent)


async def test_published_events_leave_the_outbox_with_the_event_retention(
    engine: AsyncEngine, nats_url: str
) -> None:
    """Events name patients: once the stream has forgotten one, the outbox forgets it too."""
    rows = [
        ("old", "now() - interval '15 days'"),
        ("recent", "now() - interval '1 day'"),
        ("pending", "NULL"),
    ]
    async with engine.begin() as conn:
        for name, published in rows:
            await conn.execute(
                text(
                    "INSERT INTO scheduler.outbox (event_id, subject, payload, published_at) "
                    f"VALUES (:id, :subject, :payload, {published})"
                ),
                {"id": uuid.uuid4(), "subject": subjects.APPOINTMENT_BOOKED, "payload": name.encode()},
            )
    running = await relay(engine, nats_url)  # IGNIS_EVENT_RETENTION_DAYS: 14
    try:
        assert await running.prune() == 1
    finally:
        await running.close()
    async with engine.connect() as conn:
        left = (await conn.execute(text("SELECT payload FROM scheduler.outbox ORDER BY payload"))).scalars()
        assert sorted(bytes(p) for p in left) == [b"pending", b"recent"]
