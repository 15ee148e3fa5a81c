"""What is Ignis' business in both record modes: the waiting list, the slots held from it, and the
outbox."""

import datetime as dt
import math
import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import (
    delete,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert

from ignis.kit.db import Repository
from ignis.scheduler.models import SCHEMA, SlotHold, WaitlistEntry
from ignis.scheduler.repository.statements import (
    HOLDS_OF,
    Holds,
    held_there,
)
from ignis.scheduler.slots import Slot


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
        held = select(SlotHold.id).where(*held_there(practitioner_id, start, end, holds))
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
        rows = await self.session.execute(HOLDS_OF, {"holder": patient_id, "now": now})
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
