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

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TypeVar

from ignis.language.dates import _MONTHS, DateParseError, _cardinal, _ordinal, parse_date
from ignis.language.text import fold

__all__ = ["Wish", "parse_wish"]

_MAX_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Wish:
    """Days [first, last] (None: open) and a window [after, before) for a slot's local start time."""

    first: date | None = None
    last: date | None = None
    after: time | None = None
    before: time | None = None

    def __and__(self, other: "Wish") -> "Wish":
        """Both wishes at once: the later start, the earlier end."""
        return Wish(
            first=_pick(max, self.first, other.first),
            last=_pick(min, self.last, other.last),
            after=_pick(max, self.after, other.after),
            before=_pick(min, self.before, other.before),
        )

    @property
    def empty(self) -> bool:
        return self == Wish()


_T = TypeVar("_T", date, time)


def _pick(choose: Callable[[_T, _T], _T], a: _T | None, b: _T | None) -> _T | None:
    if a is None or b is None:
        return a if b is None else b
    return choose(a, b)


# -- normalising: one spelling for what speech-to-text writes in many ----------------------------------------

_DIGIT_ORDINAL = re.compile(r"(\d{1,2})(?:\.|s?te[nrsm]?\b)")  # "3.", "3ten", "3ter"
_ARTICLE_NUMBERS = {"ein": 1, "eins": 1, "eine": 1, "einer": 1, "einem": 1, "einen": 1}
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


# -- times of day --------------------------------------------------------------------------------------------

_PARTS = (  # (pattern, after, before); the longer phrases first
    (r"(?:am |in der )?(?:frueh(?:en)? ?morgen|frueh)s?|(?:am )?morgens|am morgen", None, time(10)),
    (r"(?:am )?vormittags?|am vormittag", None, time(12)),
    (r"(?:ueber |zur )?mittags?(?:zeit)?|(?:um die |ueber die )?mittagszeit", time(11), time(14)),
    (r"(?:am )?(?:spaet)?nachmittags?|am nachmittag", time(12), None),
    (r"(?:am )?abends?|am abend|spaet", time(17), None),
)
_AFTERNOON = re.compile(r"nachmittag|abend|\bspaet\b")
_HOUR = r"(\d{1,2})(?::(\d{2}))?(?: uhr(?: (\d{2})\b)?)?"
_TIMES = (  # (pattern, kind); a bare hour only after a word that makes it one
    (rf"zwischen {_HOUR} und {_HOUR}", "between"),
    (rf"(?:fruehestens |erst )?(?:ab|nach|frueheste(?:ns)?|von) {_HOUR}(?! \d)", "after"),
    (rf"(?:spaetestens |noch )?(?:vor|bis(?: spaetestens)?|spaetestens(?: um)?) {_HOUR}", "before"),
    (rf"(?:so |etwa |ungefaehr )?(?:um|gegen) {_HOUR}", "at"),
    (r"(\d{1,2})(?::(\d{2}))? uhr(?: (\d{2})\b)?|(\d{1,2}):(\d{2})", "at"),
)


def _clock(said: Sequence[str | None], afternoon: bool) -> time:
    """`said`: hour, and minutes after a colon or after "Uhr" (either may be None)."""
    hour, minute, extra = said
    if hour is None:
        raise DateParseError("no hour")
    value, minutes = int(hour), int(minute or extra or 0)
    if 1 <= value <= 6 or (afternoon and value < 12):
        value += 12
    if value == 24 and minutes == 0:
        return time(23, 59)
    if value > 23 or minutes > 59:
        raise DateParseError("time out of range")
    return time(value, minutes)


