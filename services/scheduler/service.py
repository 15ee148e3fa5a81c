"""Business rules of the scheduler: offer free slots, book, move and cancel appointments, practice info.

Free slots are computed from the practice file (`calendar.py`) minus booked time; the database's
exclusion constraint, not this code, is what makes a double booking impossible. Every change writes its
event to the outbox in the same transaction.
"""

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Sequence

from ignis.contracts import subjects
from ignis.contracts.base import ErrorCode, ErrorReply
from ignis.contracts.scheduling import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentConfirmed,
    AppointmentInfo,
    AppointmentList,
    AppointmentRescheduled,
    BookAppointment,
    CancelAppointment,
    CancellationConfirmed,
    ChangeRequested,
    ClosureInfo,
    DayAppointment,
    DayAppointments,
    DayHours,
    FindSlots,
    GetPracticeInfo,
    JoinWaitlist,
    ListDayAppointments,
    NoSlotsFound,
    NotOffered,
    PracticeInfo,
    RescheduleAppointment,
    RescheduleConfirmed,
    SlotOffer,
    SlotsOffered,
    SlotTaken,
    VisitTypeInfo,
    VisitTypeUnknown,
    WaitlistJoined,
)
from ignis.kit.pagination import decode_cursor, encode_cursor
from ignis.language.spoken import WEEKDAY_NAMES, SpokenStyle, spoken_date, spoken_ranges
from ignis.language.text import fold
from ignis.practice.config import WEEKDAYS, Practitioner, VisitType
from ignis.scheduler import waitlist
from ignis.scheduler.calendar import Booked, Calendar, Slot, merge_busy, parse_slot_id, slot_id, spoken_slot
from ignis.scheduler.errors import (
    AppointmentNotFound,
    DuplicateBooking,
    InvalidSlot,
    SlotAlreadyTaken,
    TooLate,
)
from ignis.scheduler.models import Appointment
from ignis.scheduler.repository import AppointmentRepository, Holds
from ignis.scheduler.rules import Patient, refusal

# Busy time is read a day first, then a week, then the rest of the window at once: most searches end on
# their first day, and one through the whole horizon costs three reads (of integers, a row per practitioner).
CHUNKS = (dt.timedelta(days=1), dt.timedelta(days=7))
EMERGENCY = {"notruf": "112", "aerztlicher_bereitschaftsdienst": "116117"}


def _key(text: str) -> str:
    """Folded and without spaces or punctuation, so "Erst-Gespraech" finds "Erstgespräch"."""
    return "".join(filter(str.isalnum, fold(text)))


def resolve_visit_type(calendar: Calendar, wanted: str) -> VisitType | None:
    key = _key(wanted)
    for visit_type in calendar.practice.visit_types:
        if key in (_key(visit_type.id), _key(visit_type.name)):
            return visit_type
    matches = [v for v in calendar.practice.visit_types if key and key in _key(v.name)]
    return matches[0] if len(matches) == 1 else None


def resolve_practitioner(calendar: Calendar, wanted: str) -> Practitioner | None:
    key = _key(wanted.replace("Dr.", "").replace("dr.", ""))
    matches = [p for p in calendar.practice.practitioners if key and (key == p.id or key in _key(p.name))]
    return matches[0] if len(matches) == 1 else None


def _described(calendar: Calendar, slot: Slot) -> dict[str, object]:
    """How a slot or an appointment is told to the caller: local times, names and a spoken sentence."""
    return {
        "start": slot.start.astimezone(calendar.zone),
        "end": slot.end.astimezone(calendar.zone),
        "practitioner": _practitioner_name(calendar, slot.practitioner_id),
        "visit_type": _visit_type_name(calendar, slot.visit_type_id),
        "spoken": spoken_slot(calendar, slot),
    }


def offer(calendar: Calendar, slot: Slot) -> SlotOffer:
    return SlotOffer(slot_id=slot_id(slot), **_described(calendar, slot))


