"""The only module of the scheduler that runs SQL. It flushes, never commits.

Two repositories: `AppointmentRepository`, the appointments in Ignis' own record mode (one implementation
of the `records.AppointmentRecords` port; `fhir_records.FhirAppointments` is the other), and
`WaitlistRepository`, what is Ignis' business in both record modes: the waiting list, the slots held from
it, and the outbox."""

import datetime as dt
import math
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from asyncpg.exceptions import ExclusionViolationError, UniqueViolationError
from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    TextClause,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ignis.contracts.base import Event
from ignis.kit.crypto import Encrypted
from ignis.kit.db import Repository
from ignis.kit.outbox import event_row, events_added
from ignis.scheduler.errors import DuplicateBooking, SlotAlreadyTaken
from ignis.scheduler.models import SCHEMA, Appointment, SlotHold, WaitlistEntry
from ignis.scheduler.slots import Slot


class Upcoming(NamedTuple):
    """An appointment as `upcoming_for_patient` reads it (a `records.Scheduled`)."""

    id: uuid.UUID
    practitioner_id: str
    visit_type_id: str
    start_at: dt.datetime
    end_at: dt.datetime


@dataclass(frozen=True)
class Holds:
    """Which held slots count as busy: those held for anyone but `holder`, until they expire."""

    now: dt.datetime
    holder: uuid.UUID | None = None

    def others(self) -> list[ColumnElement[bool]]:
        conditions = [SlotHold.expires_at > self.now]
        if self.holder is not None:
            conditions.append(SlotHold.patient_id != self.holder)
        return conditions


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
        rows = await self.session.execute(_BUSY, {"ids": list(practitioner_ids), "start": start, "end": end})
        return {practitioner_id: list(zip(lo, hi, strict=True)) for practitioner_id, lo, hi in rows}

    async def busy_or_held(
        self, practitioner_ids: Collection[str], start: dt.datetime, end: dt.datetime, holds: Holds
    ) -> dict[str, list[tuple[int, int]]]:
        """`busy` and `WaitlistRepository.with_held` in one statement (one round trip: on the hottest read a
        round trip costs more than either query), which Ignis' record mode can do since the slots held
        from the waiting list are in the same database. The same answer: each practitioner's intervals
        sorted as (start, end) pairs."""
        statement = _BUSY_OR_HELD if holds.holder is None else _BUSY_OR_HELD_FOR_OTHERS
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
        rows = await self.session.execute(_BUSY_OR_HELD_FOR_OTHERS_AND_OWN, params)
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
        held = select(SlotHold.id).where(*_held_there(practitioner_id, start, end, holds))
        booked = self._booked_there(practitioner_id, start, end, ignore)
        return not await self.session.scalar(select(or_(booked.exists(), held.exists())))

    def _booked_there(
        self, practitioner_id: str, start: dt.datetime, end: dt.datetime, ignore: uuid.UUID | None
    ) -> Select[uuid.UUID]:
        return select(Appointment.id).where(
            Appointment.practitioner_id == practitioner_id, _overlapping(start, end), Appointment.id != ignore
        )

    async def by_idempotency_key(self, key: str) -> Appointment | None:
        return await self.session.scalar(select(Appointment).where(Appointment.idempotency_key == key))

    async def get_for_update(self, appointment_id: uuid.UUID) -> Appointment | None:
        return await self.session.scalar(
            select(Appointment).where(Appointment.id == appointment_id).with_for_update()
        )

    async def upcoming_for_patient(self, patient_id: uuid.UUID, now: dt.datetime) -> Sequence[Upcoming]:
        """Plain rows of the columns the caller is told (a list is only read: no entities to load)."""
        rows = await self.session.execute(_UPCOMING, {"patient": patient_id, "now": now})
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
            text(f"SELECT pg_advisory_xact_lock({_BOOKING_LOCK})"), {"practitioner": practitioner_id}
        )
        self._locked.add(practitioner_id)

    async def by_key_locking(self, key: str, practitioner_id: str) -> Appointment | None:
        """`by_idempotency_key` and `lock_practitioner` in one round trip. The look-up sees what was
        committed before the lock was granted; `place`, under the lock, looks again."""
        params = {"key": key, "practitioner": practitioner_id}
        row = (await self.session.execute(_BY_KEY_LOCKING, params)).one()
        self._locked.add(practitioner_id)
        return _keyed(row)

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
        row = (await self.session.execute(_PLACE, params)).one()
        if row.booked:
            events_added(self.session)
            return "booked"
        if (existing := _keyed(row)) is not None:
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


