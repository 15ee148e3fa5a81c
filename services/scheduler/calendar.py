"""The slot engine: free appointment slots computed from the practice file and the booked intervals.

Pure, no I/O: slots are never stored, they are computed from the practitioners' weekly hours on the practice's
open days (`days.PracticeDays`) and the busy intervals the caller reads from the database, and re-validated
with `Calendar.is_bookable` when a caller books one. All datetimes leave this module aware and in UTC; hours
are read as local wall-clock times in the practice's zone, so weeks with a DST change come out right.

Inside, the slot search counts in integer seconds since the epoch (`intervals`). Each practitioner's working
day is computed once.
"""

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from ignis.language.spoken import SpokenStyle
from ignis.practice.config import WEEKDAYS, Practice, Practitioner, VisitType
from ignis.scheduler.days import PracticeDays
from ignis.scheduler.intervals import (
    Booked,
    Busy,
    Interval,
    Seconds,
    WorkRange,
    as_utc,
    free_ranges,
    from_seconds,
    merge_busy,
    to_seconds,
    utc_offset,
)
from ignis.scheduler.slots import Slot

__all__ = ["Calendar"]


@dataclass(frozen=True, slots=True)
class _WorkDay:
    """One practitioner's day, computed once: its working ranges."""

    ranges: tuple[WorkRange, ...]