def _times(text: str) -> tuple[str, Wish]:
    """The time-of-day part of a phrase, and what is left of the phrase."""
    wish = Wish()
    afternoon = bool(_AFTERNOON.search(text))
    for pattern, kind in _TIMES:
        while match := re.search(rf"(?:^| ){pattern}(?= |$)(?!\.)", text):
            groups = match.groups()
            if kind == "between":
                start = _clock(groups[0:3], afternoon)
                end = _clock(groups[3:6], afternoon or start.hour >= 12)
                found = Wish(after=start, before=end)
            else:
                moment = _clock(groups[0:3] if groups[0] else (*groups[3:5], None), afternoon)
                if kind == "after":
                    found = Wish(after=moment)
                elif kind == "before":
                    found = Wish(before=moment)
                else:
                    hour_later = (datetime.combine(date.min, moment) + timedelta(hours=1)).time()
                    found = Wish(after=moment, before=max(hour_later, moment.replace(minute=59)))
            wish &= found
            text = (text[: match.start()] + " " + text[match.end() :]).strip()
    for pattern, after, before in _PARTS:
        while match := re.search(rf"(?:^| )(?:{pattern})(?= |$)", text):
            wish &= Wish(after=after, before=before)
            text = (text[: match.start()] + " " + text[match.end() :]).strip()
    return " ".join(text.split()), wish


# -- days ----------------------------------------------------------------------------------------------------

_WEEKDAYS = {
    "montag": 0,
    "dienstag": 1,
    "mittwoch": 2,
    "donnerstag": 3,
    "freitag": 4,
    **dict.fromkeys(("samstag", "sonnabend"), 5),
    "sonntag": 6,
}
_WEEKDAY = r"(montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonnabend|sonntag)"
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + ")"
_NEXT = r"(?:naechste[nrs]?|kommende[nrs]?|folgende[nrs]?)"
_AFTER_NEXT = r"uebernaechste[nrs]?"
_THIS = r"(?:diese[nrs]?|der|die|das|des|dem)"
_PART = r"(anfang|mitte|ende)"
_COUNT = r"(\d+|ein|eine|einer|einem|einen)"
_ASAP = re.compile(
    r"(?:(?:so )?(?:bald|frueh|schnell) wie moeglich|(?:schnellst|baldigst|naechst|fruehest)moeglich|"
    r"baldmoeglichst|sofort|egal|jederzeit|beliebig|ganztags|den ganzen tag|wann immer)"
)
_LEADING_FILLERS = re.compile(
    r"^(?:(?:am liebsten|am besten|am|den|dem|im|so|gerne?|bitte|dann|also|ja|lieber|eher|vielleicht|"
    r"moeglichst|irgendwann|einen termin|termin|wenn moeglich)\b ?)+"
)
_TRAILING_FILLERS = re.compile(
    r"(?: ?\b(?:am|den|dem|bitte|gerne?|wenn moeglich|wenn es geht|irgendwann|"
    r"(?:waere|ist|ginge|geht|passt)(?: (?:gut|schoen|mir|mir gut|besser|am besten))?))+$"
)


def _count(text: str) -> int:
    return 1 if text in _ARTICLE_NUMBERS else int(text)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _week_part(monday: date, part: str | None) -> tuple[date, date]:
    first, last = {None: (0, 6), "anfang": (0, 2), "mitte": (1, 3), "ende": (3, 6)}[part]
    return monday + timedelta(days=first), monday + timedelta(days=last)


def _month_part(year: int, month: int, part: str | None) -> tuple[date, date]:
    end = calendar.monthrange(year, month)[1]
    first, last = {None: (1, end), "anfang": (1, 10), "mitte": (11, 20), "ende": (21, end)}[part]
    return date(year, month, first), date(year, month, last)


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + months
    return index // 12, index % 12 + 1


def _current(span: tuple[date, date], today: date, following: tuple[date, date]) -> tuple[date, date]:
    """A span of this week or month clipped to today; one already over means the following one."""
    first, last = span
    if last < today:
        return following
    return max(first, today), last