class WaitlistRepository(Repository):
    """Ignis' own business in both record modes: the waiting list, the slots held from it, the outbox."""

    schema = SCHEMA

    async def with_held(
        self,
        busy: dict[str, list[tuple[int, int]]],
        practitioner_ids: Collection[str],
        start: dt.datetime,
        end: dt.datetime,
        holds: Holds | None,
    ) -> dict[str, list[tuple[int, int]]]:
        """`busy` plus the slots held from the waiting list for others (kept in Ignis' schema in both record
        modes), in the same whole seconds."""
        if holds is None:
            return busy
        held = await self.session.execute(
            select(SlotHold.practitioner_id, SlotHold.start_at, SlotHold.end_at).where(
                SlotHold.practitioner_id.in_(practitioner_ids),
                SlotHold.start_at < end,
                SlotHold.end_at > start,
                *holds.others(),
            )
        )
        for practitioner_id, start_at, end_at in held:
            interval = (math.floor(start_at.timestamp()), math.ceil(end_at.timestamp()))
            busy[practitioner_id] = sorted([*busy.get(practitioner_id, []), interval])
        return busy

    async def held_for_others(
        self, practitioner_id: str, start: dt.datetime, end: dt.datetime, holds: Holds
    ) -> bool:
        """Whether a slot overlapping [start, end) is held from the waiting list for someone else."""
        held = select(SlotHold.id).where(*_held_there(practitioner_id, start, end, holds))
        return await self.session.scalar(held.limit(1)) is not None

    async def waitlist_entry_by_key(self, key: str) -> WaitlistEntry | None:
        return await self.session.scalar(select(WaitlistEntry).where(WaitlistEntry.idempotency_key == key))

    async def add_waitlist_entry(self, entry: WaitlistEntry) -> WaitlistEntry:
        """Insert unless its key exists (a retry that raced its original); the stored entry either way."""
        await self.session.execute(
            insert(WaitlistEntry)
            .values(
                id=entry.id,
                patient_id=entry.patient_id,
                visit_type_id=entry.visit_type_id,
                practitioner_id=entry.practitioner_id,
                earliest=entry.earliest,
                latest=entry.latest,
                conversation_id=entry.conversation_id,
                idempotency_key=entry.idempotency_key,
            )
            .on_conflict_do_nothing(index_elements=[WaitlistEntry.idempotency_key])
        )
        stored = await self.waitlist_entry_by_key(entry.idempotency_key)
        assert stored is not None
        return stored

    async def waiting_position(self, entry: WaitlistEntry) -> int:
        query = select(func.count()).where(
            WaitlistEntry.visit_type_id == entry.visit_type_id,
            WaitlistEntry.status == "waiting",
            WaitlistEntry.created_at <= entry.created_at,
        )
        return int(await self.session.scalar(query) or 0)

    async def waiting_for(self, visit_type_ids: Collection[str]) -> Sequence[WaitlistEntry]:
        """Those waiting for these visit types, first come first; locked, and skipping entries another
        transaction is offering a slot to right now."""
        query = (
            select(WaitlistEntry)
            .where(WaitlistEntry.visit_type_id.in_(visit_type_ids), WaitlistEntry.status == "waiting")
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.execute(query)).scalars().all()

    async def add_hold(self, hold: SlotHold) -> None:
        self.session.add(hold)
        await self.session.flush()

    async def holds_of(self, patient_id: uuid.UUID, now: dt.datetime) -> list[Slot]:
        """The slots held for the patient that have not expired, by start (plain rows: only read)."""
        rows = await self.session.execute(_HOLDS_OF, {"holder": patient_id, "now": now})
        return [Slot(*row) for row in rows]

    async def booked_from_waitlist(self, patient_id: uuid.UUID, visit_type_id: str) -> None:
        """The patient booked this visit type: off the waiting list, and their holds for it released."""
        await self.session.execute(
            update(WaitlistEntry)
            .where(
                WaitlistEntry.patient_id == patient_id,
                WaitlistEntry.visit_type_id == visit_type_id,
                WaitlistEntry.status != "booked",
            )
            .values(status="booked")
        )
        await self.session.execute(
            delete(SlotHold).where(SlotHold.patient_id == patient_id, SlotHold.visit_type_id == visit_type_id)
        )

    async def waitlist_page(
        self, limit: int, after: tuple[dt.datetime, uuid.UUID] | None
    ) -> Sequence[WaitlistEntry]:
        query = select(WaitlistEntry).where(WaitlistEntry.status != "booked")
        if after is not None:
            query = query.where(tuple_(WaitlistEntry.created_at, WaitlistEntry.id) > tuple_(*after))
        query = query.order_by(WaitlistEntry.created_at, WaitlistEntry.id).limit(limit)
        return (await self.session.execute(query)).scalars().all()

    async def holds_for_entries(
        self, entry_ids: Collection[uuid.UUID], now: dt.datetime
    ) -> dict[uuid.UUID, SlotHold]:
        query = select(SlotHold).where(SlotHold.entry_id.in_(entry_ids), SlotHold.expires_at > now)
        return {hold.entry_id: hold for hold in (await self.session.execute(query)).scalars()}

    async def erase_waitlist(self, patient_id: uuid.UUID) -> int:
        """Their waiting-list entries (and with them the slots held for them)."""
        query = delete(WaitlistEntry).where(WaitlistEntry.patient_id == patient_id)
        return int((await self.session.execute(query)).rowcount or 0)  # type: ignore[attr-defined]

    async def erase_events(self, patient_id: uuid.UUID) -> int:
        """The outbox's appointment events that name the patient (published or not)."""
        return await self.forget_events("patient_id", str(patient_id))