def appointment_info(calendar: Calendar, appointment: Appointment) -> AppointmentInfo:
    slot = Slot(
        appointment.practitioner_id, appointment.visit_type_id, appointment.start_at, appointment.end_at
    )
    return AppointmentInfo(appointment_id=str(appointment.id), **_described(calendar, slot))


def _practitioner_name(calendar: Calendar, practitioner_id: str) -> str:
    practitioner = calendar.practice.practitioner(practitioner_id)
    return practitioner.name if practitioner else practitioner_id


def _visit_type_name(calendar: Calendar, visit_type_id: str) -> str:
    visit_type = calendar.practice.visit_type(visit_type_id)
    return visit_type.name if visit_type else visit_type_id


def _local_day_start(calendar: Calendar, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=calendar.zone).astimezone(dt.UTC)


class BookedTime:
    """Booked time of the practitioners a request searches, read once and merged once: each read continues
    where the last one ended, so a find_slots that searches again from the same start (its fallback) reads
    only what it has not read yet."""

    def __init__(self, repo: AppointmentRepository, holds: Holds | None = None) -> None:
        self.repo = repo
        self.holds = holds  # slots held from the waiting list for others count as booked
        self.ids: list[str] = []
        self.start = self.end = dt.datetime.min.replace(tzinfo=dt.UTC)
        self.booked = Booked()

    async def covering(self, ids: list[str], start: dt.datetime, end: dt.datetime) -> Booked:
        """Booked time of `ids` over at least [start, end)."""
        if ids != self.ids or not self.start <= start <= self.end:
            self.ids, self.start, self.end, self.booked = ids, start, start, Booked()
        if end > self.end:
            read = await self.repo.busy(ids, self.end, end, holds=self.holds)
            known = {pid: [*self.booked.get(pid, []), *intervals] for pid, intervals in read.items()}
            self.booked.update(merge_busy(known))
            self.end = end
        return self.booked


async def search(
    repo: AppointmentRepository,
    calendar: Calendar,
    visit_type: VisitType,
    window: tuple[dt.datetime, dt.datetime],
    *,
    after: dt.time | None = None,
    before: dt.time | None = None,
    practitioner_ids: Sequence[str] | None = None,
    limit: int = 3,
    booked: BookedTime | None = None,
) -> list[Slot]:
    """The earliest free slots in `window`, reading booked time chunk by chunk (`CHUNKS`)."""
    offering = [p.id for p in calendar.practice.offering(visit_type)]
    candidates = [p for p in offering if practitioner_ids is None or p in practitioner_ids]
    booked = booked or BookedTime(repo)
    found: list[Slot] = []
    start, end = window
    sizes = iter(CHUNKS)
    while start < end and len(found) < limit and candidates:
        size = next(sizes, None)
        chunk = (start, end if size is None else min(end, start + size))
        found += calendar.free_slots(
            visit_type,
            await booked.covering(candidates, *chunk),
            chunk,
            after=after,
            before=before,
            practitioner_ids=candidates,
            limit=limit - len(found),
        )
        start = chunk[1]
    return found


def _unknown_visit_type(calendar: Calendar) -> VisitTypeUnknown:
    return VisitTypeUnknown(
        visit_types=[
            VisitTypeInfo(id=v.id, name=v.name, minutes=v.minutes) for v in calendar.practice.visit_types
        ]
    )


async def refused(
    repo: AppointmentRepository,
    calendar: Calendar,
    visit_type: VisitType,
    patient: Patient,
    day: dt.date,
    referral: bool | None,
    now: dt.datetime,
) -> NotOffered | None:
    """The practice's rules for `visit_type`, checked for `patient` on `day` (their age that day)."""
    seen_before = await repo.seen_before(patient.id, now)
    return refusal(calendar.practice, visit_type, patient, day, seen_before=seen_before, referral=referral)


