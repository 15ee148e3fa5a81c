"""The days of a wish, as said ("nächsten Dienstag", "Ende des Monats", "3. bis 10. Dezember"): a span of
days [first, last] read from a phrase `ignis.language.phrases` has normalised and rid of its time of day;
the conventions are in that module's docstring."""

import calendar
import re
from datetime import date, timedelta

from ignis.language.dates import _MONTHS, DateParseError, parse_date

__all__ = ["DaySpans", "strip_fillers"]

_ARTICLE_NUMBERS = {"ein": 1, "eins": 1, "eine": 1, "einer": 1, "einem": 1, "einen": 1}
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


class DaySpans:
    """The date grammar: each rule is a pattern over the normalised, filler-free phrase."""

    def __init__(self, today: date) -> None:
        self.today = today

    def span(self, text: str) -> tuple[date, date]:
        if (found := self._simple(text)) is not None:
            return found
        # Two spans: "Montag bis Mittwoch", "zwischen dem 3. und dem 10. Dezember", "Montag oder Dienstag".
        if match := re.fullmatch(r"(?:zwischen )?(.+?) (?:bis(?: zum| zur)?|und|oder) (.+)", text):
            left, right = strip_fillers(match[1]), strip_fillers(match[2])
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
        if match and (week := self._week(strip_fillers(match[1]))) is not None:
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
            week = self._week(strip_fillers(rest))
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


def strip_fillers(text: str) -> str:
    return _TRAILING_FILLERS.sub("", _LEADING_FILLERS.sub("", text)).strip()