class _Days:
    """The date grammar: each rule is a pattern over the normalised, filler-free phrase."""

    def __init__(self, today: date) -> None:
        self.today = today

    def span(self, text: str) -> tuple[date, date]:
        if (found := self._simple(text)) is not None:
            return found
        # Two spans: "Montag bis Mittwoch", "zwischen dem 3. und dem 10. Dezember", "Montag oder Dienstag".
        if match := re.fullmatch(r"(?:zwischen )?(.+?) (?:bis(?: zum| zur)?|und|oder) (.+)", text):
            left, right = _strip(match[1]), _strip(match[2])
            month = re.search(rf"(?:\d{{1,2}}\. ?)({_MONTH}|\d{{1,2}}\.)(.*)$", right)
            if re.fullmatch(r"\d{1,2}\.", left) and month:
                left = f"{left} {month[1]}{month[3]}"  # "3. bis 10. Dezember": the month is said once
            first, _ = self.span(left)
            second_first, last = self.span(right)
            if last < first:
                raise DateParseError("range ends before it starts")
            return first, max(last, second_first)
        raise DateParseError("unrecognised date")

    def _simple(self, text: str) -> tuple[date, date] | None:
        today = self.today
        if text in ("heute", "heut"):
            return today, today
        if text == "morgen":
            return today + timedelta(days=1), today + timedelta(days=1)
        if text == "uebermorgen":
            return today + timedelta(days=2), today + timedelta(days=2)
        if match := re.fullmatch(rf"{_COUNT} (tag|tage|tagen|woche|wochen|monat|monate|monaten)", text):
            text = f"in {text}"  # "zwei Wochen" said after "in" was taken for a filler
        if match := re.fullmatch(rf"in {_COUNT} (tag|tage|tagen)", text):
            day = today + timedelta(days=_count(match[1]))
            return day, day
        if (week := self._week(text)) is not None:
            return week
        if (month := self._month(text)) is not None:
            return month
        if match := re.fullmatch(rf"(?:({_NEXT}|{_AFTER_NEXT}|diese[nrs]?) )?{_WEEKDAY}(?: ?(.+))?", text):
            return self._weekday(match[1], _WEEKDAYS[match[2]], match[3])
        match = re.fullmatch(rf"(.+?) {_WEEKDAY}", text)  # "nächste Woche Dienstag"
        if match and (week := self._week(_strip(match[1]))) is not None:
            return self._in(week, _WEEKDAYS[match[2]])
        if match := re.fullmatch(rf"(?:({_NEXT}|{_AFTER_NEXT}) )?(?:wochenende)", text):
            saturday = _monday(today) + timedelta(days=5 + (7 if match[1] and "ueber" in match[1] else 0))
            return max(saturday, today), saturday + timedelta(days=1)
        return self._date(text)

    def _in(self, span: tuple[date, date], weekday: int) -> tuple[date, date]:
        monday = _monday(span[0])
        day = monday + timedelta(days=weekday)
        if day < span[0]:
            day += timedelta(days=7)
        if day < self.today:
            raise DateParseError("day is over")
        return day, day

    def _weekday(self, which: str | None, weekday: int, rest: str | None) -> tuple[date, date] | None:
        if rest:
            week = self._week(_strip(rest))
            if week is None or which:
                return None
            return self._in(week, weekday)
        ahead = (weekday - self.today.weekday() - 1) % 7 + 1  # 1..7: the next one, today excluded
        if which and "ueber" in which:
            ahead += 7
        day = self.today + timedelta(days=ahead)
        return day, day

    def _week(self, text: str) -> tuple[date, date] | None:
        today = self.today
        monday = _monday(today)
        match = re.fullmatch(
            rf"(?:{_PART} )?(?:(?:der|die|des|in der|in|zur) )?(?:({_THIS}|{_NEXT}|{_AFTER_NEXT}) )?"
            r"(woche|wochen)",
            text,
        )
        if match:
            part, which = match[1], match[2] or ""
            if "ueber" in which:
                return _week_part(monday + timedelta(days=14), part)
            if re.fullmatch(_NEXT, which):
                return _week_part(monday + timedelta(days=7), part)
            if match[3] == "wochen":
                return None
            return _current(_week_part(monday, part), today, _week_part(monday + timedelta(days=7), part))
        if match := re.fullmatch(rf"(?:{_PART} )?(?:der )?in {_COUNT} (woche|wochen)", text):
            return _week_part(_monday(today + timedelta(weeks=_count(match[2]))), match[1])
        return None

    def _month(self, text: str) -> tuple[date, date] | None:
        today = self.today
        this = (today.year, today.month)
        match = re.fullmatch(
            rf"(?:{_PART} )?(?:(?:des|im|in|zum) )?(?:({_THIS}|{_NEXT}|{_AFTER_NEXT}) )?monat(?:s|e)?",
            text,
        )
        if match:
            part, which = match[1], match[2] or ""
            if "ueber" in which:
                return _month_part(*_add_months(*this, 2), part)
            if re.fullmatch(_NEXT, which):
                return _month_part(*_add_months(*this, 1), part)
            return _current(_month_part(*this, part), today, _month_part(*_add_months(*this, 1), part))
        if match := re.fullmatch(rf"in {_COUNT} (?:monat|monate|monaten)", text):
            return _month_part(*_add_months(*this, _count(match[1])), None)
        if match := re.fullmatch(rf"(?:{_PART} )?{_MONTH}(?: (\d{{4}}))?", text):
            part, month = match[1], _MONTHS[match[2]]
            if match[3]:
                return _month_part(int(match[3]), month, part)
            year = today.year + (1 if month < today.month else 0)
            return _current(_month_part(year, month, part), today, _month_part(year + 1, month, part))
        return None

    def _date(self, text: str) -> tuple[date, date] | None:
        today = self.today
        compact = re.sub(r"(\d)\. (\d)", r"\1.\2", text)  # "3. 12." as "3.12."
        if match := re.fullmatch(rf"(\d{{1,2}})\.(?: ?(?:(\d{{1,2}})\.?|{_MONTH}))?", compact):
            day = int(match[1])
            month = int(match[2]) if match[2] else _MONTHS[match[3]] if match[3] else None
            return (found := self._next(day, month)), found
        try:
            found = parse_date(text, today=today)
        except DateParseError:
            return None
        return found, found

    def _next(self, day: int, month: int | None) -> date:
        """The next date with this day (and month), today included."""
        year, current = self.today.year, self.today.month
        for step in range(12 * 8 + 1):  # a 29th of February may be years away
            y, m = _add_months(year, current, step) if month is None else (year + step, month)
            if month is not None and not 1 <= month <= 12:
                break
            try:
                found = date(y, m, day)
            except ValueError:
                continue
            if found >= self.today:
                return found
        raise DateParseError("no such date")


