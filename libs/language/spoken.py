"""Dates and times as the voice agent says them: what the text-to-speech engine reads out reliably."""

from collections.abc import Sequence
from datetime import date, time

__all__ = ["WEEKDAY_NAMES", "spoken_date", "spoken_ranges", "spoken_time"]

WEEKDAY_NAMES = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
_MONTH_NAMES = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)


def spoken_date(day: date) -> str:
    """``Dienstag, 2. Dezember``: weekday and month by name, so the caller can check the day at once."""
    return f"{WEEKDAY_NAMES[day.weekday()]}, {day.day}. {_MONTH_NAMES[day.month - 1]}"


def _clock(t: time, *, end: bool = False) -> str:
    """``9``, ``9:30``; as the end of a range, midnight is ``24`` (a range never ends at its start)."""
    hour = 24 if end and t == time(0, 0) else t.hour
    return f"{hour}:{t.minute:02d}" if t.minute else str(hour)


def spoken_time(t: time) -> str:
    """``9:30 Uhr``, full hours ``9 Uhr``: the way a receptionist says it, not ``09:00``."""
    return f"{_clock(t)} Uhr"


def spoken_ranges(ranges: Sequence[tuple[time, time]]) -> str:
    """``8 bis 12 Uhr und 14 bis 18 Uhr``; an empty day is ``geschlossen``."""
    parts = [f"{_clock(start)} bis {_clock(end, end=True)} Uhr" for start, end in ranges]
    if not parts:
        return "geschlossen"
    if len(parts) == 1:
        return parts[0]
    return f"{', '.join(parts[:-1])} und {parts[-1]}"
