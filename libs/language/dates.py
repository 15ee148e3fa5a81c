"""Parse a date the way a caller says it on the phone: digits, German month names or German number words.

The voice agent hands us the transcript as heard, so the parser must tolerate speech-to-text spellings
(``Maerz``, ``einunddreissigster``) as well as typed formats. Error messages are fixed English phrases and
never repeat the input: most dates we parse are birth dates, which are personal data and end up in logs.
"""

import re
from datetime import date

from ignis.language.text import fold

__all__ = ["DateParseError", "parse_birth_date", "parse_date"]


class DateParseError(ValueError):
    """The text is not a (plausible) date. The message never contains the input, so it is safe to log."""


_EARLIEST_BIRTH = date(1900, 1, 1)
_MAX_LENGTH = 200  # a spoken date is short; the cap also bounds the recursion of the number-word parser

_ISO = re.compile(r"([0-9]{4})\s*-\s*([0-9]{1,2})\s*-\s*([0-9]{1,2})")
_SEPARATORS = re.compile(r"[\s.,]+")
_DIGITS = re.compile(r"([0-9]{1,2})(?:s?te[nrsm]?)?")  # "12", and "12ter" as some transcribers write it
_FILLERS = frozenset({"am", "den", "der", "dem"})

_MONTHS = {
    **dict.fromkeys(("januar", "jaenner", "jan", "jaen"), 1),
    **dict.fromkeys(("februar", "feber", "feb"), 2),
    **dict.fromkeys(("maerz", "marz", "maer", "mrz"), 3),
    **dict.fromkeys(("april", "apr"), 4),
    "mai": 5,
    **dict.fromkeys(("juni", "jun", "juno"), 6),  # "Juno"/"Julei": how Germans disambiguate on the phone
    **dict.fromkeys(("juli", "jul", "julei"), 7),
    **dict.fromkeys(("august", "aug"), 8),
    **dict.fromkeys(("september", "sept", "sep"), 9),
    **dict.fromkeys(("oktober", "okt"), 10),
    **dict.fromkeys(("november", "nov"), 11),
    **dict.fromkeys(("dezember", "dez"), 12),
}


def _numbered(words: str, start: int, step: int = 1) -> dict[str, int]:
    """Number words listed in ascending order, so the tables below stay one line each."""
    return {word: step * n for n, word in enumerate(words.split(), start)}


_UNITS = {"ein": 1} | _numbered("eins zwei drei vier fuenf sechs sieben acht neun", 1)
_TEENS = _numbered("zehn elf zwoelf dreizehn vierzehn fuenfzehn sechzehn siebzehn achtzehn neunzehn", 10)
_TENS = _numbered("zwanzig dreissig vierzig fuenfzig sechzig siebzig achtzig neunzig", 2, step=10)
_SMALL = _UNITS | _TEENS | _TENS
_IRREGULAR_ORDINALS = {"er": 1, "drit": 3, "sieb": 7, "ach": 8}  # erste, dritte, siebte, achte
_ORDINAL_ENDING = re.compile(r"te[nrsm]?$")  # inflections of "-te"; "-ste" leaves an "s" on the stem


def parse_date(text: str, *, today: date | None = None, past: bool = False) -> date:
    """Parse a date as said on the phone; `past` reads a two-digit year as the latest such date up to `today`.

    Accepted: ISO ``1980-03-12``; ``12.3.1980`` / ``12.3.80`` (any whitespace around the dots); a month
    name or abbreviation (``12. März 1980``, ``3. Mai 80``); German number words (``am zwölften dritten
    neunzehnhundertachtzig``). Without `past`, a two-digit year is read as 20YY (appointments lie ahead).
    """
    if today is None:
        today = date.today()
    # Digits only as typed: folding would read a superscript "²" or an Arabic-Indic digit as a date part.
    clean = fold(text)
    if not clean or len(clean) > _MAX_LENGTH or not all(c.isascii() or not c.isnumeric() for c in text):
        raise DateParseError("unrecognised date")
    if iso := _ISO.fullmatch(clean):
        return _build(int(iso[1]), int(iso[2]), int(iso[3]))
    tokens = [token for token in _SEPARATORS.split(clean) if token]
    while tokens and tokens[0] in _FILLERS:
        del tokens[0]
    if len(tokens) < 3:
        raise DateParseError("unrecognised date")
    day, month, year = _number(tokens[0]), _MONTHS.get(tokens[1]) or _number(tokens[1]), _year(tokens[2:])
    if day is None or month is None or year is None:
        raise DateParseError("unrecognised date")
    value, two_digit = year
    if two_digit:
        value += 2000
        if past and (value, month, day) > (today.year, today.month, today.day):
            value -= 100
    return _build(value, month, day)


def parse_birth_date(text: str, *, today: date | None = None) -> date:
    """Parse a birth date and reject impossible ones, so a mis-heard year cannot select the wrong patient."""
    if today is None:
        today = date.today()
    born = parse_date(text, today=today, past=True)
    if born > today:
        raise DateParseError("birth date in the future")
    if born < _EARLIEST_BIRTH:
        raise DateParseError("birth date before 1900")
    return born


def _build(year: int, month: int, day: int) -> date:
    """The calendar date, with an error that names the faulty field but not its value."""
    if not 1000 <= year <= 9999:
        raise DateParseError("year out of range")
    if not 1 <= month <= 12:
        raise DateParseError("month out of range")
    try:
        return date(year, month, day)
    except ValueError:
        raise DateParseError("day out of range") from None


def _year(tokens: list[str]) -> tuple[int, bool] | None:
    """The year and whether it had two digits only; number words may be split ("neunzehnhundert achtzig")."""
    joined = "".join(tokens)
    if joined.isascii() and joined.isdigit():
        return (int(joined), len(joined) == 2) if len(joined) in (2, 4) else None
    value = _cardinal(joined)
    if value is None or 100 <= value < 1000:
        return None
    return value, value < 100


def _number(token: str) -> int | None:
    """A day or month given as digits, a cardinal ("zwölf") or an ordinal ("zwölfter") number word."""
    if digits := _DIGITS.fullmatch(token):
        return int(digits[1])
    value = _cardinal(token)
    return value if value is not None else _ordinal(token)


def _ordinal(word: str) -> int | None:
    """Value of an inflected ordinal: strip "-te(n|r|s|m)", then an "s" left over from "-ste" if needed."""
    stem = _ORDINAL_ENDING.sub("", word)
    if stem == word:
        return None
    for candidate in (stem, stem.removesuffix("s")):
        value = _IRREGULAR_ORDINALS.get(candidate)
        if value is None:
            value = _cardinal(candidate)
        if value is not None:
            return value
    return None


def _cardinal(word: str) -> int | None:
    """Value of a German cardinal number word ("neunzehnhundertachtzig" → 1980), or None."""
    if word in _SMALL:
        return _SMALL[word]
    for scale_word, scale in (("tausend", 1000), ("hundert", 100)):
        head, found, tail = word.partition(scale_word)
        if found:
            factor = _cardinal(head) if head else 1
            rest = _cardinal(tail.removeprefix("und")) if tail else 0
            if factor is None or rest is None or rest >= scale:
                return None
            return factor * scale + rest
    unit, found, tens = word.partition("und")
    if found and unit in _UNITS and tens in _TENS:
        return _UNITS[unit] + _TENS[tens]
    return None