_BOOKING_LOCK = "hashtext('ignis.scheduler.booking'), hashtext(:practitioner)"
_KEYED = "id, patient_id, practitioner_id, visit_type_id, start_at, end_at, status"

_BY_KEY_LOCKING = text(
    f"""
    SELECT appointment.{_KEYED.replace(", ", ", appointment.")}
      FROM (SELECT pg_advisory_xact_lock({_BOOKING_LOCK})) AS locked
      LEFT JOIN {SCHEMA}.appointment ON appointment.idempotency_key = :key
    """
)

# `AppointmentRepository.place`: the look-up under the lock, `free_nor_held`, the insert, and
# `WaitlistRepository.booked_from_waitlist` and `add_event` once it is in, in one statement.
_PLACE = text(
    f"""
    WITH existing AS (
        SELECT {_KEYED} FROM {SCHEMA}.appointment WHERE idempotency_key = CAST(:key AS text)
    ), taken AS (
        SELECT EXISTS (SELECT FROM {SCHEMA}.appointment
                        WHERE practitioner_id = CAST(:practitioner AS text) AND status <> 'cancelled'
                          AND tstzrange(start_at, end_at) && tstzrange(:start, :end))
            OR EXISTS (SELECT FROM {SCHEMA}.slot_hold
                        WHERE practitioner_id = CAST(:practitioner AS text)
                          AND start_at < :end AND end_at > :start
                          AND expires_at > :now AND patient_id <> CAST(:patient AS uuid)) AS taken
    ), inserted AS (
        INSERT INTO {SCHEMA}.appointment (id, patient_id, practitioner_id, visit_type_id, start_at, end_at,
                                          status, reason, conversation_id, idempotency_key, version,
                                          late_change)
        SELECT CAST(:id AS uuid), CAST(:patient AS uuid), CAST(:practitioner AS text),
               CAST(:visit_type AS text), CAST(:start AS timestamptz), CAST(:end AS timestamptz), 'booked',
               CAST(:reason AS text), CAST(:conversation AS text), CAST(:key AS text), 1, false
         WHERE NOT EXISTS (SELECT FROM existing) AND NOT (SELECT taken FROM taken)
        ON CONFLICT DO NOTHING
        RETURNING id
    ), off_waitlist AS (
        UPDATE {SCHEMA}.waitlist_entry SET status = 'booked'
         WHERE patient_id = CAST(:patient AS uuid) AND visit_type_id = CAST(:visit_type AS text)
           AND status <> 'booked' AND EXISTS (SELECT FROM inserted)
    ), released AS (
        DELETE FROM {SCHEMA}.slot_hold
         WHERE patient_id = CAST(:patient AS uuid) AND visit_type_id = CAST(:visit_type AS text)
           AND EXISTS (SELECT FROM inserted)
    ), announced AS (
        INSERT INTO {SCHEMA}.outbox (event_id, subject, payload)
        SELECT CAST(:event_id AS uuid), CAST(:subject AS text), CAST(:payload AS bytea)
         WHERE EXISTS (SELECT FROM inserted)
    )
    SELECT EXISTS (SELECT FROM inserted) AS booked, (SELECT taken FROM taken) AS taken, existing.*
      FROM (SELECT) AS one LEFT JOIN existing ON true
    """
).bindparams(bindparam("reason", type_=Encrypted()))


def _keyed(row: Row[Any]) -> Appointment | None:
    """The appointment of a look-up by key (`_KEYED`'s columns, None where none was found), detached."""
    if row.id is None:
        return None
    return Appointment(
        id=row.id,
        patient_id=row.patient_id,
        practitioner_id=row.practitioner_id,
        visit_type_id=row.visit_type_id,
        start_at=row.start_at,
        end_at=row.end_at,
        status=row.status,
    )


