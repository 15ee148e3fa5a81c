"""The time-of-day part of a wish, as said ("nachmittags", "ab 16 Uhr", "zwischen 9 und 11"), read from a
phrase `ignis.language.phrases` has normalised; the conventions are in that module's docstring."""

import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from ignis.language.dates import DateParseError
from ignis.language.wish import Wish

__all__ = ["times_of_day"]

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


def times_of_day(text: str) -> tuple[str, Wish]:
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
