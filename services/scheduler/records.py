"""The scheduler's records as its logic sees them: the appointments behind a port, Ignis' own records beside.

`AppointmentRecords` is the port: what booking, offers, the waiting list and the team's views need of the
appointments, wherever they are kept. Two implementations: `repository.AppointmentRepository` (Ignis' own
Postgres, IGNIS_RECORDS=ignis) and `fhir_records.FhirAppointments` (the practice's FHIR server,
IGNIS_RECORDS=fhir). The waiting list, the slots held from it and the outbox are Ignis' business in both
modes and stay in `repository.WaitlistRepository`; `Records` holds the two for one unit of work and answers
the questions that need both (busy time counting held slots).
"""

import datetime as dt
import uuid
from collections.abc import Callable, Collection, Sequence
from typing import Literal, Protocol

from ignis.contracts.base import Event
from ignis.scheduler.errors import DuplicateBooking, SlotAlreadyTaken
from ignis.scheduler.models import Appointment
from ignis.scheduler.repository import AppointmentRepository, Holds, WaitlistRepository
from ignis.scheduler.slots import Slot

# Practitioner id -> booked [start, end) in whole seconds since the epoch (rounded outwards), sorted.
Busy = dict[str, list[tuple[int, int]]]
# What a booking is announced with, made from the appointment as stored: (subject, event).
Announce = Callable[[Appointment], tuple[str, Event]]


class Scheduled(Protocol):
    """What an appointment is told by (`describe.appointment_info`): an `Appointment`, or a plain row of an
    appointment only read."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def practitioner_id(self) -> str: ...
    @property
    def visit_type_id(self) -> str: ...
    @property
    def start_at(self) -> dt.datetime: ...
    @property
    def end_at(self) -> dt.datetime: ...


class AppointmentRecords(Protocol):
    """The appointments of one unit of work. Changes raise `errors.SlotAlreadyTaken` when the time is
    taken meanwhile and `errors.DuplicateBooking` when the identical booking call was stored first."""

    def know_patient(self, patient_id: uuid.UUID, fhir_patient_id: str | None) -> None:
        """The patient's id on the records' server, learnt from the patients service (FHIR mode books for
        and lists by it)."""

    async def busy(self, practitioner_ids: Collection[str], start: dt.datetime, end: dt.datetime) -> Busy:
        """Booked time of these practitioners that overlaps [start, end)."""

    async def is_free(
        self, practitioner_id: str, start: dt.datetime, end: dt.datetime, ignore: uuid.UUID | None = None
    ) -> bool:
        """Whether nothing but the appointment `ignore` holds time there."""

    async def by_idempotency_key(self, key: str) -> Appointment | None: ...

    async def get_for_update(self, appointment_id: uuid.UUID) -> Appointment | None:
        """The appointment, read for a change that follows in this unit of work."""

    async def upcoming_for_patient(self, patient_id: uuid.UUID, now: dt.datetime) -> Sequence[Scheduled]:
        """Booked and not yet over, in time order."""

    async def seen_before(self, patient_id: uuid.UUID, now: dt.datetime) -> bool:
        """Whether the patient had an appointment here that was not cancelled and has begun."""

    async def booked_between(
        self, start: dt.datetime, end: dt.datetime, limit: int, after: tuple[dt.datetime, uuid.UUID] | None
    ) -> Sequence[Appointment]:
        """Booked appointments starting in [start, end), by (start, id), after the cursor `after`."""

    async def lock_practitioner(self, practitioner_id: str) -> None:
        """Serialise this unit of work's booking of the practitioner with every other one."""

    async def add(self, appointment: Appointment) -> Appointment: ...

    async def move(
        self,
        appointment: Appointment,
        practitioner_id: str,
        visit_type_id: str,
        start: dt.datetime,
        end: dt.datetime,
        late: bool = False,
    ) -> None:
        """New time (and practitioner, visit type); a refused move leaves the appointment as it was."""

    async def cancel(self, appointment: Appointment, now: dt.datetime) -> None: ...