_UPCOMING = text(
    f"""
    SELECT id, practitioner_id, visit_type_id, start_at, end_at
      FROM {SCHEMA}.appointment
     WHERE patient_id = :patient AND status = 'booked' AND end_at > :now
     ORDER BY start_at
    """
)

# Whole seconds as `date_part` (double precision), not `extract` (numeric, a fifth dearer on the hottest
# read): exact all the same, since an epoch in microseconds fits a double's 53 bits with room to spare, so
# floor and ceil never round across a whole second.
_BUSY = text(
    f"""
    SELECT practitioner_id,
           array_agg(floor(date_part('epoch', start_at))::bigint ORDER BY start_at),
           array_agg(ceil(date_part('epoch', end_at))::bigint ORDER BY start_at)
      FROM {SCHEMA}.appointment
     WHERE practitioner_id = ANY(:ids) AND status <> 'cancelled'
       AND tstzrange(start_at, end_at) && tstzrange(:start, :end)
     GROUP BY practitioner_id
    """
)


def _busy_or_held(held_for: str) -> TextClause:
    """`_BUSY` and the slots held from the waiting list (unexpired; `held_for`: whom they count for), in one
    statement, each practitioner's intervals ordered by (start, end)."""
    return text(
        f"""
        SELECT practitioner_id, array_agg(lo ORDER BY lo, hi), array_agg(hi ORDER BY lo, hi)
          FROM (SELECT practitioner_id,
                       floor(date_part('epoch', start_at))::bigint AS lo,
                       ceil(date_part('epoch', end_at))::bigint AS hi
                  FROM {SCHEMA}.appointment
                 WHERE practitioner_id = ANY(:ids) AND status <> 'cancelled'
                   AND tstzrange(start_at, end_at) && tstzrange(:start, :end)
                UNION ALL
                SELECT practitioner_id,
                       floor(date_part('epoch', start_at))::bigint,
                       ceil(date_part('epoch', end_at))::bigint
                  FROM {SCHEMA}.slot_hold
                 WHERE practitioner_id = ANY(:ids) AND start_at < :end AND end_at > :start
                   AND expires_at > :now{held_for}) AS busy
         GROUP BY practitioner_id
        """
    )


_BUSY_OR_HELD = _busy_or_held("")
_BUSY_OR_HELD_FOR_OTHERS = _busy_or_held(" AND patient_id <> :holder")

_OWN_HOLDS = f"""
    SELECT practitioner_id, visit_type_id, start_at, end_at
      FROM {SCHEMA}.slot_hold
     WHERE patient_id = :holder AND expires_at > :now
"""
_HOLDS_OF = text(_OWN_HOLDS + " ORDER BY start_at")


# `_BUSY_OR_HELD_FOR_OTHERS` and the holder's own holds (`_OWN_HOLDS`), told apart by their visit type.
_BUSY_OR_HELD_FOR_OTHERS_AND_OWN = text(
    f"""
    SELECT busy.*, NULL::text, NULL::timestamptz, NULL::timestamptz
      FROM ({_BUSY_OR_HELD_FOR_OTHERS.text}) AS busy
    UNION ALL
    SELECT practitioner_id, NULL::bigint[], NULL::bigint[], visit_type_id, start_at, end_at
      FROM ({_OWN_HOLDS}) AS own
    """
)


def _held_there(
    practitioner_id: str, start: dt.datetime, end: dt.datetime, holds: Holds
) -> list[ColumnElement[bool]]:
    """A slot held from the waiting list for someone else, overlapping [start, end)."""
    return [
        SlotHold.practitioner_id == practitioner_id,
        SlotHold.start_at < end,
        SlotHold.end_at > start,
        *holds.others(),
    ]


def _overlapping(start: dt.datetime, end: dt.datetime) -> ColumnElement[bool]:
    """Booked time overlapping [start, end), phrased like the exclusion constraint so its GiST index
    serves the query (a plain start/end comparison scans every past appointment)."""
    booked_range = func.tstzrange(Appointment.start_at, Appointment.end_at)
    return and_(Appointment.status != "cancelled", booked_range.op("&&")(func.tstzrange(start, end)))


def _translate(exc: IntegrityError) -> Exception:
    """Expected constraint errors become domain errors; their driver text (with values) is dropped."""
    cause = getattr(exc.orig, "__cause__", None)
    if isinstance(cause, ExclusionViolationError):
        return SlotAlreadyTaken()
    if isinstance(cause, UniqueViolationError):
        return DuplicateBooking()
    return exc
