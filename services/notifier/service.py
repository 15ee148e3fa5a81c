"""What the notifier decides: which SMS an appointment event calls for, and when a reminder is due.

Deciding is separate from sending (`dispatcher`): an event is acknowledged once its messages are recorded,
so neither a slow provider nor a restart can lose or repeat one.
"""

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.contracts import subjects
from ignis.contracts.notifications import (
    ListMessages,
    MessageItem,
    MessagePage,
    MessageRetried,
    MessageStatus,
    RetryMessage,
)
from ignis.contracts.scheduling import AppointmentEvent, AppointmentRescheduled, AppointmentSlotOffered
from ignis.kit.clock import utcnow
from ignis.kit.errors import NotFound
from ignis.kit.logging import redacted_traceback
from ignis.kit.pagination import decode_cursor, encode_cursor
from ignis.notifier.errors import MessageConflict
from ignis.notifier.models import Message
from ignis.notifier.repository import NotifierRepository
from ignis.practice.config import Practice
from ignis.practice.sms import Template

# The SMS each appointment event sends at once.
IMMEDIATE = {
    subjects.APPOINTMENT_BOOKED: Template.confirmation,
    subjects.APPOINTMENT_RESCHEDULED: Template.reschedule,
    subjects.APPOINTMENT_CANCELLED: Template.cancellation,
}
# An event this old when it is first seen (a long outage, or a notifier deployed onto old history) sends
# no SMS: the caller heard the outcome on the phone, and a late text about it would only confuse.
STALE_AFTER = dt.timedelta(hours=24)


def idempotency_key(event_id: uuid.UUID, template: Template) -> str:
    return f"{event_id}:{template}"


Event = AppointmentEvent | AppointmentSlotOffered
logger = logging.getLogger("ignis.notifier.plan")


