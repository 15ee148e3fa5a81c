"""The calendar on the practice's FHIR server (IGNIS_RECORDS=fhir): appointments are `Appointment`s there.

`FhirAppointments` implements the `records.AppointmentRecords` port; the waiting list, its holds and the
outbox stay in Ignis' Postgres (`repository.WaitlistRepository`). The practice file's counterparts are made
at start-up (`fhir_directory`); the resources' fields are `fhir_resources`; docs/fhir.md maps them.

Busy time is every Appointment and busy Slot of the practitioner on the server, whoever wrote them, read
afresh on every search. No double booking between writers that follow the protocol: a booking reads the
practitioner's Schedule, checks the time is free, then writes one transaction that bumps the Schedule's
booking lock (`ifMatch` on the version read) and creates the Appointment (`ifNoneExist` on the booking's
identifier, so a retry never makes two); a lost `ifMatch` reads again. A writer that does not bump the
Schedule can still overlap an Ignis booking (README "FHIR", Scheduling).
"""

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable, Collection, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from ignis.fhir import codes
from ignis.fhir.client import (
    FhirIncomplete,
    FhirNotFound,
    FhirPreconditionFailed,
    Resource,
    token,
    version_of,
)
from ignis.scheduler.errors import AppointmentChanged, DuplicateBooking, SlotAlreadyTaken
from ignis.scheduler.fhir_directory import FhirCalendar
from ignis.scheduler.fhir_resources import (
    FREE_STATUSES,
    HELD_STATUSES,
    actor_id,
    as_written,
    busy_time,
    cancelled,
    change,
    instant,
    moment,
    moved,
    new_appointment,
    schedule_bumped,
    seconds,
    to_appointment,
)
from ignis.scheduler.models import Appointment
from ignis.scheduler.records import Busy, Records
from ignis.scheduler.repository import AppointmentRepository, WaitlistRepository

# FhirCalendar is part of this module's interface (the handlers take it with the repository).
__all__ = ["FhirAppointments", "FhirCalendar", "records"]

# Appointments are searched by start (`date`); one that started this long before a window can still reach
# into it. Longer appointments (a whole-day block) belong in a busy Slot or an absence of the practice file.
LONGEST_APPOINTMENT = dt.timedelta(hours=12)
# A search of busy time that matches more than the client takes in one search (1,000) is made in halves, down
# to windows this long.
SMALLEST_SPLIT = dt.timedelta(hours=1)
# A booking whose `ifMatch` lost to another booking of the same practitioner checks again this often.
BOOKING_ATTEMPTS = 8


