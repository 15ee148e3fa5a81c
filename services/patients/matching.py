"""Match the name a caller gives against a stored one, tolerant of German spelling variants.

Callers and speech-to-text write umlauts three ways (Müller, Mueller, Muller), drop nobiliary particles and
often give only one half of a double name, so plain string equality would miss real patients. Kölner
Phonetik (built for German) catches mis-heard spellings, but that is weaker evidence than an exact match, so
the result says which rule matched and the caller decides how much extra verification to ask for.
"""

import enum
import re
import unicodedata

from ignis.language.text import fold

__all__ = ["NameMatch", "SpokenName", "koelner_phonetik", "match_name", "normalise", "phonetic"]


class NameMatch(enum.IntEnum):
    """How well two names agree; ordered, so `match >= NameMatch.PHONETIC` reads naturally."""

    NONE = 0
    PHONETIC = 1
    EXACT = 2


_SEPARATORS = re.compile(r"[\s\-‐‑‒–—'’‘`´.]+")
# "ae"/"oe"/"ue" as umlaut spellings, so Mueller = Muller. Not after a vowel or "q": in Bauer, Breuer or
# Quelle the "ue" is a diphthong or a "qu", never an umlaut, and collapsing it would make Bauer = Baur exact.
_UMLAUT_SPELLING = re.compile(r"(?<![aeiouq])([aou])e")
_PARTICLES = (
    frozenset({"von", "vom", "zu", "zum", "zur", "der", "den", "und"})  # German
    | frozenset({"van", "de", "ten", "ter"})  # Dutch
    | frozenset({"di", "da", "du", "le", "la"})  # Romance
)

# Letters coded regardless of context; P, D, T, C and X depend on their neighbours (see koelner_phonetik).
_FIXED = {"0": "AEIJOUY", "": "H", "1": "B", "3": "FVW", "4": "GKQ", "5": "L", "6": "MN", "7": "R", "8": "SZ"}
_KOELN = {letter: code for code, letters in _FIXED.items() for letter in letters}
_C_HARD_INITIAL = frozenset("AHKLOQRUX")
_C_HARD = frozenset("AHKOQUX")
_SIBILANTS = frozenset("SZ")
_BEFORE_DT_SIBILANT = frozenset("CSZ")
_VELARS = frozenset("CKQ")


def normalise(name: str) -> str:
    """Comparison key: lower-case ASCII-ish letters, umlaut spellings unified, particles dropped.

    Symmetric by construction (both sides go through the same steps), so "Müller", "Mueller", "Muller" and
    "MÜLLER" all give "muller", and "von Weizsäcker" gives "weizsacker".
    """
    return " ".join(_parts(name))


def phonetic(name: str) -> str:
    """Kölner Phonetik codes of the normalised parts, space-separated.

    Initials and parts without a code are left out: a one-letter code like "6" would match every M/N name.
    """
    return " ".join(_codes(_parts(name)))


def koelner_phonetik(word: str) -> str:
    """Cologne phonetics (Postel 1969): a digit code per letter by context, duplicates collapsed, "0" dropped.

    Letters other than A-Z (after stripping accents; umlauts count as their vowel, ß as SS) are ignored.
    """
    letters = [c for c in unicodedata.normalize("NFKD", word.upper()) if "A" <= c <= "Z"]
    raw = []
    for i, letter in enumerate(letters):
        before = letters[i - 1] if i else ""
        after = letters[i + 1] if i + 1 < len(letters) else ""
        if letter == "P":
            code = "3" if after == "H" else "1"
        elif letter in "DT":
            code = "8" if after in _BEFORE_DT_SIBILANT else "2"
        elif letter == "C":
            if i == 0:
                code = "4" if after in _C_HARD_INITIAL else "8"
            else:
                code = "4" if after in _C_HARD and before not in _SIBILANTS else "8"
        elif letter == "X":
            code = "8" if before in _VELARS else "48"
        else:
            code = _KOELN[letter]
        raw.append(code)
    digits = "".join(raw)
    collapsed = [d for i, d in enumerate(digits) if i == 0 or d != digits[i - 1]]
    return "".join(d for i, d in enumerate(collapsed) if i == 0 or d != "0")


def match_name(spoken: str, stored: str) -> NameMatch:
    """Compare a caller's name with a stored one: spelling variants are EXACT, sound-alikes PHONETIC.

    Either side may name only some parts of the other (double names, dropped middle names); parts may also be
    run together ("Müller Lüdenscheidt" = "MüllerLüdenscheidt"). Empty or letterless input matches nothing.
    """
    return SpokenName(spoken).match(stored)


class SpokenName:
    """A caller's name taken apart once, to be matched against every candidate of a birth date."""

    def __init__(self, spoken: str) -> None:
        self.parts = _parts(spoken)
        self.whole = "".join(self.parts)
        self.codes = _codes(self.parts)
        self.whole_code = _whole_code(self.parts)

    def match(self, stored: str) -> NameMatch:
        """`match_name` of this name and `stored`."""
        kept = _parts(stored)
        if _related(self.parts, kept, self.whole, "".join(kept)):
            return NameMatch.EXACT
        if _related(self.codes, _codes(kept), self.whole_code, _whole_code(kept)):
            return NameMatch.PHONETIC
        return NameMatch.NONE


def _parts(name: str) -> list[str]:
    """The normalised parts of a name; particles are dropped unless the name consists of nothing else."""
    letters = ("".join(filter(str.isalpha, raw)) for raw in _SEPARATORS.split(fold(name)))
    parts = [_UMLAUT_SPELLING.sub(r"\1", part) for part in letters if part]
    return [part for part in parts if part not in _PARTICLES] or parts


def _codes(parts: list[str]) -> list[str]:
    """The parts' Kölner Phonetik codes; initials and parts without a code are left out (see `phonetic`)."""
    codes = (koelner_phonetik(part) for part in parts if len(part) > 1)
    return [code for code in codes if code]


def _whole_code(parts: list[str]) -> str:
    """The code of the parts run together, initials left out."""
    return koelner_phonetik("".join(part for part in parts if len(part) > 1))


def _related(a: list[str], b: list[str], a_whole: str, b_whole: str) -> bool:
    """Both non-empty and equal as a whole, or one side's parts all occur on the other side."""
    if not a or not b:
        return False
    return a_whole == b_whole or set(a) <= set(b) or set(b) <= set(a)