async def find_slots(
    repo: AppointmentRepository,
    calendar: Calendar,
    cmd: FindSlots,
    now: dt.datetime,
    patient: Patient | None = None,
) -> SlotsOffered | NoSlotsFound | VisitTypeUnknown | NotOffered | ErrorReply:
    visit_type = resolve_visit_type(calendar, cmd.visit_type)
    if visit_type is None:
        return _unknown_visit_type(calendar)
    held: list[SlotOffer] = []
    if patient is not None:
        today = now.astimezone(calendar.zone).date()
        first_day = max(cmd.earliest or today, today)
        if no := await refused(repo, calendar, visit_type, patient, first_day, cmd.referral, now):
            return no
        held = await waitlist.held_offers(
            repo, calendar, patient, visit_type, now, lambda slot: offer(calendar, slot)
        )
    holds = Holds(now, patient.id if patient else None)
    practitioner_ids = None
    if cmd.practitioner:
        practitioner = resolve_practitioner(calendar, cmd.practitioner)
        if practitioner is None:
            return ErrorReply(code=ErrorCode.unknown_practitioner, message="no such practitioner")
        practitioner_ids = [practitioner.id]
    earliest = _local_day_start(calendar, cmd.earliest) if cmd.earliest else None
    latest = _local_day_start(calendar, cmd.latest + dt.timedelta(days=1)) if cmd.latest else None
    window = calendar.bookable_window(now, earliest, latest)
    booked = BookedTime(repo, holds)
    slots = []
    if window is not None:
        slots = await search(
            repo,
            calendar,
            visit_type,
            window,
            after=cmd.after,
            before=cmd.before,
            practitioner_ids=practitioner_ids,
            limit=cmd.limit,
            booked=booked,
        )
    if slots or held:
        offers = held + [
            o for o in (offer(calendar, s) for s in slots) if o.slot_id not in {h.slot_id for h in held}
        ]
        return SlotsOffered(slots=offers[: max(cmd.limit, len(held))])
    if window is not None and latest is None and cmd.after is None and cmd.before is None:
        return NoSlotsFound()  # the whole horizon was searched already
    # Nothing as wished: the first free slot from the wished day on, at any time of day and up to the horizon.
    later = calendar.bookable_window(now, earliest)
    following = (
        await search(
            repo, calendar, visit_type, later, practitioner_ids=practitioner_ids, limit=1, booked=booked
        )
        if later
        else []
    )
    if not following:
        return NoSlotsFound()
    day = following[0].start.astimezone(calendar.zone).date()
    return NoSlotsFound(next_possible=day, next_possible_spoken=spoken_date(day, calendar.spoken_style))


async def join_waitlist(
    repo: AppointmentRepository, calendar: Calendar, cmd: JoinWaitlist, patient: Patient, now: dt.datetime
) -> WaitlistJoined | VisitTypeUnknown | NotOffered | ErrorReply:
    visit_type = resolve_visit_type(calendar, cmd.visit_type)
    if visit_type is None:
        return _unknown_visit_type(calendar)
    practitioner_id = None
    if cmd.practitioner:
        practitioner = resolve_practitioner(calendar, cmd.practitioner)
        if practitioner is None or practitioner not in calendar.practice.offering(visit_type):
            return ErrorReply(code=ErrorCode.unknown_practitioner, message="no such practitioner")
        practitioner_id = practitioner.id
    today = now.astimezone(calendar.zone).date()
    if no := await refused(repo, calendar, visit_type, patient, max(cmd.earliest or today, today), True, now):
        return no  # a referral is asked for when booking
    return await waitlist.join(repo, calendar, cmd, patient, visit_type, practitioner_id)


def _checked_slot(calendar: Calendar, text: str, now: dt.datetime) -> Slot:
    """Slots are computed, not stored: a slot id from the caller is validated again before it is booked."""
    slot = parse_slot_id(text, calendar.practice)
    if slot is None or not calendar.is_bookable(slot, now):
        raise InvalidSlot("slot not bookable")
    return slot