class Calendar(PracticeDays):
    """The practice's calendar rules: its days, and the slots free in them; build once per practice file."""

    def __init__(self, practice: Practice, spoken_style: SpokenStyle = "digits") -> None:
        super().__init__(practice)
        self.spoken_style = spoken_style  # how slots and days are written for the voice (IGNIS_SPOKEN_STYLE)
        self._order = {p.id: index for index, p in enumerate(practice.practitioners)}
        self._work_days: dict[tuple[str, date], _WorkDay] = {}

    def working_ranges(self, practitioner: Practitioner, day: date) -> list[Interval]:
        """The practitioner's working [start, end) ranges that day in UTC; [] if closed or absent."""
        ranges = self._work_day(practitioner, day).ranges
        return [(from_seconds(r.start), from_seconds(r.end)) for r in ranges]

    def _work_day(self, practitioner: Practitioner, day: date) -> _WorkDay:
        """Computed once: the practice file does not change under a Calendar (one is built per file)."""
        key = (practitioner.id, day)
        work_day = self._work_days.get(key)
        if work_day is None:
            ranges = []
            if not self.closure(day, practitioner):
                for start, end in sorted(practitioner.hours.get(WEEKDAYS[day.weekday()], [])):
                    end_day = day + timedelta(days=1) if end == time(0, 0) else day
                    local_start = datetime.combine(day, start, tzinfo=self.zone)
                    local_end = datetime.combine(end_day, end, tzinfo=self.zone)
                    ranges.append(
                        WorkRange(
                            to_seconds(local_start),
                            to_seconds(local_end),
                            utc_offset(local_start),
                            utc_offset(local_end),
                        )
                    )
            work_day = self._work_days[key] = _WorkDay(tuple(ranges))
        return work_day

    def end_of_first_working_day(
        self, practitioner_ids: Collection[str], start: datetime, limit: datetime
    ) -> datetime:
        """The end (local midnight, in UTC) of the first day from `start` on which one of these practitioners
        works after `start`, or `limit` if none does before it."""
        moment = to_seconds(start)
        people = [p for p in self.practice.practitioners if p.id in practitioner_ids]
        day = as_utc(start).astimezone(self.zone).date()
        while True:
            day_end = as_utc(datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone))
            if day_end >= limit:
                return limit
            if any(r.end > moment for person in people for r in self._work_day(person, day).ranges):
                return day_end
            day += timedelta(days=1)

    # -- slots --------------------------------------------------------------------------------------------

    def bookable_window(
        self, now: datetime, earliest: datetime | None = None, latest: datetime | None = None
    ) -> Interval | None:
        """Where slots may lie: past the minimum notice, within the horizon, narrowed by the caller's wish."""
        policy = self.practice.booking
        start = as_utc(now) + timedelta(minutes=policy.min_notice_minutes)
        end = as_utc(now) + timedelta(days=policy.horizon_days)
        if earliest is not None:
            start = max(start, as_utc(earliest))
        if latest is not None:
            end = min(end, as_utc(latest))
        return (start, end) if start < end else None

    def free_slots(
        self,
        visit_type: VisitType,
        busy: Busy,
        window: Interval,
        *,
        after: time | None = None,
        before: time | None = None,
        practitioner_ids: Collection[str] | None = None,
        limit: int = 3,
    ) -> list[Slot]:
        """The earliest free slots in `window`, by start and then file order of the practitioners.

        `after` and `before` bound a slot's local start time, whatever its day ("nach 16 Uhr").

        Walks local days from the window's start and stops once `limit` slots are found, so asking for the
        next three slots costs a day or two of work, not the whole horizon.
        """
        if limit <= 0:
            return []
        # Slot starts are whole grid minutes: rounding the window inwards to whole seconds changes none.
        window_start, window_end = to_seconds(window[0], up=True), to_seconds(window[1])
        people = [
            p
            for p in self.practice.offering(visit_type)
            if practitioner_ids is None or p.id in practitioner_ids
        ]
        booked = busy if isinstance(busy, Booked) else merge_busy(busy)
        duration = visit_type.minutes * 60
        grid = self.practice.booking.grid_minutes * 60
        step = -(-duration // grid) * grid
        found: list[Slot] = []
        day = as_utc(window[0]).astimezone(self.zone).date()
        last_day = as_utc(window[1]).astimezone(self.zone).date()
        while day <= last_day and len(found) < limit:
            today: list[tuple[Seconds, int, str]] = []
            for person in people:
                work_day = self._work_day(person, day)
                order = self._order[person.id]
                count = 0
                for start in self._starts(
                    work_day, booked.get(person.id, []), window_start, window_end, duration, step
                ):
                    if not self._in_hours(start, after, before):
                        continue
                    today.append((start, order, person.id))
                    count += 1
                    if count == limit:  # later ones of this person cannot be among the first `limit`
                        break
            today.sort()
            found.extend(
                Slot(person_id, visit_type.id, from_seconds(start), from_seconds(start + duration))
                for start, _, person_id in today[: limit - len(found)]
            )
            day += timedelta(days=1)
        return found

    def _starts(
        self,
        work_day: _WorkDay,
        booked: list[tuple[Seconds, Seconds]],
        window_start: Seconds,
        window_end: Seconds,
        duration: Seconds,
        step: Seconds,
    ) -> Iterator[Seconds]:
        """Slot starts of one practitioner on one day, ascending: grid-aligned, one visit length apart."""
        for working in work_day.ranges:
            for free_start, free_end in free_ranges(working, booked):
                start, stop = max(free_start, window_start), min(free_end, window_end)
                if stop - start < duration:
                    continue  # too short for the visit, whatever the grid
                start = self._ceil_to_grid(start, working)
                while start + duration <= stop:
                    yield start
                    start += step

    def _ceil_to_grid(self, moment: Seconds, working: WorkRange | None = None) -> Seconds:
        """Round up to the booking grid on the local clock (minute % grid == 0): what callers hear.

        The zone's offset is the working range's, unless a DST change falls into that range."""
        if working is not None and working.offset_at_start == working.offset_at_end:
            offset = working.offset_at_start
        else:
            offset = utc_offset(from_seconds(moment).astimezone(self.zone))
        grid = self.practice.booking.grid_minutes
        local = moment + offset
        over = (local // 60 % 60 % grid) * 60 + local % 60
        return moment + (grid * 60 - over) if over else moment

    def _in_hours(self, start: Seconds, after: time | None, before: time | None) -> bool:
        if after is None and before is None:
            return True
        local = from_seconds(start).astimezone(self.zone).time()
        return (after is None or local >= after) and (before is None or local < before)

    def is_bookable(self, slot: Slot, now: datetime) -> bool:
        """Re-check a slot a caller wants to book: it came from the caller, so it may be stale or made up.

        Overlap with other appointments is not checked here: the database's exclusion constraint does that
        atomically, which a check in this process could not.
        """
        visit_type = self.practice.visit_type(slot.visit_type_id)
        practitioner = self.practice.practitioner(slot.practitioner_id)
        if visit_type is None or practitioner is None:
            return False
        if visit_type.practitioners is not None and practitioner.id not in visit_type.practitioners:
            return False
        if slot.start.tzinfo is None or slot.end.tzinfo is None:
            return False
        start, end = as_utc(slot.start), as_utc(slot.end)
        if end - start != timedelta(minutes=visit_type.minutes):
            return False
        if start.second or start.microsecond or self._ceil_to_grid(to_seconds(start)) != to_seconds(start):
            return False
        day = start.astimezone(self.zone).date()
        if not any(lo <= start and end <= hi for lo, hi in self.working_ranges(practitioner, day)):
            return False
        window = self.bookable_window(now)
        return window is not None and window[0] <= start and end <= window[1]
