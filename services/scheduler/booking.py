"""Booking, moving and cancelling: by the caller (their own appointments only) or by the team. The database's
exclusion constraint, not this code, makes a double booking impossible; every change writes its event to
the outbox in the same transaction.
"""

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable

from ignis.contracts import subjects
from ignis.contracts.scheduling import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentConfirmed,
    AppointmentList,
    AppointmentRescheduled,
    BookAppointment,
    CancelAppointment,
    CancellationConfirmed,
    ChangeRequested,
    NotOffered,
    RescheduleAppointment,
    RescheduleConfirmed,
    SlotTaken,
    StaffCancelAppointment,
    StaffRescheduleAppointment,
)
from ignis.scheduler import waitlist
from ignis.scheduler.calendar import Calendar
from ignis.scheduler.describe import appointment_info, offer
from ignis.scheduler.errors import (
    AppointmentNotFound,
    InvalidSlot,
    SlotAlreadyTaken,
    TooLate,
)
from ignis.scheduler.models import Appointment
from ignis.scheduler.offers import BookedTime, refused, search
from ignis.scheduler.records import Records
from ignis.scheduler.repository import Holds
from ignis.scheduler.rules import Patient
from ignis.scheduler.slots import Slot, parse_slot_id, spoken_slot


def _checked_slot(calendar: Calendar, text: str, now: dt.datetime) -> Slot:
    return _bookable(calendar, parse_slot_id(text, calendar.practice), now)


def _bookable(calendar: Calendar, slot: Slot | None, now: dt.datetime) -> Slot:
    """Slots are computed, not stored: a slot id from the caller is validated again before it is booked."""
    if slot is None or not calendar.is_bookable(slot, now):
        raise InvalidSlot("slot not bookable")
    return slot


async def _alternatives(
    records: Records, calendar: Calendar, slot: Slot, now: dt.datetime, holder: uuid.UUID
) -> SlotTaken:
    visit_type = calendar.practice.visit_type(slot.visit_type_id)
    window = calendar.bookable_window(now, slot.start)
    holds = Holds(now, holder)
    booked = BookedTime(records, holds)
    found = (
        await search(records, calendar, visit_type, window, booked=booked) if visit_type and window else []
    )
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
    records: Records,
    calendar: Calendar,
    cmd: BookAppointment,
    patient: Patient,
    now: dt.datetime,
) -> AppointmentConfirmed | SlotTaken | NotOffered:
    patient_id = patient.id
    key = f"{cmd.conversation_id}:{cmd.slot_id}"
    wanted = parse_slot_id(cmd.slot_id, calendar.practice)
    lock = wanted.practitioner_id if wanted else None  # Ignis' record mode locks with the look-up
    if confirmed := await _booked_before(records, calendar, key, patient_id, lock):
        return confirmed  # a retried call (the gateway asks again when a reply was lost)
    slot = _bookable(calendar, wanted, now)
    visit_type = calendar.practice.visit_type(slot.visit_type_id)
    day = slot.start.astimezone(calendar.zone).date()
    if visit_type and (no := await refused(records, calendar, visit_type, patient, day, cmd.referral, now)):
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
    await records.appointments.lock_practitioner(slot.practitioner_id)
    # Looked up again under the lock (an identical call that raced this one has committed by now), checked
    # free, booked: the database's constraint decides a race all the same.
    placed = await records.place(
        appointment,
        Holds(now, patient_id),
        lambda stored: (subjects.APPOINTMENT_BOOKED, AppointmentBooked(**_event_fields(stored, now))),
    )
    if placed == "booked":
        return AppointmentConfirmed(appointment=appointment_info(calendar, appointment))
    if isinstance(placed, Appointment) and placed.patient_id == patient_id:
        return AppointmentConfirmed(appointment=appointment_info(calendar, placed))
    return await _alternatives(records, calendar, slot, now, patient_id)


async def _booked_before(
    records: Records, calendar: Calendar, key: str, patient_id: uuid.UUID, lock: str | None = None
) -> AppointmentConfirmed | None:
    existing = await records.booked_with_key(key, lock)
    if existing is None or existing.patient_id != patient_id:
        return None
    return AppointmentConfirmed(appointment=appointment_info(calendar, existing))


async def list_appointments(
    records: Records, calendar: Calendar, patient_id: uuid.UUID, now: dt.datetime
) -> AppointmentList:
    upcoming = await records.appointments.upcoming_for_patient(patient_id, now)
    return AppointmentList(appointments=[appointment_info(calendar, a) for a in upcoming])


async def _own_appointment(
    records: Records, appointment_id: str, patient_id: uuid.UUID | None
) -> Appointment:
    """The caller's own appointment, locked, booked or cancelled; someone else's is as unknown as a missing
    one. A cancelled one is returned so that a retried cancellation can be confirmed. The practice team
    (`patient_id` None) may act on any."""
    try:
        key = uuid.UUID(appointment_id)
    except ValueError:
        raise AppointmentNotFound("no such appointment") from None
    appointment = await records.appointments.get_for_update(key)
    if appointment is None or (patient_id is not None and appointment.patient_id != patient_id):
        raise AppointmentNotFound("no such appointment")
    return appointment


