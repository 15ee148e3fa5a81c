"""Transactional outbox: an event is written in the same transaction as the change it reports, and a
relay publishes it to JetStream afterwards.

No event is lost when a process dies between commit and publish: the row stays until JetStream acked it.
None is duplicated when it dies between publish and marking: the event id is the `Nats-Msg-Id`, so
JetStream drops the second copy within its duplicate window (and consumers dedupe by event id beyond it).
Each service keeps the table `<schema>.outbox` (see its migrations).
"""

import asyncio
import contextlib
import logging
import uuid

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from prometheus_client import Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.contracts import subjects
from ignis.contracts.base import Event
from ignis.kit.bus import ensure_stream
from ignis.kit.rounds import in_rounds
from ignis.kit.settings import Settings

logger = logging.getLogger("ignis.outbox")

# Events committed but not yet in JetStream, and how long the oldest has waited: the relay's lag.
PENDING = Gauge("ignis_outbox_pending", "events committed but not yet published", ["service"])
LAG = Gauge("ignis_outbox_lag_seconds", "age of the oldest unpublished event", ["service"])

_DIRTY = "ignis.outbox.dirty"
# How often published events past the event retention are deleted; retention is counted in days.
PRUNE_EVERY_SECONDS = 3600.0


async def add_event(session: AsyncSession, schema: str, subject: str, event: Event) -> None:
    """Record `event` in the caller's unit of work; it is published only if that work commits."""
    await session.execute(
        text(
            f'INSERT INTO "{schema}".outbox (event_id, subject, payload) '
            "VALUES (:event_id, :subject, :payload)"
        ),
        event_row(subject, event),
    )
    events_added(session)


def event_row(subject: str, event: Event) -> dict[str, object]:
    """The outbox row of `event` as the parameters `:event_id`, `:subject`, `:payload`: also for a statement
    that writes it together with the change it reports (one round trip), which calls `events_added`."""
    return {"event_id": event.event_id, "subject": subject, "payload": event.model_dump_json().encode()}


def events_added(session: AsyncSession) -> None:
    """The unit of work wrote outbox rows: the relay is woken when it commits."""
    session.info[_DIRTY] = True


async def forget_events(session: AsyncSession, schema: str, field: str, value: str) -> int:
    """Delete the outbox rows (published or not) whose event has `field` = `value`, e.g. when the person they
    name is erased; how many. Their copies in the stream are the eraser's to delete."""
    result = await session.execute(
        text(
            f'DELETE FROM "{schema}".outbox '
            "WHERE convert_from(payload, 'UTF8')::jsonb ->> CAST(:field AS text) = :value"
        ),
        {"field": field, "value": value},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def has_new_events(session: AsyncSession) -> bool:
    return bool(session.info.get(_DIRTY))


class OutboxRelay:
    """Publishes a schema's pending outbox rows in commit order; one relay per service process is enough,
    and several are safe: each may publish a row another one is publishing too, and JetStream keeps the
    first copy (the event id is the `Nats-Msg-Id`).

    No transaction is open while publishing: the pending rows are read, published, then marked in a short
    transaction of their own, so a slow or unreachable NATS holds neither row locks nor a transaction
    (which would stall the handlers and erasures touching those rows, and vacuum). Each of its statements
    stands alone, so `create_service` gives it autocommit sessions (`kit.db.autocommit_sessionmaker`):
    a round after a commit is then two round trips (read, mark), not six.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        schema: str,
        settings: Settings,
        poll_seconds: float = 1.0,
        batch: int = 100,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.schema = schema
        self.settings = settings
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.wake = asyncio.Event()
        self._js: JetStreamContext | None = None
        self._nc: NATS | None = None

    async def connect(self) -> None:
        self._nc = await nats.connect(self.settings.nats, max_reconnect_attempts=-1, reconnect_time_wait=1)
        self._js = self._nc.jetstream()
        await ensure_stream(self._js, subjects.EVENTS_STREAM, self.settings)

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.drain()

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many events went out.

        What went out is marked even when a later publish fails, so that only the rest goes out again.
        """
        assert self._js is not None, "connect() first"
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(
                    text(
                        f'SELECT event_id, subject, payload FROM "{self.schema}".outbox '
                        "WHERE published_at IS NULL ORDER BY created_at, event_id LIMIT :batch"
                    ),
                    {"batch": self.batch},
                )
            ).all()
        sequences: dict[uuid.UUID, int] = {}
        try:
            for event_id, subject, payload in rows:
                ack = await self._js.publish(
                    subject,
                    bytes(payload),
                    stream=subjects.EVENTS_STREAM,
                    headers={"Nats-Msg-Id": str(event_id)},
                )
                sequences[event_id] = ack.seq
        finally:
            if sequences:
                await self.mark_published(sequences)
        return len(rows)

    async def mark_published(self, sequences: dict[uuid.UUID, int]) -> None:
        """Mark the published events (event id → stream sequence). One whose row is gone was erased
        (`forget_events`) while it was being published: its copy leaves the stream again."""
        assert self._js is not None, "connect() first"
        async with self.sessionmaker() as session, session.begin():
            kept = set(
                (
                    await session.execute(
                        text(
                            f'UPDATE "{self.schema}".outbox SET published_at = coalesce(published_at, now()) '
                            "WHERE event_id = ANY(:ids) RETURNING event_id"
                        ),
                        {"ids": list(sequences)},
                    )
                ).scalars()
            )
        for event_id, sequence in sequences.items():
            if event_id not in kept:
                with contextlib.suppress(NotFoundError):  # already deleted, e.g. by `ignis erase-patient`
                    await self._js.delete_msg(subjects.EVENTS_STREAM, sequence)

    async def prune(self) -> int:
        """Delete published events older than the event stream keeps them (`IGNIS_EVENT_RETENTION_DAYS`): they
        name patients, and the stream has forgotten them too. How many."""
        keep = self.settings.stream_max_age(subjects.EVENTS_STREAM).total_seconds()
        async with self.sessionmaker() as session, session.begin():
            result = await session.execute(
                text(
                    f'DELETE FROM "{self.schema}".outbox '
                    "WHERE published_at < now() - make_interval(secs => :keep)"
                ),
                {"keep": keep},
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def measure(self) -> None:
        async with self.sessionmaker() as session:
            count, age = (
                await session.execute(
                    text(
                        "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) "
                        f'FROM "{self.schema}".outbox WHERE published_at IS NULL'
                    )
                )
            ).one()
        PENDING.labels(self.schema).set(count)
        LAG.labels(self.schema).set(float(age))

    async def run(self) -> None:
        """Publish until cancelled: soon after a commit wakes it (`rounds`), else every `poll_seconds`."""

        loop = asyncio.get_running_loop()
        next_measure = next_prune = loop.time()

        async def publish_all() -> None:
            nonlocal next_measure, next_prune
            while await self.publish_pending() == self.batch:
                pass
            if loop.time() >= next_measure:  # gauges for a scrape: once a poll, not after every commit
                await self.measure()
                next_measure = loop.time() + self.poll_seconds
            if loop.time() >= next_prune:
                await self.prune()
                next_prune = loop.time() + PRUNE_EVERY_SECONDS

        await in_rounds(publish_all, self.wake, self.poll_seconds, "outbox relay")
