"""When a caller wants an appointment, as said on the phone: "nächsten Dienstag", "in zwei Wochen ab 16 Uhr".

A phrase becomes a `Wish`: a range of days and a window of the day in which a slot may start. Everything is
relative to `today`, the practice's local date, which the caller passes in (this module reads no clock and no
zone). Conventions, so the agent can confirm what it heard with the spoken date:

- a bare weekday ("Montag", "am Freitag", "nächsten Dienstag") is its next occurrence after today; the
  weekday of a named week ("Dienstag nächste Woche") lies in that week; "übernächsten Dienstag" is a week on;
- a week runs Monday to Sunday; "in zwei Wochen" is the week that holds the day two weeks from today;
- "Anfang/Mitte/Ende" of a month are its days 1–10, 11–20 and 21 to the end; of a week Monday–Wednesday,
  Tuesday–Thursday and Thursday–Sunday; a part of this week or month already over means the next one;
- a day and month without a year ("3. Dezember", "3.12.") is the next such date, today included;
- hours 1 to 6 are afternoon hours ("nach vier" is 16:00): no practice opens at four in the morning;
- the times of day are windows for a slot's start: früh before 10, vormittags before 12, mittags 11–14,
  nachmittags from 12, abends from 17; "ab/nach 16 Uhr" from 16:00, "vor/bis 10 Uhr" before 10:00,
  "um/gegen 10 Uhr" from 10:00 to 11:00.

Errors are `DateParseError` with fixed English messages that never repeat the input (a transcript is
personal data).
"""

import re
from dataclasses import replace
from datetime import date, timedelta

from ignis.language.dates import DateParseError, _cardinal, _ordinal
from ignis.language.day_spans import DaySpans, strip_fillers
from ignis.language.text import fold
from ignis.language.times_of_day import times_of_day
from ignis.language.wish import Wish

__all__ = ["Wish", "parse_wish"]

_MAX_LENGTH = 200

# -- normalising: one spelling for what speech-to-text writes in many ----------------------------------------

_DIGIT_ORDINAL = re.compile(r"(\d{1,2})(?:\.|s?te[nrsm]?\b)")  # "3.", "3ten", "3ter"
_KEEP = re.compile(r"[^a-z0-9.: -]")
# "Montagvormittag", "Freitagabend"; "Dienstagmorgen" is early on Tuesday, not tomorrow.
_COMPOUND = re.compile(
    r"\b(montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag)(morgen|frueh|vormittag|mittag|nachmittag|abend)"
)


def _normalise(text: str) -> str:
    """Lower case, umlauts spelled out, number words as digits (ordinals with a dot), single spaces."""
    clean = fold(text)
    clean = re.sub(r"(?<![\d-])(\d{1,2})\s*-\s*(\d{1,2})(?![\d-])", r"\1 bis \2", clean)  # "16-18 Uhr"
    clean = re.sub(r"(\d{1,2})[.:](\d{2})\s*uhr", r"\1:\2 uhr", clean)  # "16.30 Uhr"
    clean = _KEEP.sub(" ", clean.replace(",", " "))
    clean = _COMPOUND.sub(lambda m: f"{m[1]} {'frueh' if m[2] == 'morgen' else m[2]}", clean)
    words = []
    for token in clean.split():
        word = token.rstrip(".") if not token[0].isdigit() else token
        if word.isalpha():
            if (value := _cardinal(word)) is not None:
                word = str(value)
            elif (value := _ordinal(word)) is not None:
                word = f"{value}."
        elif ordinal := _DIGIT_ORDINAL.fullmatch(word):
            word = f"{int(ordinal[1])}."
        words.append(word)
    return " ".join(words)


# -- a wish: its time of day (times_of_day), then its days (day_spans) -----------------------------------

_ASAP = re.compile(
    r"(?:(?:so )?(?:bald|frueh|schnell) wie moeglich|(?:schnellst|baldigst|naechst|fruehest)moeglich|"
    r"baldmoeglichst|sofort|egal|jederzeit|beliebig|ganztags|den ganzen tag|wann immer)"
)
_OPEN_END = re.compile(r"^(?:ab|fruehestens(?: ab| am)?|von|erst ab|nicht vor)(?: dem| der| den)? ")
_AFTER = re.compile(r"^(?:nach)(?: dem| der| den)? ")
_UNTIL = re.compile(r"^(?:bis|spaetestens|bis spaetestens)(?: zum| zur| am| dem| den)? ")
_BEFORE = re.compile(r"^(?:vor|noch vor)(?: dem| der| den)? ")


def parse_wish(text: str, *, today: date) -> Wish:
    """The days and times a caller asks for; `DateParseError` when the phrase says neither."""
    clean = _normalise(text) if len(text) <= _MAX_LENGTH else ""
    if not clean:
        raise DateParseError("unrecognised date")
    if _ASAP.fullmatch(strip_fillers(clean)):
        return Wish()
    rest, wish = times_of_day(clean)
    if wish.after is not None and wish.before is not None and wish.after >= wish.before:
        raise DateParseError("empty time window")
    rest = strip_fillers(rest)
    if not rest:
        if wish.empty:
            raise DateParseError("unrecognised date")
        return wish
    days = DaySpans(today)
    if match := _OPEN_END.match(rest):
        first, _ = days.span(strip_fillers(rest[match.end() :]))
        return wish & Wish(first=first)
    if match := _AFTER.match(rest):
        _, last = days.span(strip_fillers(rest[match.end() :]))
        return wish & Wish(first=last + timedelta(days=1))
    if match := _UNTIL.match(rest):
        _, last = days.span(strip_fillers(rest[match.end() :]))
        return wish & Wish(first=today, last=last)
    if match := _BEFORE.match(rest):
        first, _ = days.span(strip_fillers(rest[match.end() :]))
        return wish & Wish(first=today, last=first - timedelta(days=1))
    first, last = days.span(rest)
    return replace(wish, first=first, last=last)
