"""The slot engine: free appointment slots computed from the practice file and the booked intervals.

Pure, no I/O: slots are never stored, they are computed from the weekly hours, the closures, the public
holidays of the Bundesland and the busy intervals the caller reads from the database, and re-validated with
`Calendar.is_bookable` when a caller books one. All datetimes leave this module aware and in UTC; hours are
read as local wall-clock times in the practice's zone, so weeks with a DST change come out right.

Inside, the slot search counts in integer seconds since the epoch (booked time comes from the database as
such): a search through the whole horizon walks ninety days, and datetime arithmetic with zone conversions
on every step was a fifth of the scheduler's time. Each practitioner's working day is computed once.
"""

import base64
import binascii
import bisect
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo

import holidays

from ignis.language.spoken import SpokenStyle, spoken_date, spoken_time
from ignis.practice.config import WEEKDAYS, OpeningState, Practice, Practitioner, VisitType

__all__ = [
    "Booked",
    "Busy",
    "Calendar",
    "Slot",
    "merge_busy",
    "parse_slot_id",
    "slot_id",
    "spoken_slot",
]

Interval = tuple[datetime, datetime]
Seconds = int  # since the epoch (UTC)
# Practitioner id -> booked [start, end) intervals: aware datetimes, or seconds (what the repository reads).
Busy = Mapping[str, Sequence[Interval] | Sequence[tuple[Seconds, Seconds]]]


class Booked(dict[str, list[tuple[Seconds, Seconds]]]):
    """Busy intervals in seconds, sorted and merged (`merge_busy`): `free_slots` takes them as they are, so a
    search that looks at the same booked time chunk after chunk merges it once."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_LATEST = 2**62  # seconds: later than any end
_MAX_CLOSURE_RUN = 400  # days; bounds the walk to a closure's real start/end in next_closures


@dataclass(frozen=True, slots=True)
class Slot:
    """An offer: one practitioner, one visit type, [start, end) aware in UTC."""

    practitioner_id: str
    visit_type_id: str
    start: datetime
    end: datetime


def _utc(moment: datetime) -> datetime:
    """Aware → UTC; a naive datetime is a programming error, since its zone would be a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("expected an aware datetime")
    return moment.astimezone(UTC)


