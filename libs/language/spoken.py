"""Dates and times as the voice agent says them: what the text-to-speech engine reads out reliably.

Two styles (`IGNIS_SPOKEN_STYLE`): ``words`` writes numbers as a German speaker says them ("Mittwoch, den
fünfundzwanzigsten November, um acht Uhr dreißig"), so a voice cannot read "25." or "8:30" in another
language; ``digits`` is the written form ("Mittwoch, 25. November, um 8:30 Uhr"), also used in SMS texts.
"""

from collections.abc import Sequence
from datetime import date, time
from typing import Literal

__all__ = [
    "WEEKDAY_NAMES",
    "SpokenStyle",
    "number_words",
    "spoken_date",
    "spoken_ranges",
    "spoken_time",
    "spoken_year",
]

SpokenStyle = Literal["words", "digits"]

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


_ONES = [
    "null",
    "eins",
    "zwei",
    "drei",
    "vier",
    "fünf",
    "sechs",
    "sieben",
    "acht",
    "neun",
    "zehn",
    "elf",
    "zwölf",
    "dreizehn",
    "vierzehn",
    "fünfzehn",
    "sechzehn",
    "siebzehn",
    "achtzehn",
    "neunzehn",
]
_TENS = ["_", "_", "zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig", "achtzig", "neunzig"]
_IRREGULAR_ORDINALS = {1: "erste", 3: "dritte", 7: "siebte", 8: "achte"}


def number_words(n: int) -> str:
    """A cardinal in words, 0 to 9999: ``einundzwanzig``, ``zweitausendsechsundzwanzig``."""
    if not 0 <= n <= 9999:
        raise ValueError("out of range")
    if n < 20:
        return _ONES[n]
    if n < 100:
        ones, tens = n % 10, _TENS[n // 10]
        return tens if not ones else f"{'ein' if ones == 1 else _ONES[ones]}und{tens}"
    words = ""
    for scale, name in ((1000, "tausend"), (100, "hundert")):
        if n >= scale:
            count = n // scale
            words += f"{'ein' if count == 1 else number_words(count)}{name}"
            n %= scale
    return words + (number_words(n) if n else "")


def _ordinal(n: int) -> str:
    """``ersten``, ``zweiten``, ``zwanzigsten``: the day after "den" (1–31)."""
    word = _IRREGULAR_ORDINALS.get(n) or (f"{number_words(n)}te" if n < 20 else f"{number_words(n)}ste")
    return f"{word}n"


def spoken_date(day: date, style: SpokenStyle = "digits") -> str:
    """``Dienstag, 2. Dezember`` or ``Dienstag, den zweiten Dezember``: weekday and month by name, so the
    caller can check the day at once."""
    weekday, month = WEEKDAY_NAMES[day.weekday()], _MONTH_NAMES[day.month - 1]
    if style == "words":
        return f"{weekday}, den {_ordinal(day.day)} {month}"
    return f"{weekday}, {day.day}. {month}"


def spoken_year(year: int, style: SpokenStyle = "digits") -> str:
    """``2026`` or ``zweitausendsechsundzwanzig``; ``neunzehnhundertachtzig`` before 2000, as said."""
    if style != "words":
        return str(year)
    if 1100 <= year < 2000:
        return f"{number_words(year // 100)}hundert{number_words(year % 100) if year % 100 else ''}"
    return number_words(year)


def _hour_words(hour: int) -> str:
    return "ein" if hour == 1 else number_words(hour)  # "ein Uhr", not "eins Uhr"


def _clock(t: time, *, end: bool = False, style: SpokenStyle = "digits") -> str:
    """``9``, ``9:30`` (words: ``neun``, ``neun Uhr dreißig``); as the end of a range, midnight is 24 (a
    range never ends at its start)."""
    hour = 24 if end and t == time(0, 0) else t.hour
    if style == "words":
        return f"{_hour_words(hour)} Uhr {number_words(t.minute)}" if t.minute else _hour_words(hour)
    return f"{hour}:{t.minute:02d}" if t.minute else str(hour)


def spoken_time(t: time, style: SpokenStyle = "digits") -> str:
    """``9:30 Uhr``, full hours ``9 Uhr`` (words: ``neun Uhr dreißig``, ``neun Uhr``): the way a
    receptionist says it, not ``09:00``."""
    if style == "words":
        return (
            f"{_hour_words(t.hour)} Uhr {number_words(t.minute)}"
            if t.minute
            else f"{_hour_words(t.hour)} Uhr"
        )
    return f"{_clock(t)} Uhr"


def _range(start: time, end: time, style: SpokenStyle) -> str:
    until = _clock(end, end=True, style=style)
    if style == "words" and end.minute:
        return f"{_clock(start, style=style)} bis {until}"  # "acht bis zwölf Uhr dreißig": "Uhr" said once
    return f"{_clock(start, style=style)} bis {until} Uhr"


def spoken_ranges(ranges: Sequence[tuple[time, time]], style: SpokenStyle = "digits") -> str:
    """``8 bis 12 Uhr und 14 bis 18 Uhr`` (words: ``acht bis zwölf Uhr und vierzehn bis achtzehn Uhr``);
    an empty day is ``geschlossen``."""
    parts = [_range(start, end, style) for start, end in ranges]
    if not parts:
        return "geschlossen"
    if len(parts) == 1:
        return parts[0]
    return f"{', '.join(parts[:-1])} und {parts[-1]}"
