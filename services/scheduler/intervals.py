"""Time as the slot search counts it: whole seconds since the epoch, booked intervals merged, and a working
range minus them.

A search through the whole horizon walks ninety days, and datetime arithmetic with zone conversions on every
step was a fifth of the scheduler's time; so the calendar converts once into integer seconds (booked time
comes from the database as such) and works with these helpers.
"""

import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

__all__ = [
    "Booked",
    "Busy",
    "Interval",
    "Seconds",
    "WorkRange",
    "as_utc",
    "free_ranges",
    "from_seconds",
    "merge_busy",
    "to_seconds",
    "utc_offset",
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


def as_utc(moment: datetime) -> datetime:
    """Aware → UTC; a naive datetime is a programming error, since its zone would be a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("expected an aware datetime")
    return moment.astimezone(UTC)


def to_seconds(moment: datetime, up: bool = False) -> Seconds:
    """Whole seconds since the epoch, rounded down (or `up`), exactly (no float)."""
    return -((_EPOCH - as_utc(moment)) // _SECOND) if up else (as_utc(moment) - _EPOCH) // _SECOND


def from_seconds(at: Seconds) -> datetime:
    """Seconds since the epoch → an aware datetime in UTC."""
    return _EPOCH + timedelta(seconds=at)


def utc_offset(local: datetime) -> Seconds:
    """The UTC offset of an aware local datetime, in seconds."""
    delta = local.utcoffset()
    assert delta is not None  # aware in the practice's zone
    return delta // _SECOND


@dataclass(frozen=True, slots=True)
class WorkRange:
    """A working range in seconds, with the zone's UTC offset at its start and end (they differ only on a
    range a DST change falls into)."""

    start: Seconds
    end: Seconds
    offset_at_start: Seconds
    offset_at_end: Seconds


def merge_busy(busy: Busy) -> Booked:
    return Booked({practitioner_id: _merged(intervals) for practitioner_id, intervals in busy.items()})


def _merged(
    intervals: Sequence[Interval] | Sequence[tuple[Seconds, Seconds]],
) -> list[tuple[Seconds, Seconds]]:
    """Busy intervals in seconds (rounded outwards), sorted and with overlaps joined, so their ends ascend
    for bisect."""
    merged: list[tuple[Seconds, Seconds]] = []
    if intervals and isinstance(intervals[0][0], datetime):
        intervals = [(to_seconds(s), to_seconds(e, up=True)) for s, e in cast(Sequence[Interval], intervals)]
    # The interval being joined is kept in locals, not re-read from the list: this runs for every practitioner
    # on every find_slots.
    low = high = 0
    joining = False
    for start, end in sorted(cast(Sequence[tuple[Seconds, Seconds]], intervals)):
        if end <= start:
            continue
        if joining and start <= high:
            if end > high:
                high = end
        else:
            if joining:
                merged.append((low, high))
            low, high, joining = start, end, True
    if joining:
        merged.append((low, high))
    return merged


def free_ranges(
    working: WorkRange, booked: list[tuple[Seconds, Seconds]]
) -> Iterator[tuple[Seconds, Seconds]]:
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