# Files a wish in the team's request queue (the patients service owns it) and returns the request's id;
# given by the handler, which asks over NATS.
StaffRequest = Callable[[str], Awaitable[str]]


def _is_late(calendar: Calendar, appointment: Appointment, now: dt.datetime, by_staff: bool = False) -> bool:
    """Whether a change now falls inside the practice's cancellation period. Raises when it cannot be
    made at all: the appointment is not booked, or the practice refuses late changes. The practice team's
    own change is never a late one (the period binds callers; a practitioner falls ill), but it cannot
    change an appointment that has begun."""
    if appointment.status != "booked":
        raise AppointmentNotFound("no such appointment")
    if by_staff:
        if appointment.start_at <= now:
            raise TooLate("the appointment has begun")
        return False
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
    records: Records,
    calendar: Calendar,
    cmd: CancelAppointment | StaffCancelAppointment,
    patient_id: uuid.UUID | None,
    now: dt.datetime,
    staff_request: StaffRequest | None,
) -> CancellationConfirmed | ChangeRequested:
    """For the verified caller `patient_id`, or for the practice team when it is None (which files no
    request: it is the team)."""
    appointment = await _own_appointment(records, cmd.appointment_id, patient_id)
    if appointment.status == "cancelled":
        # cancelled already, e.g. a retry
        return CancellationConfirmed(appointment_id=str(appointment.id), late=bool(appointment.late_change))
    late = _is_late(calendar, appointment, now, by_staff=patient_id is None)
    if late and staff_request is not None and calendar.practice.booking.late_changes == "request":
        details = f"Kurzfristige Absage erbeten: Termin {_when(calendar, appointment)}."
        request_id = await staff_request(details)
        return ChangeRequested(appointment_id=str(appointment.id), request_id=request_id)
    appointment.late_change = late
    await records.appointments.cancel(appointment, now)
    await records.own.add_event(
        subjects.APPOINTMENT_CANCELLED, AppointmentCancelled(**_event_fields(appointment, now), late=late)
    )
    await records.appointments.lock_practitioner(
        appointment.practitioner_id
    )  # a booking of the freed slot waits for this
    freed = Slot(
        appointment.practitioner_id, appointment.visit_type_id, appointment.start_at, appointment.end_at
    )
    await waitlist.offer_freed(records, calendar, freed, appointment.patient_id, now)
    return CancellationConfirmed(appointment_id=str(appointment.id), late=late)


async def reschedule(
    records: Records,
    calendar: Calendar,
    cmd: RescheduleAppointment | StaffRescheduleAppointment,
    patient_id: uuid.UUID | None,
    now: dt.datetime,
    staff_request: StaffRequest | None,
) -> RescheduleConfirmed | SlotTaken | ChangeRequested:
    """For the verified caller `patient_id`, or for the practice team when it is None (which files no
    request: it is the team)."""
    appointment = await _own_appointment(records, cmd.appointment_id, patient_id)
    wanted = parse_slot_id(cmd.new_slot_id, calendar.practice)
    current = Slot(
        appointment.practitioner_id, appointment.visit_type_id, appointment.start_at, appointment.end_at
    )
    if appointment.status == "booked" and wanted == current:  # a retried call
        return RescheduleConfirmed(
            appointment=appointment_info(calendar, appointment), late=bool(appointment.late_change)
        )
    late = _is_late(calendar, appointment, now, by_staff=patient_id is None)
    slot = _checked_slot(calendar, cmd.new_slot_id, now)
    if late and staff_request is not None and calendar.practice.booking.late_changes == "request":
        details = (
            f"Kurzfristige Verlegung erbeten: Termin {_when(calendar, appointment)}, "
            f"gewünscht {spoken_slot(calendar, slot)}."
        )
        request_id = await staff_request(details)
        return ChangeRequested(appointment_id=str(appointment.id), request_id=request_id)
    previous = (appointment.practitioner_id, appointment.start_at, appointment.end_at)
    await records.appointments.lock_practitioner(slot.practitioner_id)
    holds = Holds(now, appointment.patient_id)
    if not await records.is_free(
        slot.practitioner_id, slot.start, slot.end, ignore=appointment.id, holds=holds
    ):
        return await _alternatives(records, calendar, slot, now, appointment.patient_id)
    try:
        await records.appointments.move(
            appointment, slot.practitioner_id, slot.visit_type_id, slot.start, slot.end, late=late
        )
    except SlotAlreadyTaken:
        return await _alternatives(records, calendar, slot, now, appointment.patient_id)
    event = AppointmentRescheduled(
        **_event_fields(appointment, now),
        previous_practitioner_id=previous[0],
        previous_start=previous[1],
        previous_end=previous[2],
        late=late,
    )
    await records.own.add_event(subjects.APPOINTMENT_RESCHEDULED, event)
    await records.own.booked_from_waitlist(appointment.patient_id, slot.visit_type_id)
    freed = Slot(previous[0], appointment.visit_type_id, previous[1], previous[2])
    await waitlist.offer_freed(records, calendar, freed, appointment.patient_id, now)
    return RescheduleConfirmed(appointment=appointment_info(calendar, appointment), late=late)
