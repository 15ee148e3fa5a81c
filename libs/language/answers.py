"""How the agent's words for a closed choice are understood: "ja", "GKV", "Öffnungszeiten", "AU".

(Dates and times of day are no closed choice: `ignis.language.phrases` reads them.)

The agent's LLM fills the tool fields from what the caller said, often with the caller's own word rather
than the listed value. Each function maps the words it knows to the canonical value and passes anything
else through unchanged, so the tool body's validation decides (and names the field) as before.
"""

from collections.abc import Set

from ignis.language.text import fold

__all__ = ["insurance", "request_kind", "salutation", "topic", "yes_no"]

_YES = frozenset({"ja", "yes", "true", "1", "j", "y"})
_NO = frozenset({"nein", "no", "false", "0", "n"})
_INSURANCE = {"gkv": "gesetzlich", "kasse": "gesetzlich", "pkv": "privat", "privatpatient": "privat"}
_TOPICS = frozenset({"oeffnungszeiten", "adresse", "schliesstage", "notfall", "alles"})
_REQUEST_KINDS = {
    "rueckruf": "rueckruf",
    "rezept": "rezept",
    "folgerezept": "rezept",
    "ueberweisung": "ueberweisung",
    "krankschreibung": "krankschreibung",
    "au": "krankschreibung",
    "arbeitsunfaehigkeitsbescheinigung": "krankschreibung",
    "nachricht": "nachricht",
}


def yes_no(value: object) -> object:
    """``ja``/``nein`` (and ``j``, ``yes``, ``1`` ...) as a bool."""
    if isinstance(value, str):
        key = fold(value)
        if key in _YES:
            return True
        if key in _NO:
            return False
    return value


def insurance(value: object) -> object:
    """``GKV``/``Kasse`` is gesetzlich, ``PKV``/``Privatpatient`` privat; any other word folded."""
    if isinstance(value, str):
        key = fold(value)
        return _INSURANCE.get(key, key)
    return value


def salutation(value: object) -> object:
    """``frau`` is ``Frau``; nothing said is no salutation."""
    if isinstance(value, str):
        return value.strip().capitalize() or None
    return value


def request_kind(value: object) -> object:
    """``Rückruf``, ``Folgerezept``, ``AU``: the kind of request to the practice team they ask for."""
    return _REQUEST_KINDS.get(fold(value), value) if isinstance(value, str) else value


def topic(value: object) -> object:
    """``Öffnungszeiten`` is ``oeffnungszeiten``; a topic not understood (or none) is ``alles``."""
    return _one_of(value, _TOPICS, "alles")


def _one_of(value: object, allowed: Set[str], default: str) -> object:
    """The LLM says "Vormittags" or "Öffnungszeiten"; anything unknown falls back rather than fails."""
    if value is None:
        return default
    if isinstance(value, str):
        key = fold(value)
        return next((word for word in (key.rstrip("s"), key) if word in allowed), default)
    return value
