"""Free slots for a caller: booked time read in chunks, the practice's rules, slots held from the waiting
list first; and a place on the waiting list when nothing fits.
"""

import datetime as dt
from collections.abc import Sequence

from ignis.contracts.base import ErrorCode, ErrorReply
from ignis.contracts.scheduling import (
    FindSlots,
    JoinWaitlist,
    NoSlotsFound,
    NotOffered,
    SlotOffer,
    SlotsOffered,
    VisitTypeInfo,
    VisitTypeUnknown,
    WaitlistJoined,
)
from ignis.language.spoken import spoken_date
from ignis.practice.config import VisitType
from ignis.scheduler import waitlist
from ignis.scheduler.calendar import Calendar
from ignis.scheduler.describe import local_day_start, offer, resolve_practitioner, resolve_visit_type
from ignis.scheduler.intervals import Booked, merge_busy
from ignis.scheduler.records import Records
from ignis.scheduler.repository import Holds
from ignis.scheduler.rules import Patient, refusal
from ignis.scheduler.slots import Slot

# Busy time is read a day first (stretched to the first day someone searched works: a search from a
# Saturday still ends on its first read), then a week, then the rest of the window at once: most searches
# end on their first day, and one through the whole horizon costs three reads (of integers, a row per
# practitioner). A search of one practitioner reads the rest after the first day: their whole horizon is
# about as many rows as a week of ten (~1,800 at 60 % booked over 90 days), so the week only adds a round
# trip, which costs more than its rows.
DAY, WEEK = dt.timedelta(days=1), dt.timedelta(days=7)


class BookedTime:
    """Booked time of the practitioners a request searches, read once and merged once: each read continues
    where the last one ended, so a find_slots that searches again from the same start (its fallback) reads
    only what it has not read yet. With `own_holds`, the slots held for the holder of `holds` are read with
    the first booked time (`held`)."""

    def __init__(self, records: Records, holds: Holds | None = None, own_holds: bool = False) -> None:
        self.records = records
        self.holds = holds  # slots held from the waiting list for others count as booked
        self.ids: list[str] = []
        self.start = self.end = dt.datetime.min.replace(tzinfo=dt.UTC)
        self.booked = Booked()
        self._own: list[Slot] | None = None if own_holds and holds and holds.holder else []

    async def held(self) -> list[Slot]:
        """The slots held for the holder (read now unless read with booked time)."""
        if self._own is None:
            assert self.holds is not None
            assert self.holds.holder is not None
            self._own = await self.records.own.holds_of(self.holds.holder, self.holds.now)
        return self._own

    async def covering(self, ids: list[str], start: dt.datetime, end: dt.datetime) -> Booked:
        """Booked time of `ids` over at least [start, end)."""
        if ids != self.ids or not self.start <= start <= self.end:
            self.ids, self.start, self.end, self.booked = ids, start, start, Booked()
        if end > self.end:
            if self._own is None and self.holds is not None:
                read, self._own = await self.records.busy_and_own_holds(ids, self.end, end, self.holds)
            else:
                read = await self.records.busy(ids, self.end, end, holds=self.holds)
            known = {pid: [*self.booked.get(pid, []), *intervals] for pid, intervals in read.items()}
            self.booked.update(merge_busy(known))
            self.end = end
        return self.booked


