"""Encryption at rest of health data in Postgres: authenticated (Fernet: AES-128-CBC + HMAC-SHA256) with the
keys of `IGNIS_DATA_KEYS`, a comma-separated list whose first key encrypts and all of which decrypt, so a
key is rotated by putting a new one first, re-encrypting (`ignis rotate-data-key`), then dropping the old.

A column typed `Encrypted()` holds a Fernet token as text; the database never sees the plaintext. Rows
written before encryption (plaintext) stay readable and are encrypted by the next rotation. The keys are
set once per process (`use_data_keys`, by `create_service` and the commands that need them).
"""

import json
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Dialect, MetaData, Table, Text, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeDecorator

# Every Fernet token starts with its version byte 0x80, base64url-encoded: "gAAAAA".
_TOKEN_PREFIX = "gAAAAA"


class DataKeyError(ValueError):
    """No key, a malformed key, or none of the keys opens a stored value: refused, never read as garbage."""


_keys: MultiFernet | None = None


def new_data_key() -> str:
    """A fresh key for IGNIS_DATA_KEYS."""
    return Fernet.generate_key().decode()


def parse_data_keys(keys: str) -> MultiFernet:
    parts = [part.strip() for part in keys.split(",") if part.strip()]
    if not parts:
        raise DataKeyError("IGNIS_DATA_KEYS is empty")
    try:
        return MultiFernet([Fernet(part.encode()) for part in parts])
    except ValueError:
        raise DataKeyError(
            "IGNIS_DATA_KEYS holds a malformed key (each is 32 url-safe base64-encoded bytes; "
            "generate one with `ignis new-data-key`)"
        ) from None


def use_data_keys(keys: str) -> None:
    """The keys this process encrypts and decrypts with (the first encrypts)."""
    global _keys
    _keys = parse_data_keys(keys)


def _active() -> MultiFernet:
    if _keys is None:
        raise DataKeyError("no data key set in this process (IGNIS_DATA_KEYS)")
    return _keys


def encrypt(plaintext: str) -> str:
    return _active().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    """The plaintext of a stored value; a value from before encryption is returned as it is."""
    if not stored.startswith(_TOKEN_PREFIX):
        return stored
    try:
        return _active().decrypt(stored.encode()).decode()
    except InvalidToken:
        raise DataKeyError(
            "an encrypted value cannot be decrypted with any key of IGNIS_DATA_KEYS: the key that wrote it "
            "is missing (was it removed before `ignis rotate-data-key` ran?)"
        ) from None


class Encrypted(TypeDecorator[Any]):
    """A column stored encrypted; `as_json` for values that are JSON documents (lists, dicts)."""

    impl = Text
    cache_ok = True

    def __init__(self, as_json: bool = False) -> None:
        super().__init__()
        self.as_json = as_json

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return encrypt(json.dumps(value, ensure_ascii=False) if self.as_json else str(value))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        plaintext = decrypt(value)
        return json.loads(plaintext) if self.as_json else plaintext


def encrypted_tables(metadata: MetaData) -> list[tuple[Table, list[str]]]:
    """The tables of `metadata` with encrypted columns, and those columns."""
    found = []
    for table in metadata.sorted_tables:
        columns = [column.name for column in table.columns if isinstance(column.type, Encrypted)]
        if columns:
            found.append((table, columns))
    return found


async def reencrypt(session: AsyncSession, metadata: MetaData, batch: int = 500) -> dict[str, int]:
    """Rewrite every encrypted value of `metadata`'s tables with the first key (plaintext rows included);
    rows per table. Reading needs the key that wrote each value: the old key stays listed until this ran."""
    counts: dict[str, int] = {}
    for table, columns in encrypted_tables(metadata):
        key: Sequence[Any] = list(table.primary_key.columns)
        rewritten, after = 0, None
        while True:
            query = select(*key, *(table.c[name] for name in columns)).order_by(*key).limit(batch)
            if after is not None:
                query = query.where(tuple_(*key) > tuple_(*after))
            rows = (await session.execute(query)).all()
            for row in rows:
                ids, values = row[: len(key)], row[len(key) :]
                where = [column == value for column, value in zip(key, ids, strict=True)]
                fresh = dict(zip(columns, values, strict=True))
                await session.execute(update(table).where(*where).values(fresh))
            rewritten += len(rows)
            if len(rows) < batch:
                break
            after = tuple(rows[-1][: len(key)])
        counts[table.name] = rewritten
    return counts
