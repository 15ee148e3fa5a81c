"""Commands, replies and events of the scheduler: slots, appointments and practice information."""

import datetime as dt
import uuid
from typing import Literal

from pydantic import Field

from ignis.contracts.base import Contract, Event

Topic = Literal["oeffnungszeiten", "adresse", "schliesstage", "notfall", "alles"]


class Timeslot(Contract):
    """A time with a practitioner as the caller hears it (local times, German sentence in `spoken`)."""

    start: dt.datetime
    end: dt.datetime
    practitioner: str
    visit_type: str
    spoken: str


class SlotOffer(Timeslot):
    slot_id: str
    held: bool = False  # kept for this caller from the waiting list (offered first, by SMS too)


class AppointmentInfo(Timeslot):
    appointment_id: str


class VisitTypeInfo(Contract):
    id: str
    name: str
    minutes: int


class PatientCommand(Contract):
    """A command acting for a caller: only a ref verified in this conversation may do so."""

    conversation_id: str = Field(min_length=1, max_length=200)
    patient_ref: str = Field(min_length=1, max_length=200)


class FindSlots(Contract):
    conversation_id: str = Field(min_length=1, max_length=200)
    visit_type: str = Field(min_length=1, max_length=100)
    earliest: dt.date | None = None
    latest: dt.date | None = None
    # Bounds of a slot's local start time on any day ("nach 16 Uhr", "vormittags": before 12:00).
    after: dt.time | None = None
    before: dt.time | None = None
    practitioner: str | None = Field(default=None, max_length=100)
    # With a verified caller's ref, the practice's rules for the visit type are checked for them.
    patient_ref: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=3, ge=1, le=5)
    referral: bool | None = None  # the caller has a referral (for visit types that need one)


NotOfferedReason = Literal["new_patients", "insurance", "too_young", "too_old", "referral"]


class NotOffered(Contract):
    """The practice's rules (practice file `rules:`) do not offer this visit type to this caller;
    `explanation` is a German sentence for the caller."""

    kind: Literal["not_offered"] = "not_offered"
    visit_type: str
    reason: NotOfferedReason
    explanation: str


class SlotsOffered(Contract):
    kind: Literal["slots"] = "slots"
    slots: list[SlotOffer]


class NoSlotsFound(Contract):
    """Nothing in the asked window; `next_possible` is the first day with a free slot, if any."""

    kind: Literal["no_slots"] = "no_slots"
    next_possible: dt.date | None = None
    next_possible_spoken: str | None = None


class VisitTypeUnknown(Contract):
    kind: Literal["unknown_visit_type"] = "unknown_visit_type"
    visit_types: list[VisitTypeInfo]


class BookAppointment(PatientCommand):
    slot_id: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=500, repr=False)
    referral: bool | None = None  # the caller has a referral (for visit types that need one)


class AppointmentConfirmed(Contract):
    kind: Literal["booked"] = "booked"
    appointment: AppointmentInfo


class SlotTaken(Contract):
    """Somebody else was faster; up to three alternatives close to the wanted slot."""

    kind: Literal["slot_taken"] = "slot_taken"
    alternatives: list[SlotOffer]


class ListAppointments(PatientCommand):
    pass


class AppointmentList(Contract):
    kind: Literal["appointments"] = "appointments"
    appointments: list[AppointmentInfo]


class CancelAppointment(PatientCommand):
    appointment_id: str = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=500, repr=False)


class CancellationConfirmed(Contract):
    kind: Literal["cancelled"] = "cancelled"
    appointment_id: str
    # Inside the practice's cancellation period (`booking.late_changes: cancel`): done, and the team sees it.
    late: bool = False


class ChangeRequested(Contract):
    """`booking.late_changes: request`: too close to the appointment to change it by phone, so the wish is
    in the team's request queue and the appointment stands until the team confirms."""

    kind: Literal["change_requested"] = "change_requested"
    appointment_id: str
    request_id: str


class RescheduleAppointment(PatientCommand):
    appointment_id: str = Field(min_length=1, max_length=100)
    new_slot_id: str = Field(min_length=1, max_length=200)