class Records:
    """One unit of work's records: `appointments` (Postgres or FHIR) and `own` (waiting list, holds, outbox:
    Ignis' Postgres in both modes). A plain class, not a dataclass: the handlers' dependency injection
    validates a dataclass field by field, and a Protocol cannot be checked that way."""

    def __init__(self, appointments: AppointmentRecords, own: WaitlistRepository) -> None:
        self.appointments = appointments
        self.own = own

    async def busy(
        self,
        practitioner_ids: Collection[str],
        start: dt.datetime,
        end: dt.datetime,
        holds: Holds | None = None,
    ) -> Busy:
        """Booked time; with `holds`, the slots held from the waiting list for others count as booked (in
        Ignis' record mode read with the appointments, in one round trip)."""
        if holds is not None and isinstance(self.appointments, AppointmentRepository):
            return await self.appointments.busy_or_held(practitioner_ids, start, end, holds)
        booked = await self.appointments.busy(practitioner_ids, start, end)
        return await self.own.with_held(booked, practitioner_ids, start, end, holds)

    async def busy_and_own_holds(
        self, practitioner_ids: Collection[str], start: dt.datetime, end: dt.datetime, holds: Holds
    ) -> tuple[Busy, list[Slot]]:
        """`busy` with `holds`, and the slots held for `holds.holder` (`own.holds_of`): in Ignis' record mode
        in one round trip."""
        assert holds.holder is not None
        if isinstance(self.appointments, AppointmentRepository):
            return await self.appointments.busy_or_held_and_own(practitioner_ids, start, end, holds)
        busy = await self.busy(practitioner_ids, start, end, holds)
        return busy, await self.own.holds_of(holds.holder, holds.now)

    async def is_free(
        self,
        practitioner_id: str,
        start: dt.datetime,
        end: dt.datetime,
        ignore: uuid.UUID | None = None,
        holds: Holds | None = None,
    ) -> bool:
        """Nothing (but `ignore`) booked there, nor, with `holds`, held for someone else (in Ignis' record
        mode asked in one round trip)."""
        if holds is not None and isinstance(self.appointments, AppointmentRepository):
            return await self.appointments.free_nor_held(practitioner_id, start, end, ignore, holds)
        if not await self.appointments.is_free(practitioner_id, start, end, ignore):
            return False
        return holds is None or not await self.own.held_for_others(practitioner_id, start, end, holds)

    async def booked_with_key(self, key: str, lock: str | None = None) -> Appointment | None:
        """The appointment a booking call with this idempotency key stored, if any. In Ignis' record mode,
        `lock` (the practitioner the call would book) has `lock_practitioner` taken in the same round trip,
        before the call is validated (it only waits behind other bookings of the practitioner)."""
        if lock is not None and isinstance(self.appointments, AppointmentRepository):
            return await self.appointments.by_key_locking(key, lock)
        return await self.appointments.by_idempotency_key(key)

    async def place(
        self, appointment: Appointment, holds: Holds, announce: Announce
    ) -> Appointment | Literal["booked", "taken"]:
        """Book `appointment` (under `lock_practitioner`) unless its idempotency key was stored first or its
        time is taken or held for others (`holds`); once booked, the patient is off the waiting list for its
        visit type and the booking announced through the outbox. 'booked', 'taken', or the appointment the
        identical call stored first (for the caller to compare patients). In Ignis' record mode one
        statement (`AppointmentRepository.place`)."""
        if isinstance(self.appointments, AppointmentRepository):
            return await self.appointments.place(appointment, holds, announce)
        key = str(appointment.idempotency_key)
        existing = await self.appointments.by_idempotency_key(key)
        if existing is not None and existing.patient_id == appointment.patient_id:
            return existing  # the identical call, committed before the lock was taken
        start, end = appointment.start_at, appointment.end_at
        if not await self.is_free(appointment.practitioner_id, start, end, holds=holds):
            # Taken by the identical call? In FHIR record mode the "lock" is a version check, not a wait, so
            # the twin may have written between the look-up above and this check.
            return await self.appointments.by_idempotency_key(key) or "taken"
        try:
            await self.appointments.add(appointment)
        except SlotAlreadyTaken:
            return "taken"
        except DuplicateBooking:  # the identical call raced its own retry; the first one won
            return await self.appointments.by_idempotency_key(key) or "taken"
        await self.own.booked_from_waitlist(appointment.patient_id, appointment.visit_type_id)
        await self.own.add_event(*announce(appointment))
        return "booked"