async def _alternatives(
    repo: AppointmentRepository, calendar: Calendar, slot: Slot, now: dt.datetime, holder: uuid.UUID
) -> SlotTaken:
    visit_type = calendar.practice.visit_type(slot.visit_type_id)
    window = calendar.bookable_window(now, slot.start)
    holds = Holds(now, holder)
    booked = BookedTime(repo, holds)
    found = await search(repo, calendar, visit_type, window, booked=booked) if visit_type and window else []
    return SlotTaken(alternatives=[offer(calendar, s) for s in found if s != slot][:3])


def _event_fields(appointment: Appointment, now: dt.datetime) -> dict[str, object]:
    return {
        "event_id": uuid.uuid4(),
        "occurred_at": now,
        "appointment_id": appointment.id,
        "patient_id": appointment.patient_id,
        "practitioner_id": appointment.practitioner_id,
        "visit_type_id": appointment.visit_type_id,
        "start": appointment.start_at,
        "end": appointment.end_at,
        "version": appointment.version,
    }


async def book(
    repo: AppointmentRepository,
    calendar: Calendar,
    cmd: BookAppointment,
    patient: Patient,
    now: dt.datetime,
) -> AppointmentConfirmed | SlotTaken | NotOffered:
    patient_id = patient.id
    key = f"{cmd.conversation_id}:{cmd.slot_id}"
    if confirmed := await _booked_before(repo, calendar, key, patient_id):
        return confirmed  # a retried call (the gateway asks again when a reply was lost)
    slot = _checked_slot(calendar, cmd.slot_id, now)
    visit_type = calendar.practice.visit_type(slot.visit_type_id)
    day = slot.start.astimezone(calendar.zone).date()
    if visit_type and (no := await refused(repo, calendar, visit_type, patient, day, cmd.referral, now)):
        return no
    appointment = Appointment(
        id=uuid.uuid4(),
        patient_id=patient_id,
        practitioner_id=slot.practitioner_id,
        visit_type_id=slot.visit_type_id,
        start_at=slot.start,
        end_at=slot.end,
        reason=cmd.reason,
        conversation_id=cmd.conversation_id,
        idempotency_key=key,
    )
    await repo.lock_practitioner(slot.practitioner_id)
    # Looked up again under the lock: an identical call that raced this one has committed by now.
    if confirmed := await _booked_before(repo, calendar, key, patient_id):
        return confirmed
    if not await repo.is_free(slot.practitioner_id, slot.start, slot.end, holds=Holds(now, patient_id)):
        return await _alternatives(repo, calendar, slot, now, patient_id)
    try:
        await repo.add(appointment)
    except SlotAlreadyTaken:
        return await _alternatives(repo, calendar, slot, now, patient_id)
    except DuplicateBooking:
        # The identical call raced its own retry; the first one won and is the answer to both.
        existing = await repo.by_idempotency_key(key)
        if existing is None or existing.patient_id != patient_id:
            return await _alternatives(repo, calendar, slot, now, patient_id)
        return AppointmentConfirmed(appointment=appointment_info(calendar, existing))
    await repo.booked_from_waitlist(patient_id, slot.visit_type_id)
    await repo.add_event(subjects.APPOINTMENT_BOOKED, AppointmentBooked(**_event_fields(appointment, now)))
    return AppointmentConfirmed(appointment=appointment_info(calendar, appointment))


async def _booked_before(
    repo: AppointmentRepository, calendar: Calendar, key: str, patient_id: uuid.UUID
) -> AppointmentConfirmed | None:
    existing = await repo.by_idempotency_key(key)
    if existing is None or existing.patient_id != patient_id:
        return None
    return AppointmentConfirmed(appointment=appointment_info(calendar, existing))


async def list_appointments(
    repo: AppointmentRepository, calendar: Calendar, patient_id: uuid.UUID, now: dt.datetime
) -> AppointmentList:
    upcoming = await repo.upcoming_for_patient(patient_id, now)
    return AppointmentList(appointments=[appointment_info(calendar, a) for a in upcoming])


