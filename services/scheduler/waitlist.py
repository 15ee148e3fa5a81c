"""The waiting list: callers wait for a visit type; a slot that a cancellation or move frees is held for
the first one it fits and offered by SMS (an `appointment.slot_offered` event through the outbox, in the
same transaction as the change that freed it: offered exactly once), and first when they call.

An entry is offered one slot; after that it leaves the queue (the SMS asked them to call). A hold that
lapses leaves the slot free for everyone.
"""

import datetime as dt
import uuid
from collections.abc import Callable

from ignis.contracts import subjects
from ignis.contracts.scheduling import (
    AppointmentSlotOffered,
    JoinWaitlist,
    ListWaitlist,
    SlotOffer,
    WaitlistItem,
    WaitlistJoined,
    WaitlistPage,
)
from ignis.kit.pagination import decode_cursor, encode_cursor
from ignis.practice.config import VisitType
from ignis.scheduler.calendar import Calendar
from ignis.scheduler.models import SlotHold, WaitlistEntry
from ignis.scheduler.records import Records
from ignis.scheduler.repository import Holds
from ignis.scheduler.rules import Patient
from ignis.scheduler.slots import Slot, spoken_slot

# How a slot is offered to the caller (`service.offer`).
Describe = Callable[[Slot], SlotOffer]


async def join(
    records: Records,
    calendar: Calendar,
    cmd: JoinWaitlist,
    patient: Patient,
    visit_type: VisitType,
    practitioner_id: str | None,
) -> WaitlistJoined:
    """The caller's entry (the same one again for a repeated call in this conversation)."""
    entry = await records.own.add_waitlist_entry(
        WaitlistEntry(
            id=uuid.uuid4(),
            patient_id=patient.id,
            visit_type_id=visit_type.id,
            practitioner_id=practitioner_id,
            earliest=cmd.earliest,
            latest=cmd.latest,
            conversation_id=cmd.conversation_id,
            idempotency_key=f"{cmd.conversation_id}:{visit_type.id}",
        )
    )
    return WaitlistJoined(
        entry_id=str(entry.id),
        visit_type=visit_type.name,
        position=await records.own.waiting_position(entry),
        hold_minutes=calendar.practice.booking.waitlist_hold_minutes,
    )


def _fits(calendar: Calendar, entry: WaitlistEntry, freed: Slot, now: dt.datetime) -> Slot | None:
    """The slot of the entry's visit type that starts where `freed` started, if the entry wants it."""
    visit_type = calendar.practice.visit_type(entry.visit_type_id)
    if visit_type is None or entry.practitioner_id not in (None, freed.practitioner_id):
        return None
    day = freed.start.astimezone(calendar.zone).date()
    if (entry.earliest and day < entry.earliest) or (entry.latest and day > entry.latest):
        return None
    slot = Slot(
        freed.practitioner_id,
        visit_type.id,
        freed.start,
        freed.start + dt.timedelta(minutes=visit_type.minutes),
    )
    return slot if calendar.is_bookable(slot, now) else None


async def offer_freed(
    records: Records, calendar: Calendar, freed: Slot, freed_by: uuid.UUID, now: dt.datetime
) -> None:
    """Hold the freed slot for the first waiting patient it fits, and announce it for the SMS."""
    offering = [v.id for v in calendar.practice.visit_types if freed.practitioner_id in _ids(calendar, v)]
    for entry in await records.own.waiting_for(offering):
        if entry.patient_id == freed_by:
            continue
        slot = _fits(calendar, entry, freed, now)
        holds = Holds(now, entry.patient_id)
        if slot is None or not await records.is_free(slot.practitioner_id, slot.start, slot.end, holds=holds):
            continue
        expires = now + dt.timedelta(minutes=calendar.practice.booking.waitlist_hold_minutes)
        hold = SlotHold(
            id=uuid.uuid4(),
            entry_id=entry.id,
            patient_id=entry.patient_id,
            practitioner_id=slot.practitioner_id,
            visit_type_id=slot.visit_type_id,
            start_at=slot.start,
            end_at=slot.end,
            expires_at=expires,
        )
        await records.own.add_hold(hold)
        entry.status = "offered"
        event = AppointmentSlotOffered(
            event_id=uuid.uuid4(),
            occurred_at=now,
            hold_id=hold.id,
            patient_id=entry.patient_id,
            practitioner_id=slot.practitioner_id,
            visit_type_id=slot.visit_type_id,
            start=slot.start,
            end=slot.end,
            expires_at=expires,
        )
        await records.own.add_event(subjects.APPOINTMENT_SLOT_OFFERED, event)
        return


def _ids(calendar: Calendar, visit_type: VisitType) -> list[str]:
    return [p.id for p in calendar.practice.offering(visit_type)]


def held_offers(
    held: list[Slot], calendar: Calendar, visit_type: VisitType, now: dt.datetime, describe: Describe
) -> list[SlotOffer]:
    """The slots `held` for the caller (`WaitlistRepository.holds_of`) for `visit_type`, still bookable:
    offered before any other."""
    return [
        describe(slot).model_copy(update={"held": True})
        for slot in held
        if slot.visit_type_id == visit_type.id and calendar.is_bookable(slot, now)
    ]


async def staff_list(
    records: Records, calendar: Calendar, query: ListWaitlist, now: dt.datetime
) -> WaitlistPage:
    after = None
    if query.cursor:
        stamp, key = decode_cursor(query.cursor, dt.datetime.fromisoformat, uuid.UUID)
        after = (stamp, key)
    rows = await records.own.waitlist_page(query.limit + 1, after)
    page = rows[: query.limit]
    holds = await records.own.holds_for_entries([e.id for e in page], now)
    items = []
    for entry in page:
        visit_type = calendar.practice.visit_type(entry.visit_type_id)
        practitioner = (
            calendar.practice.practitioner(entry.practitioner_id) if entry.practitioner_id else None
        )
        hold = holds.get(entry.id)
        items.append(
            WaitlistItem(
                entry_id=str(entry.id),
                patient_id=str(entry.patient_id),
                visit_type=visit_type.name if visit_type else entry.visit_type_id,
                practitioner=practitioner.name if practitioner else entry.practitioner_id,
                earliest=entry.earliest,
                latest=entry.latest,
                status=entry.status,
                created_at=entry.created_at,
                held_slot=spoken_slot(
                    calendar, Slot(hold.practitioner_id, hold.visit_type_id, hold.start_at, hold.end_at)
                )
                if hold
                else None,
                held_until=hold.expires_at if hold else None,
            )
        )
    cursor = encode_cursor(page[-1].created_at.isoformat(), page[-1].id) if len(rows) > query.limit else None
    return WaitlistPage(items=items, next_cursor=cursor)