class RescheduleConfirmed(Contract):
    kind: Literal["rescheduled"] = "rescheduled"
    appointment: AppointmentInfo
    late: bool = False  # moved inside the cancellation period (see CancellationConfirmed)


class GetPracticeInfo(Contract):
    conversation_id: str = Field(min_length=1, max_length=200)
    topic: Topic = "alles"


class ClosureInfo(Contract):
    start: dt.date
    end: dt.date
    reason: str
    spoken: str


class DayHours(Contract):
    """A weekday's regular opening hours as said: `Montag`, `8 bis 12 Uhr und 14 bis 18 Uhr`."""

    day: str
    hours: str


class PracticeInfo(Contract):
    """Only the asked topic's fields are set: the reply is read out and costs tokens."""

    kind: Literal["info"] = "info"
    practice_name: str
    open_now: bool | None = None
    hours_today: str | None = None
    # open, lunch_break, closed or vacation (a closure of the practice): which transfers apply now.
    opening_state: Literal["open", "lunch_break", "closed", "vacation"] | None = None
    # The regular week, Monday first; what differs (holidays, vacations) is in `next_closures`.
    opening_hours: list[DayHours] | None = None
    next_closures: list[ClosureInfo] | None = None
    address: str | None = None
    emergency: dict[str, str] | None = None


class AppointmentEvent(Event):
    """What every appointment event carries. No visit reason, ever: events feed SMS texts."""

    appointment_id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: str
    visit_type_id: str
    start: dt.datetime
    end: dt.datetime
    # 1 when booked, one more with each change, assigned under the appointment's row lock: consumers order
    # an appointment's events by it (delivery order and clocks do not tell which change came last).
    version: int = Field(default=1, ge=1)


class AppointmentBooked(AppointmentEvent):
    pass


class AppointmentCancelled(AppointmentEvent):
    # Inside the practice's cancellation period: the team may want to fill the slot or talk to the patient.
    late: bool = False


class AppointmentRescheduled(AppointmentEvent):
    previous_start: dt.datetime
    previous_end: dt.datetime
    previous_practitioner_id: str
    late: bool = False  # moved from inside the cancellation period


class ListDayAppointments(Contract):
    """Staff view: the practice's booked appointments of one local day, in time order."""

    day: dt.date
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)


class DayAppointment(AppointmentInfo):
    patient_id: str
    late: bool = False  # its last change (a move) came inside the cancellation period


class DayAppointments(Contract):
    kind: Literal["day"] = "day"
    items: list[DayAppointment]
    next_cursor: str | None


class JoinWaitlist(PatientCommand):
    """Put a verified caller on the waiting list for a visit type, in a window of local days."""

    visit_type: str = Field(min_length=1, max_length=100)
    earliest: dt.date | None = None
    latest: dt.date | None = None
    practitioner: str | None = Field(default=None, max_length=100)


class WaitlistJoined(Contract):
    kind: Literal["waitlist_joined"] = "waitlist_joined"
    entry_id: str
    visit_type: str
    position: int  # among those waiting for this visit type
    hold_minutes: int  # how long a freed slot is kept for the caller once offered by SMS


class AppointmentSlotOffered(Event):
    """A freed slot held for the first waiting patient until `expires_at`; the notifier texts them (with
    their consent). `hold_id` names the hold (the notifier's SMS record keys on it)."""

    hold_id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: str
    visit_type_id: str
    start: dt.datetime
    end: dt.datetime
    expires_at: dt.datetime


class ListWaitlist(Contract):
    """Staff view: who waits for what, oldest first, with the slot held for them if any."""

    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)


class WaitlistItem(Contract):
    entry_id: str
    patient_id: str
    visit_type: str
    practitioner: str | None
    earliest: dt.date | None
    latest: dt.date | None
    status: Literal["waiting", "offered", "booked"]
    created_at: dt.datetime
    held_slot: str | None = None  # spoken, while a hold lasts
    held_until: dt.datetime | None = None


class WaitlistPage(Contract):
    kind: Literal["waitlist"] = "waitlist"
    items: list[WaitlistItem]
    next_cursor: str | None