class Planner:
    """Plans the events the consumer handles at once together (a group commit): each handler hands its
    event over and learns, once committed, whether its event is recorded. `sessionmaker` gives autocommit
    sessions: planning a round of events is one statement (two when an appointment known before changed),
    each a transaction of its own, so a booking alone costs one round trip.

    Whoever holds the lock plans every event waiting, so a burst costs a statement per batch rather than
    per event, and one event alone waits for nothing. When a batch fails, each of its events is planned
    alone, so one that cannot be planned fails only its own delivery (redelivered, or dead-lettered)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        practice: Practice,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.practice = practice
        self.clock = clock
        self._lock = asyncio.Lock()
        self._waiting: list[tuple[str, Event, asyncio.Future[None]]] = []

    async def plan(self, subject: str, event: Event) -> None:
        """Return once the event's messages are committed; raise what planning it raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((subject, event, done))
        async with self._lock:
            if not done.done():
                await asyncio.sleep(0)  # the other deliveries fetched with this one join the batch
                batch, self._waiting = self._waiting, []
                try:
                    await self._plan_batch(batch)
                finally:
                    for *_, waiting in batch:  # cancelled meanwhile: not recorded, so redelivered
                        if not waiting.done():
                            waiting.set_exception(RuntimeError("planning was interrupted"))
        await done

    async def _plan_batch(self, batch: list[tuple[str, Event, "asyncio.Future[None]"]]) -> None:
        try:
            await self._commit([(subject, event) for subject, event, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                batch[0][2].set_exception(exc)
                return
            logger.warning(
                "a batch of events could not be planned; planning each alone",
                extra={"events": len(batch), "error": redacted_traceback(exc)},
            )
            for subject, event, done in batch:
                try:
                    await self._commit([(subject, event)])
                except Exception as exc:
                    done.set_exception(exc)
                else:
                    done.set_result(None)
            return
        for *_, done in batch:
            done.set_result(None)

    async def _commit(self, events: list[tuple[str, Event]]) -> None:
        async with self.sessionmaker() as session:
            await plan_many(NotifierRepository(session), self.practice, events, self.clock())


async def plan(
    repo: NotifierRepository, practice: Practice, subject: str, event: Event, now: dt.datetime
) -> None:
    """Record the SMS `event` calls for, idempotently: the same event twice records nothing new."""
    await plan_many(repo, practice, [(subject, event)], now)


async def plan_many(
    repo: NotifierRepository, practice: Practice, events: Sequence[tuple[str, Event]], now: dt.datetime
) -> None:
    """`plan` for several events, in their order, with one statement (or two) for each round of them: a round
    holds each appointment (or hold) once, so an appointment's later event comes in a later round and
    sees what the earlier one left, as it would one after the other."""
    rounds: list[list[tuple[str, Event]]] = []
    seen: dict[uuid.UUID, int] = {}  # appointment (or hold) → the round of its latest event so far
    for subject, event in events:
        key = event.hold_id if isinstance(event, AppointmentSlotOffered) else event.appointment_id
        index = seen[key] = seen.get(key, -1) + 1
        if index == len(rounds):
            rounds.append([])
        rounds[index].append((subject, event))
    for round_ in rounds:
        await _plan_round(repo, practice, round_, now)


async def _plan_round(
    repo: NotifierRepository, practice: Practice, events: list[tuple[str, Event]], now: dt.datetime
) -> None:
    """One statement records the round (its appointments and the messages each outcome calls for); a
    second withdraws the reminders of earlier versions, only when an appointment known before was kept
    (a booking is new, so it takes one round trip). Each is a transaction of its own: an event planned
    again after a crash between them (it was not acknowledged) is kept again, and withdraws then."""
    changes = [(subject, e) for subject, e in events if not isinstance(e, AppointmentSlotOffered)]
    rows: list[dict[str, object]] = []
    for subject, event in events:
        if isinstance(event, AppointmentSlotOffered):
            rows.append(_offer(event, now) | {"when_kept": None})
        else:  # what it records if it is the newest version of its appointment, and what if it is not
            rows += [row | {"when_kept": True} for row in _messages(practice, subject, event, True, now)]
            rows += [row | {"when_kept": False} for row in _messages(practice, subject, event, False, now)]
    kept = await repo.save_and_record(
        [
            {
                "id": e.appointment_id,
                "patient_id": e.patient_id,
                "start_at": e.start,
                "cancelled": subject == subjects.APPOINTMENT_CANCELLED,
                "event_id": e.event_id,
                "event_at": e.occurred_at,
                "version": e.version,
            }
            for subject, e in changes
        ],
        rows,
    )
    await repo.withdraw_reminders_of(
        [
            (
                e.appointment_id,
                e.event_id,
                "appointment cancelled" if subject == subjects.APPOINTMENT_CANCELLED else "appointment moved",
            )
            for subject, e in changes
            if kept.get(e.appointment_id) is False  # kept, and known before: earlier reminders may wait
        ]
    )


def _messages(
    practice: Practice, subject: str, event: AppointmentEvent, newest: bool, now: dt.datetime
) -> list[dict[str, object]]:
    """The messages a change of an appointment records (`newest`: no newer version of it is known)."""
    template = IMMEDIATE[subject]
    message: dict[str, object] = {
        "event_id": event.event_id,
        "appointment_id": event.appointment_id,
        "patient_id": event.patient_id,
        "practitioner_id": event.practitioner_id,
        "start_at": event.start,
        "previous_start_at": event.previous_start if isinstance(event, AppointmentRescheduled) else None,
    }
    if not newest:
        return [_skip(message, template, now, "superseded by a newer change of the appointment")]
    if now - event.occurred_at > STALE_AFTER:
        rows = [_skip(message, template, now, "event older than 24 hours when received")]
    else:
        rows = [_add(message, template, now)]
    reminder_hours = practice.sms.reminder_hours
    if subject == subjects.APPOINTMENT_CANCELLED or reminder_hours is None:
        return rows
    due = reminder_due(event.start, reminder_hours, practice)
    if due <= now:
        rows.append(_skip(message, Template.reminder, now, f"booked less than {reminder_hours} hours ahead"))
    else:
        rows.append(_add(message, Template.reminder, due))
    return rows


def _offer(event: AppointmentSlotOffered, now: dt.datetime) -> dict[str, object]:
    """A slot held for a patient on the waiting list: one SMS at once (the dispatcher asks for their consent
    right before sending), none once the hold has lapsed."""
    message: dict[str, object] = {
        "event_id": event.event_id,
        "appointment_id": event.hold_id,  # no appointment yet: the hold names it
        "patient_id": event.patient_id,
        "practitioner_id": event.practitioner_id,
        "start_at": event.start,
        "previous_start_at": None,
    }
    if event.expires_at <= now:
        return _skip(message, Template.waitlist_offer, now, "the hold lapsed before the SMS was planned")
    return _add(message, Template.waitlist_offer, now)


def _add(message: dict[str, object], template: Template, due: dt.datetime) -> dict[str, object]:
    """A message to send when `due` (each row sets the same columns, as one statement inserts them)."""
    key = idempotency_key(message["event_id"], template)  # type: ignore[arg-type]
    return message | {
        "idempotency_key": key,
        "template": template,
        "status": MessageStatus.pending,
        "due_at": due,
        "reason": None,
        "finished_at": None,
    }


def _skip(message: dict[str, object], template: Template, now: dt.datetime, reason: str) -> dict[str, object]:
    key = idempotency_key(message["event_id"], template)  # type: ignore[arg-type]
    return message | {
        "idempotency_key": key,
        "template": template,
        "status": MessageStatus.skipped,
        "due_at": now,
        "reason": reason,
        "finished_at": now,
    }


def reminder_due(start: dt.datetime, hours: int, practice: Practice) -> dt.datetime:
    """When to remind of an appointment at `start`: `hours` before it on the local wall clock (24 is the
    same time the day before, across a DST change too), moved earlier out of the quiet hours."""
    zone = ZoneInfo(practice.timezone)
    local = start.astimezone(zone).replace(tzinfo=None) - dt.timedelta(hours=hours)
    return before_quiet_hours(local, practice).replace(tzinfo=zone).astimezone(dt.UTC)


def in_quiet_hours(local: dt.time, practice: Practice) -> bool:
    quiet_from, quiet_until = practice.sms.quiet_from, practice.sms.quiet_until
    if quiet_from <= quiet_until:
        return quiet_from <= local < quiet_until
    return local >= quiet_from or local < quiet_until  # across midnight, the usual case


# How far before the quiet hours a reminder moved out of them goes, so a sender that is a little late
# still sends before they start.
QUIET_MARGIN = dt.timedelta(minutes=30)


def before_quiet_hours(local: dt.datetime, practice: Practice) -> dt.datetime:
    """`local` (naive, wall clock) if it is outside the quiet hours, else shortly before they began."""
    if not in_quiet_hours(local.time(), practice):
        return local
    began = dt.datetime.combine(local.date(), practice.sms.quiet_from)
    if began > local:  # after midnight: they began the evening before
        began -= dt.timedelta(days=1)
    return began - QUIET_MARGIN


def _item(message: Message) -> MessageItem:
    return MessageItem(
        message_id=message.id,
        appointment_id=message.appointment_id,
        patient_id=message.patient_id,
        template=message.template,
        status=MessageStatus(message.status),
        reason=message.reason,
        attempts=message.attempts,
        provider=message.provider,
        text=message.body,
        created_at=message.created_at,
        due_at=message.due_at,
        finished_at=message.finished_at,
    )


async def list_messages(repo: NotifierRepository, query: ListMessages) -> MessagePage:
    after = None
    if query.cursor:
        created, message_id = decode_cursor(query.cursor, dt.datetime.fromisoformat, uuid.UUID)
        after = (created, message_id)
    rows = await repo.messages(
        appointment_id=query.appointment_id,
        patient_id=query.patient_id,
        status=query.status,
        after=after,
        limit=query.limit + 1,
    )
    page = rows[: query.limit]
    more = len(rows) > query.limit
    return MessagePage(
        items=[_item(m) for m in page],
        next_cursor=encode_cursor(page[-1].created_at.isoformat(), page[-1].id) if more else None,
    )


async def retry_message(repo: NotifierRepository, cmd: RetryMessage, now: dt.datetime) -> MessageRetried:
    retried = await repo.retry(cmd.message_id, now)
    if retried is None:
        current = await repo.get(cmd.message_id)
        if current is None:
            raise NotFound("no such message")
        raise MessageConflict(f"only a failed message can be sent again; this one is {current.status}")
    return MessageRetried(message=_item(retried))