def _strip(text: str) -> str:
    return _TRAILING_FILLERS.sub("", _LEADING_FILLERS.sub("", text)).strip()


_OPEN_END = re.compile(r"^(?:ab|fruehestens(?: ab| am)?|von|erst ab|nicht vor)(?: dem| der| den)? ")
_AFTER = re.compile(r"^(?:nach)(?: dem| der| den)? ")
_UNTIL = re.compile(r"^(?:bis|spaetestens|bis spaetestens)(?: zum| zur| am| dem| den)? ")
_BEFORE = re.compile(r"^(?:vor|noch vor)(?: dem| der| den)? ")


def parse_wish(text: str, *, today: date) -> Wish:
    """The days and times a caller asks for; `DateParseError` when the phrase says neither."""
    clean = _normalise(text) if len(text) <= _MAX_LENGTH else ""
    if not clean:
        raise DateParseError("unrecognised date")
    if _ASAP.fullmatch(_strip(clean)):
        return Wish()
    rest, wish = _times(clean)
    if wish.after is not None and wish.before is not None and wish.after >= wish.before:
        raise DateParseError("empty time window")
    rest = _strip(rest)
    if not rest:
        if wish.empty:
            raise DateParseError("unrecognised date")
        return wish
    days = _Days(today)
    if match := _OPEN_END.match(rest):
        first, _ = days.span(_strip(rest[match.end() :]))
        return wish & Wish(first=first)
    if match := _AFTER.match(rest):
        _, last = days.span(_strip(rest[match.end() :]))
        return wish & Wish(first=last + timedelta(days=1))
    if match := _UNTIL.match(rest):
        _, last = days.span(_strip(rest[match.end() :]))
        return wish & Wish(first=today, last=last)
    if match := _BEFORE.match(rest):
        first, _ = days.span(_strip(rest[match.end() :]))
        return wish & Wish(first=today, last=first - timedelta(days=1))
    first, last = days.span(rest)
    return replace(wish, first=first, last=last)
