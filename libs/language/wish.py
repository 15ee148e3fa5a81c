"""What a caller wants: a range of days and a window of the day in which a slot may start."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from typing import TypeVar

__all__ = ["Wish"]


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