async def _own_appointment(
    repo: AppointmentRepository, appointment_id: str, patient_id: uuid.UUID
) -> Appointment:
    """The caller's own appointment, locked, booked or cancelled; someone else's is as unknown as a missing
    one. A cancelled one is returned so that a retried cancellation can be confirmed."""
    try:
        key = uuid.UUID(appointment_id)
    except ValueError:
        raise AppointmentNotFound("no such appointment") from None
    appointment = await repo.get_for_update(key)
    if appointment is None or appointment.patient_id != patient_id:
        raise AppointmentNotFound("no such appointment")
    return appointment


# Files a wish in the team's request queue (the patients service owns it) and returns the request's id;
# given by the handler, which asks over NATS.
StaffRequest = Callable[[str], Awaitable[str]]


def _is_late(calendar: Calendar, appointment: Appointment, now: dt.datetime) -> bool:
    """Whether a change now falls inside the practice's cancellation period. Raises when it cannot be
    made at all: the appointment is not booked, or the practice refuses late changes."""
    if appointment.status != "booked":
        raise AppointmentNotFound("no such appointment")
    booking = calendar.practice.booking
    late = appointment.start_at - now < dt.timedelta(hours=booking.cancel_until_hours)
    if late and booking.late_changes == "refuse":
        raise TooLate("within the cancellation period")
    return late


def _when(calendar: Calendar, appointment: Appointment) -> str:
    slot = Slot(
        appointment.practitioner_id, appointment.visit_type_id, appointment.start_at, appointment.end_at
    )
    return spoken_slot(calendar, slot)


async def cancel(
    repo: AppointmentRepository,
    calendar: Calendar,
    cmd: CancelAppointment,
    patient_id: uuid.UUID,
    now: dt.datetime,
    staff_request: StaffRequest,
) -> CancellationConfirmed | ChangeRequested:
    appointment = await _own_appointment(repo, cmd.appointment_id, patient_id)
    if appointment.status == "cancelled":
        # cancelled already, e.g. a retry
        return CancellationConfirmed(appointment_id=str(appointment.id), late=bool(appointment.late_change))
    late = _is_late(calendar, appointment, now)
    if late and calendar.practice.booking.late_changes == "request":
        details = f"Kurzfristige Absage erbeten: Termin {_when(calendar, appointment)}."
        request_id = await staff_request(details)
        return ChangeRequested(appointment_id=str(appointment.id), request_id=request_id)
    appointment.late_change = late
    await repo.cancel(appointment, now)
    await repo.add_event(
        subjects.APPOINTMENT_CANCELLED, AppointmentCancelled(**_event_fields(appointment, now), late=late)
    )
    await repo.lock_practitioner(appointment.practitioner_id)  # a booking of the freed slot waits for this
    freed = Slot(
        appointment.practitioner_id, appointment.visit_type_id, appointment.start_at, appointment.end_at
    )
    await waitlist.offer_freed(repo, calendar, freed, patient_id, now)
    return CancellationConfirmed(appointment_id=str(appointment.id), late=late)


