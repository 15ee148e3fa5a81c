"""The transactional outbox: events only for committed changes, and exactly once even when the relay
dies between publishing and marking."""

import datetime as dt
import json
import uuid

import pytest
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.contracts import subjects
from ignis.contracts.scheduling import AppointmentBooked
from ignis.kit.db import make_sessionmaker
from ignis.kit.outbox import OutboxRelay, add_event
from ignis.kit.settings import Settings
from tests.conftest import received

pytestmark = pytest.mark.usefixtures("clean_database")


def booked_event() -> AppointmentBooked:
    start = dt.datetime(2030, 1, 7, 8, 0, tzinfo=dt.UTC)
    return AppointmentBooked(
        event_id=uuid.uuid4(),
        occurred_at=dt.datetime.now(dt.UTC),
        appointment_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        practitioner_id="weber",
        visit_type_id="akut",
        start=start,
        end=start + dt.timedelta(minutes=10),
    )


async def relay(engine: AsyncEngine, nats_url: str) -> OutboxRelay:
    started = OutboxRelay(make_sessionmaker(engine), "scheduler", Settings(nats_url=nats_url))
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