def _seconds(moment: datetime, up: bool = False) -> Seconds:
    """Whole seconds since the epoch, rounded down (or `up`), exactly (no float)."""
    return -((_EPOCH - _utc(moment)) // _SECOND) if up else (_utc(moment) - _EPOCH) // _SECOND


def _moment(seconds: Seconds) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class _Range:
    """A working range in seconds, with the zone's UTC offset at its start and end (they differ only on a
    range a DST change falls into)."""

    start: Seconds
    end: Seconds
    offset_at_start: Seconds
    offset_at_end: Seconds


@dataclass(frozen=True, slots=True)
class _WorkDay:
    """One practitioner's day, computed once: its working ranges."""

    ranges: tuple[_Range, ...]


class Calendar:
    """The practice's calendar rules; build once per practice file, it caches the holidays per year."""

    def __init__(self, practice: Practice, spoken_style: SpokenStyle = "digits") -> None:
        self.practice = practice
        self.spoken_style = spoken_style  # how slots and days are written for the voice (IGNIS_SPOKEN_STYLE)
        self.zone = ZoneInfo(practice.timezone)
        self._holidays: dict[int, dict[date, str]] = {}
        self._order = {p.id: index for index, p in enumerate(practice.practitioners)}
        self._days: dict[tuple[str, date], _WorkDay] = {}

    def prepare(self, today: date) -> None:
        """Load this year's and next year's public holidays now: the first load takes about a second (the
        holidays package builds its tables), which the first caller's find_slots would otherwise wait for."""
        for year in (today.year, today.year + 1):
            self.holiday(date(year, 1, 1))

    # -- days ---------------------------------------------------------------------------------------------

    def holiday(self, day: date) -> str | None:
        """German name of the public holiday in the practice's Bundesland, or None."""
        year = self._holidays.get(day.year)
        if year is None:
            table = holidays.country_holidays(
                "DE", subdiv=self.practice.bundesland, years=day.year, language="de"
            )
            year = self._holidays[day.year] = dict(table.items())
        return year.get(day)

    def _practice_closure(self, day: date) -> str | None:
        return next((c.reason for c in self.practice.closures if c.start <= day <= c.end), None)

    def closure(self, day: date, practitioner: Practitioner | None = None) -> str | None:
        """Why nobody (or this practitioner) works that day: holiday, closure or absence; None if open."""
        reason = self.holiday(day) or self._practice_closure(day)
        if reason is None and practitioner is not None:
            reason = next((a.reason for a in practitioner.absences if a.start <= day <= a.end), None)
        return reason

    def opening_ranges(self, day: date) -> list[tuple[time, time]]:
        """The practice's opening hours that day (an end of 00:00 is midnight); [] if closed."""
        if self.closure(day):
            return []
        return sorted(self.practice.opening_hours.get(WEEKDAYS[day.weekday()], []))

    def is_open(self, moment: datetime) -> bool:
        """Whether the practice is open at `moment` (aware); a range ending at 24:00 includes 23:59."""
        local = _utc(moment).astimezone(self.zone)
        now = local.time()
        return any(
            start <= now and (end == time(0, 0) or now < end)
            for start, end in self.opening_ranges(local.date())
        )

    def opening_state(self, moment: datetime) -> OpeningState:
        """The practice's state at `moment` (aware): one of its closures, open, between two ranges of the
        day, or closed (before, after, a day without hours, a public holiday)."""
        local = _utc(moment).astimezone(self.zone)
        if self._practice_closure(local.date()):
            return "vacation"
        ranges = self.opening_ranges(local.date())
        clock = local.time()
        if any(start <= clock < end or (end == time(0) and start <= clock) for start, end in ranges):
            return "open"
        if any(end <= clock for _, end in ranges if end != time(0)) and any(clock < s for s, _ in ranges):
            return "lunch_break"
        return "closed"

    def next_closures(self, today: date, days: int = 60) -> list[tuple[date, date, str]]:
        """Practice-wide closures (holidays and closures, not absences) ahead, one entry per run of days.

        A run ongoing today keeps its real first day, and one reaching past the horizon its real last day, so
        the agent can say "vom 21. Dezember bis 4. Januar". Where a practice closure spans a holiday, the
        closure's reason wins, so company holidays are not split into pieces around Christmas.
        """
        runs: list[tuple[date, date, str]] = []
        for offset in range(days + 1):
            day = today + timedelta(days=offset)
            reason = self._practice_reason(day)
            if reason is None:
                continue
            if runs and runs[-1][2] == reason and runs[-1][1] == day - timedelta(days=1):
                runs[-1] = (runs[-1][0], day, reason)
            else:
                runs.append((day, day, reason))
        if runs and runs[0][0] == today:
            first, last, reason = runs[0]
            runs[0] = (self._walk(first, reason, -1), last, reason)
        if runs and runs[-1][1] == today + timedelta(days=days):
            first, last, reason = runs[-1]
            runs[-1] = (first, self._walk(last, reason, 1), reason)
        return runs

    def _practice_reason(self, day: date) -> str | None:
        return self._practice_closure(day) or self.holiday(day)

    def _walk(self, day: date, reason: str, direction: int) -> date:
        """The last day reached from `day` in `direction` with the same closure reason."""
        for _ in range(_MAX_CLOSURE_RUN):
            following = day + timedelta(days=direction)
            if self._practice_reason(following) != reason:
                break
            day = following
        return day

    def working_ranges(self, practitioner: Practitioner, day: date) -> list[Interval]:
        """The practitioner's working [start, end) ranges that day in UTC; [] if closed or absent."""
        return [(_moment(r.start), _moment(r.end)) for r in self._work_day(practitioner, day).ranges]

    def _work_day(self, practitioner: Practitioner, day: date) -> _WorkDay:
        """Computed once: the practice file does not change under a Calendar (one is built per file)."""
        key = (practitioner.id, day)
        work_day = self._days.get(key)
        if work_day is None:
            ranges = []
            if not self.closure(day, practitioner):
                for start, end in sorted(practitioner.hours.get(WEEKDAYS[day.weekday()], [])):
                    end_day = day + timedelta(days=1) if end == time(0, 0) else day
                    local_start = datetime.combine(day, start, tzinfo=self.zone)
                    local_end = datetime.combine(end_day, end, tzinfo=self.zone)
                    ranges.append(
                        _Range(
                            _seconds(local_start),
                            _seconds(local_end),
                            _offset(local_start),
                            _offset(local_end),
                        )
                    )
            work_day = self._days[key] = _WorkDay(tuple(ranges))
        return work_day

    # -- slots --------------------------------------------------------------------------------------------

    def bookable_window(
        self, now: datetime, earliest: datetime | None = None, latest: datetime | None = None
    ) -> Interval | None:
        """Where slots may lie: past the minimum notice, within the horizon, narrowed by the caller's wish."""
        policy = self.practice.booking
        start = _utc(now) + timedelta(minutes=policy.min_notice_minutes)
        end = _utc(now) + timedelta(days=policy.horizon_days)
        if earliest is not None:
            start = max(start, _utc(earliest))
        if latest is not None:
            end = min(end, _utc(latest))
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
        window_start, window_end = _seconds(window[0], up=True), _seconds(window[1])
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
        day = _utc(window[0]).astimezone(self.zone).date()
        last_day = _utc(window[1]).astimezone(self.zone).date()
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
                Slot(person_id, visit_type.id, _moment(start), _moment(start + duration))
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
            for free_start, free_end in _free(working, booked):
                start, stop = max(free_start, window_start), min(free_end, window_end)
                if stop - start < duration:
                    continue  # too short for the visit, whatever the grid
                start = self._ceil_to_grid(start, working)
                while start + duration <= stop:
                    yield start
                    start += step

    def _ceil_to_grid(self, moment: Seconds, working: _Range | None = None) -> Seconds:
        """Round up to the booking grid on the local clock (minute % grid == 0): what callers hear.

        The zone's offset is the working range's, unless a DST change falls into that range."""
        if working is not None and working.offset_at_start == working.offset_at_end:
            offset = working.offset_at_start
        else:
            offset = _offset(_moment(moment).astimezone(self.zone))
        grid = self.practice.booking.grid_minutes
        local = moment + offset
        over = (local // 60 % 60 % grid) * 60 + local % 60
        return moment + (grid * 60 - over) if over else moment

    def _in_hours(self, start: Seconds, after: time | None, before: time | None) -> bool:
        if after is None and before is None:
            return True
        local = _moment(start).astimezone(self.zone).time()
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
        start, end = _utc(slot.start), _utc(slot.end)
        if end - start != timedelta(minutes=visit_type.minutes):
            return False
        if start.second or start.microsecond or self._ceil_to_grid(_seconds(start)) != _seconds(start):
            return False
        day = start.astimezone(self.zone).date()
        if not any(lo <= start and end <= hi for lo, hi in self.working_ranges(practitioner, day)):
            return False
        window = self.bookable_window(now)
        return window is not None and window[0] <= start and end <= window[1]


def merge_busy(busy: Busy) -> Booked:
    return Booked({practitioner_id: _merged(intervals) for practitioner_id, intervals in busy.items()})


def _merged(
    intervals: Sequence[Interval] | Sequence[tuple[Seconds, Seconds]],
) -> list[tuple[Seconds, Seconds]]:
    """Busy intervals in seconds (rounded outwards), sorted and with overlaps joined, so their ends ascend
    for bisect."""
    merged: list[tuple[Seconds, Seconds]] = []
    if intervals and isinstance(intervals[0][0], datetime):
        intervals = [(_seconds(s), _seconds(e, up=True)) for s, e in cast(Sequence[Interval], intervals)]
    for start, end in sorted(cast(Sequence[tuple[Seconds, Seconds]], intervals)):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _free(working: _Range, booked: list[tuple[Seconds, Seconds]]) -> Iterator[tuple[Seconds, Seconds]]:
    """A working range minus the (merged, sorted) busy intervals."""
    cursor, range_end = working.start, working.end
    # The first interval ending after the range starts: the one before the first that starts after it,
    # or that one (merged intervals are disjoint, so their ends ascend with their starts).
    first = bisect.bisect_right(booked, (cursor, _LATEST))
    if first and booked[first - 1][1] > cursor:
        first -= 1
    for index in range(first, len(booked)):
        busy_start, busy_end = booked[index]
        if busy_start >= range_end:
            break
        if busy_start > cursor:
            yield cursor, busy_start
        cursor = max(cursor, busy_end)
    if cursor < range_end:
        yield cursor, range_end


def _offset(local: datetime) -> Seconds:
    offset = local.utcoffset()
    assert offset is not None  # aware in the practice's zone
    return offset // _SECOND


# -- slot ids ---------------------------------------------------------------------------------------------

_STAMP = "%Y%m%d%H%M"
_ID_TEXT = re.compile(r"[A-Za-z0-9_-]{1,200}")
_ID_FIELDS = re.compile(r"([a-z0-9_-]+)\|([a-z0-9_-]+)\|(\d{12})")


def slot_id(slot: Slot) -> str:
    """An opaque, URL-safe id the agent hands back to book an offered slot (minute precision, UTC)."""
    raw = f"{slot.practitioner_id}|{slot.visit_type_id}|{_utc(slot.start).strftime(_STAMP)}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def parse_slot_id(text: str, practice: Practice) -> Slot | None:
    """The slot behind `slot_id`'s output, or None for anything malformed or unknown; never raises."""
    if not isinstance(text, str) or not _ID_TEXT.fullmatch(text):
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    fields = _ID_FIELDS.fullmatch(raw)
    if fields is None:
        return None
    practitioner, visit_type = practice.practitioner(fields[1]), practice.visit_type(fields[2])
    if practitioner is None or visit_type is None:
        return None
    try:
        start = datetime.strptime(fields[3], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    slot = Slot(practitioner.id, visit_type.id, start, start + timedelta(minutes=visit_type.minutes))
    return slot if slot_id(slot) == text else None  # one id per slot: no padding or stray-bit variants


def spoken_slot(calendar: Calendar, slot: Slot) -> str:
    """``Dienstag, 2. Dezember, um 9:30 Uhr bei Dr. Weber`` (or in words, as the calendar's style says): local
    time, the name from the practice file."""
    local = slot.start.astimezone(calendar.zone)
    practitioner = calendar.practice.practitioner(slot.practitioner_id)
    name = practitioner.name if practitioner else slot.practitioner_id
    style = calendar.spoken_style
    return f"{spoken_date(local.date(), style)}, um {spoken_time(local.time(), style)} bei {name}"