async def reschedule(
    repo: AppointmentRepository,
    calendar: Calendar,
    cmd: RescheduleAppointment,
    patient_id: uuid.UUID,
    now: dt.datetime,
    staff_request: StaffRequest,
) -> RescheduleConfirmed | SlotTaken | ChangeRequested:
    appointment = await _own_appointment(repo, cmd.appointment_id, patient_id)
    wanted = parse_slot_id(cmd.new_slot_id, calendar.practice)
    current = Slot(
        appointment.practitioner_id, appointment.visit_type_id, appointment.start_at, appointment.end_at
    )
    if appointment.status == "booked" and wanted == current:  # a retried call
        return RescheduleConfirmed(
            appointment=appointment_info(calendar, appointment), late=bool(appointment.late_change)
        )
    late = _is_late(calendar, appointment, now)
    slot = _checked_slot(calendar, cmd.new_slot_id, now)
    if late and calendar.practice.booking.late_changes == "request":
        details = (
            f"Kurzfristige Verlegung erbeten: Termin {_when(calendar, appointment)}, "
            f"gewünscht {spoken_slot(calendar, slot)}."
        )
        request_id = await staff_request(details)
        return ChangeRequested(appointment_id=str(appointment.id), request_id=request_id)
    previous = (appointment.practitioner_id, appointment.start_at, appointment.end_at)
    await repo.lock_practitioner(slot.practitioner_id)
    holds = Holds(now, patient_id)
    if not await repo.is_free(slot.practitioner_id, slot.start, slot.end, ignore=appointment.id, holds=holds):
        return await _alternatives(repo, calendar, slot, now, patient_id)
    try:
        await repo.move(
            appointment, slot.practitioner_id, slot.visit_type_id, slot.start, slot.end, late=late
        )
    except SlotAlreadyTaken:
        return await _alternatives(repo, calendar, slot, now, patient_id)
    event = AppointmentRescheduled(
        **_event_fields(appointment, now),
        previous_practitioner_id=previous[0],
        previous_start=previous[1],
        previous_end=previous[2],
        late=late,
    )
    await repo.add_event(subjects.APPOINTMENT_RESCHEDULED, event)
    await repo.booked_from_waitlist(patient_id, slot.visit_type_id)
    freed = Slot(previous[0], appointment.visit_type_id, previous[1], previous[2])
    await waitlist.offer_freed(repo, calendar, freed, patient_id, now)
    return RescheduleConfirmed(appointment=appointment_info(calendar, appointment), late=late)


def practice_info(calendar: Calendar, cmd: GetPracticeInfo, now: dt.datetime) -> PracticeInfo:
    practice = calendar.practice
    local = now.astimezone(calendar.zone)
    style = calendar.spoken_style
    fields: dict[str, object] = {}

    def wants(topic: str) -> bool:
        return cmd.topic in (topic, "alles")

    if wants("oeffnungszeiten"):
        fields["open_now"] = calendar.is_open(now)
        fields["hours_today"] = spoken_ranges(calendar.opening_ranges(local.date()), style)
        fields["opening_hours"] = [
            DayHours(
                day=WEEKDAY_NAMES[index],
                hours=spoken_ranges(sorted(practice.opening_hours.get(day, [])), style),
            )
            for index, day in enumerate(WEEKDAYS)
        ]
    if wants("oeffnungszeiten") or wants("schliesstage"):  # "wann haben Sie auf?" includes the holidays
        fields["opening_state"] = calendar.opening_state(now)
        fields["next_closures"] = [
            ClosureInfo(
                start=start, end=end, reason=reason, spoken=_spoken_closure(start, end, reason, style)
            )
            for start, end, reason in calendar.next_closures(local.date())[:5]
        ]
    if wants("adresse"):
        fields["address"] = (
            f"{practice.address.street}, {practice.address.postal_code} {practice.address.city}"
        )
    if wants("notfall"):
        fields["emergency"] = EMERGENCY
    return PracticeInfo(practice_name=practice.name, **fields)


def _spoken_closure(start: dt.date, end: dt.date, reason: str, style: SpokenStyle) -> str:
    if start == end:
        return f"am {spoken_date(start, style)} ({reason})"
    return f"vom {spoken_date(start, style)} bis {spoken_date(end, style)} ({reason})"


async def day_appointments(
    repo: AppointmentRepository, calendar: Calendar, query: ListDayAppointments
) -> DayAppointments:
    start = _local_day_start(calendar, query.day)
    end = _local_day_start(calendar, query.day + dt.timedelta(days=1))
    after = None
    if query.cursor:
        stamp, key = decode_cursor(query.cursor, dt.datetime.fromisoformat, uuid.UUID)
        after = (stamp, key)
    rows = await repo.booked_between(start, end, query.limit + 1, after)
    page = rows[: query.limit]
    items = [
        DayAppointment(
            patient_id=str(a.patient_id),
            late=bool(a.late_change),
            **appointment_info(calendar, a).model_dump(),
        )
        for a in page
    ]
    cursor = None
    if len(rows) > query.limit:
        cursor = encode_cursor(page[-1].start_at.isoformat(), page[-1].id)
    return DayAppointments(items=items, next_cursor=cursor)
