"""What the notifier decides: which SMS an appointment event calls for, and when a reminder is due.

Deciding is separate from sending (`dispatcher`): an event is acknowledged once its messages are recorded,
so neither a slow provider nor a restart can lose or repeat one.
"""

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

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
from ignis.kit.errors import NotFound
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


async def plan(
    repo: NotifierRepository,
    practice: Practice,
    subject: str,
    event: AppointmentEvent | AppointmentSlotOffered,
    now: dt.datetime,
) -> None:
    """Record the SMS `event` calls for, idempotently: the same event twice records nothing new."""
    if isinstance(event, AppointmentSlotOffered):
        await _offer(repo, event, now)
        return
    template = IMMEDIATE[subject]
    message = {
        "event_id": event.event_id,
        "appointment_id": event.appointment_id,
        "patient_id": event.patient_id,
        "practitioner_id": event.practitioner_id,
        "start_at": event.start,
        "previous_start_at": event.previous_start if isinstance(event, AppointmentRescheduled) else None,
    }
    cancelled = subject == subjects.APPOINTMENT_CANCELLED
    newest = await repo.save_appointment(
        id=event.appointment_id,
        patient_id=event.patient_id,
        start_at=event.start,
        cancelled=cancelled,
        event_id=event.event_id,
        event_at=event.occurred_at,
        version=event.version,
    )
    if not newest:
        await _skip(repo, message, template, now, "superseded by a newer change of the appointment")
        return
    await repo.withdraw_reminders(
        event.appointment_id,
        keep_event=event.event_id,
        reason="appointment cancelled" if cancelled else "appointment moved",
    )
    if now - event.occurred_at > STALE_AFTER:
        await _skip(repo, message, template, now, "event older than 24 hours when received")
    else:
        await _add(repo, message, template, now)
    reminder_hours = practice.sms.reminder_hours
    if cancelled or reminder_hours is None:
        return
    due = reminder_due(event.start, reminder_hours, practice)
    if due <= now:
        await _skip(repo, message, Template.reminder, now, f"booked less than {reminder_hours} hours ahead")
    else:
        await _add(repo, message, Template.reminder, due)


async def _offer(repo: NotifierRepository, event: AppointmentSlotOffered, now: dt.datetime) -> None:
    """A slot held for a patient on the waiting list: one SMS at once (the dispatcher asks for their consent
    right before sending), none once the hold has lapsed."""
    message = {
        "event_id": event.event_id,
        "appointment_id": event.hold_id,  # no appointment yet: the hold names it
        "patient_id": event.patient_id,
        "practitioner_id": event.practitioner_id,
        "start_at": event.start,
        "previous_start_at": None,
    }
    if event.expires_at <= now:
        await _skip(repo, message, Template.waitlist_offer, now, "the hold lapsed before the SMS was planned")
    else:
        await _add(repo, message, Template.waitlist_offer, now)


async def _add(
    repo: NotifierRepository, message: dict[str, object], template: Template, due: dt.datetime
) -> None:
    key = idempotency_key(message["event_id"], template)  # type: ignore[arg-type]
    await repo.add_message(
        **message, idempotency_key=key, template=template, status=MessageStatus.pending, due_at=due
    )


async def _skip(
    repo: NotifierRepository, message: dict[str, object], template: Template, now: dt.datetime, reason: str
) -> None:
    key = idempotency_key(message["event_id"], template)  # type: ignore[arg-type]
    await repo.add_message(
        **message,
        idempotency_key=key,
        template=template,
        status=MessageStatus.skipped,
        reason=reason,
        due_at=now,
        finished_at=now,
    )


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