class FhirAppointments:
    """The scheduler's appointments on the FHIR server. One per unit of work: it remembers the resources it
    read, so a change writes back the version it saw (`ifMatch`)."""

    def __init__(self, calendar: FhirCalendar) -> None:
        self.fhir = calendar.client
        self.directory = calendar.directory
        self._read: dict[uuid.UUID, Resource] = {}  # Ignis id -> the Appointment as read
        self._patients: dict[uuid.UUID, str] = {}  # Ignis patient id -> FHIR Patient id
        self._schedules: dict[str, Resource] = {}  # practitioner -> Schedule as read by lock_practitioner

    def know_patient(self, patient_id: uuid.UUID, fhir_patient_id: str | None) -> None:
        if fhir_patient_id:
            self._patients[patient_id] = fhir_patient_id

    # Reads

    async def _appointments(
        self, start: dt.datetime, end: dt.datetime, **params: str | list[str]
    ) -> list[Resource]:
        """Appointments holding time that overlaps [start, end)."""
        found = await self._between("Appointment", "date", start - LONGEST_APPOINTMENT, end, params)
        return [
            a
            for a in found
            if a.get("status") not in FREE_STATUSES
            and a.get("start")
            and a.get("end")
            and moment(a["end"]) > start
            and moment(a["start"]) < end
        ]

    async def _between(
        self,
        resource_type: str,
        field: str,
        lo: dt.datetime,
        hi: dt.datetime,
        params: dict[str, str | list[str]],
    ) -> list[Resource]:
        """Every resource whose date `field` is in [lo, hi): a window with more matches than one search takes
        (a busy month of a large practice) is searched in halves, one after the other."""
        query = {field: [f"ge{instant(lo)}", f"lt{instant(hi)}"], **params}
        try:
            return await self.fhir.search(resource_type, query, count=1000)
        except FhirIncomplete:
            if hi - lo <= SMALLEST_SPLIT:
                raise
            middle = lo + (hi - lo) / 2
            first = await self._between(resource_type, field, lo, middle, params)
            return first + await self._between(resource_type, field, middle, hi, params)

    def _described(self, found: Sequence[Resource]) -> list[Appointment]:
        """The appointments Ignis can describe; each resource is remembered for a change that follows."""
        appointments = []
        for resource in found:
            appointment = to_appointment(resource, self.directory)
            if appointment is not None:
                self._read[appointment.id] = resource
                self._patients[appointment.patient_id] = str(actor_id(resource, "Patient"))
                appointments.append(appointment)
        return appointments

    async def busy(self, practitioner_ids: Collection[str], start: dt.datetime, end: dt.datetime) -> Busy:
        """Appointments and busy Slots on the server, one search of each, run together."""
        known = [p for p in practitioner_ids if p in self.directory.practitioners]
        if not known:
            return {}
        actors = ",".join(f"Practitioner/{self.directory.practitioners[p]}" for p in known)
        schedules = ",".join(f"Schedule/{self.directory.schedules[p]}" for p in known)
        appointments, slots = await asyncio.gather(
            self._appointments(start, end, actor=actors),
            self._between("Slot", "start", start - LONGEST_APPOINTMENT, end, {"schedule": schedules}),
        )
        return busy_time(self.directory, known, appointments, slots, start, end)

    async def is_free(
        self, practitioner_id: str, start: dt.datetime, end: dt.datetime, ignore: uuid.UUID | None = None
    ) -> bool:
        intervals = list((await self.busy([practitioner_id], start, end)).get(practitioner_id, []))
        own = self._read.get(ignore) if ignore else None
        if own is not None:  # the appointment being moved does not block its own new time
            held = seconds(own["start"], own["end"])
            if held in intervals:
                intervals.remove(held)
        return not intervals

    async def by_idempotency_key(self, key: str) -> Appointment | None:
        found = await self.fhir.search("Appointment", {"identifier": token(codes.IGNIS_BOOKING, key)})
        return next(iter(self._described(found)), None)

    async def get_for_update(self, appointment_id: uuid.UUID) -> Appointment | None:
        """The appointment Ignis made with this id; its version is kept for the `ifMatch` of a change."""
        found = await self.fhir.search(
            "Appointment", {"identifier": token(codes.IGNIS_APPOINTMENT, str(appointment_id))}
        )
        return next(iter(self._described(found)), None)

    async def upcoming_for_patient(self, patient_id: uuid.UUID, now: dt.datetime) -> Sequence[Appointment]:
        fhir_patient = self._patients.get(patient_id)
        if fhir_patient is None:
            return []
        found = await self.fhir.search(
            "Appointment",
            {"patient": f"Patient/{fhir_patient}", "date": f"gt{instant(now - LONGEST_APPOINTMENT)}"},
        )
        return sorted(
            (a for a in self._described(found) if a.status == "booked" and a.end_at > now),
            key=lambda a: a.start_at,
        )

    async def seen_before(self, patient_id: uuid.UUID, now: dt.datetime) -> bool:
        """Whether the server has an Appointment of the patient that has begun and holds (or held) time:
        whoever wrote it, so a visit the practice recorded itself counts."""
        fhir_patient = self._patients.get(patient_id)
        if fhir_patient is None:
            return False
        query = {"patient": f"Patient/{fhir_patient}", "date": f"le{instant(now)}"}
        found = await self.fhir.page("Appointment", query | {"status": HELD_STATUSES}, count=1)
        return bool(found)

    async def booked_between(
        self, start: dt.datetime, end: dt.datetime, limit: int, after: tuple[dt.datetime, uuid.UUID] | None
    ) -> Sequence[Appointment]:
        found = await self.fhir.search(
            "Appointment", {"date": [f"ge{instant(start)}", f"lt{instant(end)}"]}, count=1000
        )
        ordered = sorted(
            (a for a in self._described(found) if a.status == "booked"), key=lambda a: (a.start_at, a.id)
        )
        if after is not None:
            ordered = [a for a in ordered if (a.start_at, a.id) > after]
        return ordered[:limit]

    # Writes

    async def lock_practitioner(self, practitioner_id: str) -> None:
        """Read the practitioner's Schedule: its version is the `ifMatch` of the booking that follows, so
        the check of free time in between cannot be overtaken by another booking."""
        schedule_id = self.directory.schedules[practitioner_id]
        self._schedules[practitioner_id] = await self.fhir.read("Schedule", schedule_id)

    async def _read_again(self, appointment_id: uuid.UUID) -> None:
        """After a lost `ifMatch`: the Appointment as the server has it now. A newer version that changed
        only what the caller was not told (a note, a participant's status) is taken as read, so the change
        is tried again on it; one whose time, practitioner, visit type or status changed (the practice
        moved or cancelled it meanwhile), or that is gone, raises `AppointmentChanged`."""
        read = self._read[appointment_id]
        try:
            fresh = await self.fhir.read("Appointment", read["id"])
        except FhirNotFound:
            raise AppointmentChanged("the appointment is gone from the server") from None
        if version_of(fresh) == version_of(read):
            return
        if as_written(fresh) != as_written(read):
            raise AppointmentChanged("the appointment was changed on the server meanwhile")
        self._read[appointment_id] = fresh

    async def _locked_write(
        self,
        practitioner_id: str,
        entry: Callable[[], Resource],
        start: dt.datetime,
        end: dt.datetime,
        ignore: uuid.UUID | None = None,
    ) -> list[Resource]:
        """`entry()` with the Schedule's bump in one transaction. A lost `ifMatch` reads the Schedule and the
        appointment being changed (`ignore`) again and, if the time is still free, tries again."""
        for _ in range(BOOKING_ATTEMPTS):
            try:
                return await self.fhir.transaction(
                    [schedule_bumped(self._schedules[practitioner_id]), entry()]
                )
            except FhirPreconditionFailed:
                if ignore is not None:
                    await asyncio.gather(self._read_again(ignore), self.lock_practitioner(practitioner_id))
                else:
                    await self.lock_practitioner(practitioner_id)
                if not await self.is_free(practitioner_id, start, end, ignore=ignore):
                    raise SlotAlreadyTaken() from None
        raise SlotAlreadyTaken()  # this practitioner's calendar is too busy to get a write in now

    async def add(self, appointment: Appointment) -> Appointment:
        practitioner = self.directory.practitioners[appointment.practitioner_id]
        resource = new_appointment(appointment, self._patients[appointment.patient_id], practitioner)
        entry = {
            "fullUrl": f"urn:uuid:{appointment.id}",
            "resource": resource,
            "request": {
                "method": "POST",
                "url": "Appointment",
                "ifNoneExist": f"identifier={token(codes.IGNIS_BOOKING, str(appointment.idempotency_key))}",
            },
        }
        try:
            answers = await self._locked_write(
                appointment.practitioner_id, lambda: entry, appointment.start_at, appointment.end_at
            )
        except SlotAlreadyTaken:
            if await self.by_idempotency_key(str(appointment.idempotency_key)) is not None:
                raise DuplicateBooking() from None  # taken by the identical call (a retry that raced it)
            raise
        if not str((answers[1].get("response") or {}).get("status", "")).startswith("201"):
            raise DuplicateBooking()  # the identical call made it first
        appointment.version = 1
        return appointment

    async def move(
        self,
        appointment: Appointment,
        practitioner_id: str,
        visit_type_id: str,
        start: dt.datetime,
        end: dt.datetime,
        late: bool = False,
    ) -> None:
        """The same Appointment resource, new time (`ifMatch` on the version read, with the Schedule bump).
        Changed on the server meanwhile: tried again on the new version if only what the caller was not told
        changed, `AppointmentChanged` otherwise (`_read_again`)."""
        appointment.late_change = late  # told in the reply and the event; the resource carries no such flag
        practitioner = self.directory.practitioners[practitioner_id]

        def entry() -> Resource:
            read = self._read[appointment.id]
            return {
                "resource": moved(read, practitioner, visit_type_id, start, end),
                "request": {
                    "method": "PUT",
                    "url": f"Appointment/{read['id']}",
                    "ifMatch": f'W/"{version_of(read)}"',
                },
            }

        await self._locked_write(practitioner_id, entry, start, end, ignore=appointment.id)
        appointment.practitioner_id, appointment.visit_type_id = practitioner_id, visit_type_id
        appointment.start_at, appointment.end_at = start, end
        appointment.version = change(self._read[appointment.id]) + 1

    async def cancel(self, appointment: Appointment, now: dt.datetime) -> None:
        """Status cancelled on the same resource (`ifMatch`). Freeing time needs no Schedule bump. Changed on
        the server meanwhile: as for a move (`_read_again`)."""
        for _ in range(BOOKING_ATTEMPTS):
            read = self._read[appointment.id]
            try:
                await self.fhir.update(cancelled(read), if_match=version_of(read))
                break
            except FhirPreconditionFailed:
                await self._read_again(appointment.id)
        else:
            raise AppointmentChanged("the appointment keeps changing on the server")
        appointment.status = "cancelled"
        appointment.version = change(self._read[appointment.id]) + 1
        appointment.cancelled_at = appointment.updated_at = now
        appointment.idempotency_key = None


def records(session: AsyncSession, calendar: FhirCalendar | None) -> Records:
    """The unit of work's records: the appointments on the FHIR server when the service runs with one, in
    Ignis' Postgres otherwise; the waiting list and the outbox in Ignis' Postgres either way."""
    appointments = AppointmentRepository(session) if calendar is None else FhirAppointments(calendar)
    return Records(appointments, WaitlistRepository(session))
