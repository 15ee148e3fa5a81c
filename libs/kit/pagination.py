"""Opaque keyset cursors for paginated lists: the sort key of a page's last row, encoded."""

import base64
import binascii


class CursorError(ValueError):
    """The cursor was not issued by us (or was cut); the caller should start from the first page."""


def encode_cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode("|".join(str(part) for part in parts).encode()).decode()


def decode_cursor(cursor: str, parts: int) -> list[str]:
    try:
        values = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorError("cursor not understood") from None
    if len(values) != parts:
        raise CursorError("cursor not understood")
    return values