async def search(
    records: Records,
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
    """The earliest free slots in `window`, reading booked time chunk by chunk (`_chunk_end`)."""
    offering = [p.id for p in calendar.practice.offering(visit_type)]
    candidates = [p for p in offering if practitioner_ids is None or p in practitioner_ids]
    booked = booked or BookedTime(records)
    found: list[Slot] = []
    start, end = window
    reads = 0
    while start < end and len(found) < limit and candidates:
        chunk = (start, _chunk_end(calendar, candidates, start, end, reads))
        reads += 1
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


def _chunk_end(
    calendar: Calendar, candidates: list[str], start: dt.datetime, end: dt.datetime, reads: int
) -> dt.datetime:
    """Where the read of booked time after `reads` reads ends (see `DAY, WEEK`)."""
    if reads == 0:
        return min(end, max(start + DAY, calendar.end_of_first_working_day(candidates, start, end)))
    if reads == 1 and len(candidates) > 1:
        return min(end, start + WEEK)
    return end


def _unknown_visit_type(calendar: Calendar) -> VisitTypeUnknown:
    return VisitTypeUnknown(
        visit_types=[
            VisitTypeInfo(id=v.id, name=v.name, minutes=v.minutes) for v in calendar.practice.visit_types
        ]
    )


async def refused(
    records: Records,
    calendar: Calendar,
    visit_type: VisitType,
    patient: Patient,
    day: dt.date,
    referral: bool | None,
    now: dt.datetime,
) -> NotOffered | None:
    """The practice's rules for `visit_type`, checked for `patient` on `day` (their age that day). Whether
    the patient was seen here is asked only where a rule depends on it (a read of the records)."""
    seen_before = False
    if patient.registered_by_phone and calendar.practice.rules_for(visit_type).new_patients is False:
        seen_before = await records.appointments.seen_before(patient.id, now)
    return refusal(calendar.practice, visit_type, patient, day, seen_before=seen_before, referral=referral)


async def find_slots(
    records: Records,
    calendar: Calendar,
    cmd: FindSlots,
    now: dt.datetime,
    patient: Patient | None = None,
) -> SlotsOffered | NoSlotsFound | VisitTypeUnknown | NotOffered | ErrorReply:
    visit_type = resolve_visit_type(calendar, cmd.visit_type)
    if visit_type is None:
        return _unknown_visit_type(calendar)
    if patient is not None:
        today = now.astimezone(calendar.zone).date()
        first_day = max(cmd.earliest or today, today)
        if no := await refused(records, calendar, visit_type, patient, first_day, cmd.referral, now):
            return no
    holds = Holds(now, patient.id if patient else None)
    practitioner_ids = None
    if cmd.practitioner:
        practitioner = resolve_practitioner(calendar, cmd.practitioner)
        if practitioner is None:
            return ErrorReply(code=ErrorCode.unknown_practitioner, message="no such practitioner")
        practitioner_ids = [practitioner.id]
    earliest = local_day_start(calendar, cmd.earliest) if cmd.earliest else None
    latest = local_day_start(calendar, cmd.latest + dt.timedelta(days=1)) if cmd.latest else None
    window = calendar.bookable_window(now, earliest, latest)
    booked = BookedTime(records, holds, own_holds=patient is not None)  # the caller's holds with booked time
    slots = []
    if window is not None:
        slots = await search(
            records,
            calendar,
            visit_type,
            window,
            after=cmd.after,
            before=cmd.before,
            practitioner_ids=practitioner_ids,
            limit=cmd.limit,
            booked=booked,
        )
    held: list[SlotOffer] = []
    if patient is not None:
        held = waitlist.held_offers(
            await booked.held(), calendar, visit_type, now, lambda slot: offer(calendar, slot)
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
            records, calendar, visit_type, later, practitioner_ids=practitioner_ids, limit=1, booked=booked
        )
        if later
        else []
    )
    if not following:
        return NoSlotsFound()
    day = following[0].start.astimezone(calendar.zone).date()
    return NoSlotsFound(next_possible=day, next_possible_spoken=spoken_date(day, calendar.spoken_style))


async def join_waitlist(
    records: Records, calendar: Calendar, cmd: JoinWaitlist, patient: Patient, now: dt.datetime
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
    if no := await refused(
        records, calendar, visit_type, patient, max(cmd.earliest or today, today), True, now
    ):
        return no  # a referral is asked for when booking
    return await waitlist.join(records, calendar, cmd, patient, visit_type, practitioner_id)
