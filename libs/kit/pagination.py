"""Opaque keyset cursors for paginated lists: the sort key of a page's last row, encoded."""

import base64
import binascii
from collections.abc import Callable
from typing import Any

from ignis.kit.errors import InvalidCursor


def encode_cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode("|".join(str(part) for part in parts).encode()).decode()


def decode_cursor(cursor: str, *parse: Callable[[str], Any]) -> list[Any]:
    """The sort key again, each part read by its parser (e.g. `datetime.fromisoformat`, `uuid.UUID`).

    Raises `InvalidCursor` for a cursor we did not issue (or one cut short): the caller should start
    from the first page.
    """
    try:
        values = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        if len(values) != len(parse):
            raise ValueError("wrong number of parts")
        return [read(value) for read, value in zip(parse, values, strict=True)]
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor("cursor not understood") from None
