"""The appointments in Ignis' own Postgres: one implementation of the `records.AppointmentRecords` port
(`fhir_records.FhirAppointments` is the other)."""

import datetime as dt
import uuid
from collections.abc import Callable, Collection, Sequence
from typing import Literal, NamedTuple

from asyncpg.exceptions import ExclusionViolationError, UniqueViolationError
from sqlalchemy import (
    Select,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ignis.contracts.base import Event
from ignis.kit.db import Repository
from ignis.kit.outbox import event_row, events_added
from ignis.scheduler.errors import DuplicateBooking, SlotAlreadyTaken
from ignis.scheduler.models import SCHEMA, Appointment, SlotHold
from ignis.scheduler.repository.statements import (
    BOOKING_LOCK,
    BUSY,
    BUSY_OR_HELD,
    BUSY_OR_HELD_FOR_OTHERS,
    BUSY_OR_HELD_FOR_OTHERS_AND_OWN,
    BY_KEY_LOCKING,
    PLACE,
    UPCOMING,
    Holds,
    held_there,
    keyed,
    overlapping,
)
from ignis.scheduler.slots import Slot


class Upcoming(NamedTuple):
    """An appointment as `upcoming_for_patient` reads it (a `records.Scheduled`)."""

    id: uuid.UUID
    practitioner_id: str
    visit_type_id: str
    start_at: dt.datetime
    end_at: dt.datetime


class AppointmentRepository(Repository):
    """The appointments in Ignis' own Postgres (IGNIS_RECORDS=ignis)."""

    schema = SCHEMA

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._locked: set[str] = set()  # practitioners whose booking lock this unit of work holds

    def know_patient(self, patient_id: uuid.UUID, fhir_patient_id: str | None) -> None:
        """The verified caller's FHIR Patient id, which FHIR record mode books for; unused here."""

    async def busy(
        self, practitioner_ids: Collection[str], start: dt.datetime, end: dt.datetime
    ) -> dict[str, list[tuple[int, int]]]:
        """Booked time of these practitioners that overlaps [start, end), as [start, end) in whole seconds
        since the epoch (rounded outwards): one row per practitioner with two integer arrays, which the
        driver decodes in C, where a row and two aware datetimes per appointment cost more than the query.
        Plain SQL (the overlap phrased like the exclusion constraint, so its GiST index serves it): on the
        hottest read, building the statement cost as much as running it."""
        rows = await self.session.execute(BUSY, {"ids": list(practitioner_ids), "start": start, "end": end})
        return {practitioner_id: list(zip(lo, hi, strict=True)) for practitioner_id, lo, hi in rows}

    async def busy_or_held(
        self, practitioner_ids: Collection[str], start: dt.datetime, end: dt.datetime, holds: Holds
    ) -> dict[str, list[tuple[int, int]]]:
        """`busy` and `WaitlistRepository.with_held` in one statement (one round trip: on the hottest read a
        round trip costs more than either query), which Ignis' record mode can do since the slots held
        from the waiting list are in the same database. The same answer: each practitioner's intervals
        sorted as (start, end) pairs."""
        statement = BUSY_OR_HELD if holds.holder is None else BUSY_OR_HELD_FOR_OTHERS
        params = {"ids": list(practitioner_ids), "start": start, "end": end, "now": holds.now}
        if holds.holder is not None:
            params["holder"] = holds.holder
        rows = await self.session.execute(statement, params)
        return {practitioner_id: list(zip(lo, hi, strict=True)) for practitioner_id, lo, hi in rows}

    async def busy_or_held_and_own(
        self, practitioner_ids: Collection[str], start: dt.datetime, end: dt.datetime, holds: Holds
    ) -> tuple[dict[str, list[tuple[int, int]]], list[Slot]]:
        """`busy_or_held` and the holder's own holds (`WaitlistRepository.holds_of`) in one statement: a
        find_slots with a caller reads both before it answers, and a round trip costs more than either."""
        assert holds.holder is not None
        params = {"ids": list(practitioner_ids), "start": start, "end": end, "now": holds.now}
        params["holder"] = holds.holder
        busy, own = {}, []
        rows = await self.session.execute(BUSY_OR_HELD_FOR_OTHERS_AND_OWN, params)
        for practitioner_id, lo, hi, visit_type_id, start_at, end_at in rows:
            if visit_type_id is None:
                busy[practitioner_id] = list(zip(lo, hi, strict=True))
            else:
                own.append(Slot(practitioner_id, visit_type_id, start_at, end_at))
        own.sort(key=lambda slot: slot.start)
        return busy, own

    async def is_free(
        self, practitioner_id: str, start: dt.datetime, end: dt.datetime, ignore: uuid.UUID | None = None
    ) -> bool:
        """Whether nothing (but `ignore`) is booked there. Under `lock_practitioner` this check and the
        insert that follows cannot be interleaved, so a lost race is answered without a constraint error;
        the exclusion constraint still guards every other path."""
        return (
            await self.session.scalar(self._booked_there(practitioner_id, start, end, ignore).limit(1))
            is None
        )

    async def free_nor_held(
        self,
        practitioner_id: str,
        start: dt.datetime,
        end: dt.datetime,
        ignore: uuid.UUID | None,
        holds: Holds,
    ) -> bool:
        """`is_free` and not `WaitlistRepository.held_for_others`, in one statement (as `busy_or_held`)."""
        held = select(SlotHold.id).where(*held_there(practitioner_id, start, end, holds))
        booked = self._booked_there(practitioner_id, start, end, ignore)
        return not await self.session.scalar(select(or_(booked.exists(), held.exists())))

    def _booked_there(
        self, practitioner_id: str, start: dt.datetime, end: dt.datetime, ignore: uuid.UUID | None
    ) -> Select[uuid.UUID]:
        return select(Appointment.id).where(
            Appointment.practitioner_id == practitioner_id, overlapping(start, end), Appointment.id != ignore
        )

    async def by_idempotency_key(self, key: str) -> Appointment | None:
        return await self.session.scalar(select(Appointment).where(Appointment.idempotency_key == key))

    async def get_for_update(self, appointment_id: uuid.UUID) -> Appointment | None:
        return await self.session.scalar(
            select(Appointment).where(Appointment.id == appointment_id).with_for_update()
        )

    async def upcoming_for_patient(self, patient_id: uuid.UUID, now: dt.datetime) -> Sequence[Upcoming]:
        """Plain rows of the columns the caller is told (a list is only read: no entities to load)."""
        rows = await self.session.execute(UPCOMING, {"patient": patient_id, "now": now})
        return [Upcoming(*row) for row in rows]

    async def seen_before(self, patient_id: uuid.UUID, now: dt.datetime) -> bool:
        """Whether the patient had an appointment here that was not cancelled and has begun."""
        query = select(Appointment.id).where(
            Appointment.patient_id == patient_id, Appointment.status == "booked", Appointment.start_at <= now
        )
        return await self.session.scalar(query.limit(1)) is not None

    async def booked_between(
        self, start: dt.datetime, end: dt.datetime, limit: int, after: tuple[dt.datetime, uuid.UUID] | None
    ) -> Sequence[Appointment]:
        query = select(Appointment).where(
            Appointment.status == "booked", Appointment.start_at >= start, Appointment.start_at < end
        )
        if after is not None:
            query = query.where(tuple_(Appointment.start_at, Appointment.id) > tuple_(*after))
        query = query.order_by(Appointment.start_at, Appointment.id).limit(limit)
        return (await self.session.execute(query)).scalars().all()

    async def erase_patient(self, patient_id: uuid.UUID) -> int:
        result = await self.session.execute(delete(Appointment).where(Appointment.patient_id == patient_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def lock_practitioner(self, practitioner_id: str) -> None:
        """Serialise bookings of one practitioner until this transaction ends (once per unit of work).

        The exclusion constraint alone is correct but lets concurrent inserts of one slot wait on each
        other and end in deadlocks (each sees the other's uncommitted row); queued, each simply finds the
        winner's committed row.
        """
        if practitioner_id in self._locked:
            return
        await self.session.execute(
            text(f"SELECT pg_advisory_xact_lock({BOOKING_LOCK})"), {"practitioner": practitioner_id}
        )
        self._locked.add(practitioner_id)

    async def by_key_locking(self, key: str, practitioner_id: str) -> Appointment | None:
        """`by_idempotency_key` and `lock_practitioner` in one round trip. The look-up sees what was
        committed before the lock was granted; `place`, under the lock, looks again."""
        params = {"key": key, "practitioner": practitioner_id}
        row = (await self.session.execute(BY_KEY_LOCKING, params)).one()
        self._locked.add(practitioner_id)
        return keyed(row)

    async def place(
        self, appointment: Appointment, holds: Holds, announce: Callable[[Appointment], tuple[str, Event]]
    ) -> Appointment | Literal["booked", "taken"]:
        """Book `appointment` under `lock_practitioner` in one statement, if no appointment has its
        idempotency key yet and the time is neither booked nor held for others (`holds`): then the patient
        is off the waiting list for its visit type (their holds for it released) and the event `announce`
        makes is in the outbox. 'booked', 'taken', or the appointment stored with the key first.

        The insert does nothing on a conflict rather than fail (no savepoint needed): the exclusion
        constraint still decides, and a conflict the check under the lock did not foresee is answered as
        `add`'s constraint errors are."""
        appointment.status, appointment.version, appointment.late_change = "booked", 1, False
        subject, event = announce(appointment)
        params = {
            "key": appointment.idempotency_key,
            "id": appointment.id,
            "patient": appointment.patient_id,
            "practitioner": appointment.practitioner_id,
            "visit_type": appointment.visit_type_id,
            "start": appointment.start_at,
            "end": appointment.end_at,
            "reason": appointment.reason,
            "conversation": appointment.conversation_id,
            "now": holds.now,
            **event_row(subject, event),
        }
        row = (await self.session.execute(PLACE, params)).one()
        if row.booked:
            events_added(self.session)
            return "booked"
        if (existing := keyed(row)) is not None:
            return existing
        if row.taken:
            return "taken"
        # Conflicted all the same: a writer that takes no lock (the constraint answers it), or the key.
        assert appointment.idempotency_key is not None
        return await self.by_idempotency_key(appointment.idempotency_key) or "taken"

    async def add(self, appointment: Appointment) -> Appointment:
        """Insert in a savepoint: a lost race is an answer (`slot_taken`), not a failed unit of work."""
        try:
            async with self.session.begin_nested():
                self.session.add(appointment)
        except IntegrityError as exc:
            raise _translate(exc) from None
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
        """Move in a savepoint; if the new time is taken the appointment keeps its old one. Either way the
        appointment is read back as stored (its `updated_at` is the database's clock)."""
        try:
            async with self.session.begin_nested():
                appointment.late_change = late
                appointment.practitioner_id = practitioner_id
                appointment.visit_type_id = visit_type_id
                appointment.start_at, appointment.end_at = start, end
                appointment.version += 1  # the caller holds the row lock
                appointment.updated_at = func.now()
        except IntegrityError as exc:
            await self.session.refresh(appointment)
            raise _translate(exc) from None
        await self.session.refresh(appointment)

    async def cancel(self, appointment: Appointment, now: dt.datetime) -> None:
        """Cancel an appointment read with `get_for_update` (its row lock is held)."""
        appointment.status = "cancelled"
        appointment.version += 1
        appointment.cancelled_at = now
        appointment.updated_at = now
        appointment.idempotency_key = None  # the slot may be booked again, by this caller too


def _translate(exc: IntegrityError) -> Exception:
    """Expected constraint errors become domain errors; their driver text (with values) is dropped."""
    cause = getattr(exc.orig, "__cause__", None)
    if isinstance(cause, ExclusionViolationError):
        return SlotAlreadyTaken()
    if isinstance(cause, UniqueViolationError):
        return DuplicateBooking()
    return exc
