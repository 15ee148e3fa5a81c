"""The one text folding: how two spellings of the same German word are made comparable.

Callers, speech-to-text and the practice's configuration write the same word differently (``Müller``,
``Mueller``, ``MÜLLER``; ``Erstgespräch``, ``Erstgespraech``; ``José``, ``Jose``), so every comparison of
words goes through `fold` on both sides. Comparisons that need more (a name's particles and phonetics, a
key without spaces) add their steps on top, where they are used.
"""

import unicodedata

__all__ = ["fold"]

# German transliteration first: accent stripping alone would turn "ä" into a plain "a".
_GERMAN = {"ß": "ss", "ä": "ae", "ö": "oe", "ü": "ue"}
# Letters that Unicode does not split into a base letter plus accent.
_UNDECOMPOSABLE = {"æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
_TRANSLIT = str.maketrans(_GERMAN | _UNDECOMPOSABLE)


def fold(text: str) -> str:
    """Lower case, umlauts and ß spelled out (``ä`` → ``ae``), accents dropped, whitespace collapsed.

    Compatibility forms become their plain letters and digits as well (``ﬁ`` → ``fi``, ``²`` → ``2``).
    """
    text = unicodedata.normalize("NFC", text).lower().translate(_TRANSLIT)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(text.split())
