"""Health data is encrypted at rest in Postgres: the database holds no plaintext, rows from before encryption
stay readable, and a key is rotated without losing a row; a missing key is an error, never garbage."""

import asyncio
import datetime as dt
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.cli.setup import migrate_all
from ignis.kit.clock import utcnow
from ignis.kit.crypto import DataKeyError, new_data_key, use_data_keys
from ignis.kit.db import create_engine
from ignis.kit.settings import DataSettings, stored_secret
from ignis.patients.models import Call, Request
from ignis.patients.repository import PatientRepository
from tests.conftest import TEST_DATA_KEYS, drop_database, other_database

SECRET = "Ich habe seit Tagen Fieber und Husten"


@pytest.fixture
def keys() -> Iterator[None]:
    """Tests here switch this process's keys; the rest of the suite gets its own back."""
    yield
    use_data_keys(TEST_DATA_KEYS)


@pytest.fixture
async def crypto_db(database_url: str, engine: AsyncEngine) -> AsyncIterator[tuple[str, AsyncEngine]]:
    """A database of its own: a rotation rewrites every row of every schema."""
    name = f"ignis_crypto_{uuid.uuid4().hex[:8]}"
    url = other_database(database_url, name)
    await migrate_all(url)
    own = create_engine(url, pool_size=2)
    yield url, own
    await own.dispose()
    await drop_database(engine, name)


def call(conversation_id: str) -> Call:
    return Call(
        conversation_id=conversation_id,
        kind="post_call_transcription",
        summary=f"Zusammenfassung: {SECRET}",
        transcript=[{"role": "user", "message": SECRET}],
        analysis={"transcript_summary": SECRET},
        data_collection={"symptom": {"value": SECRET}},
        retain_until=utcnow() + dt.timedelta(days=1),
    )


async def raw(engine: AsyncEngine, sql: str) -> list[str]:
    async with engine.connect() as conn:
        return [str(value) for value in (await conn.execute(text(sql))).one()]


async def read_call(engine: AsyncEngine, conversation_id: str) -> Call | None:
    async with AsyncSession(engine) as session:
        return await PatientRepository(session).get_call(conversation_id)


def rotate(url: str, data_keys: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IGNIS_")} | {
        "IGNIS_DATABASE_URL": url,
        "IGNIS_DATA_KEYS": data_keys,
    }
    return subprocess.run(
        [sys.executable, "-m", "ignis.cli.main", "rotate-data-key"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.usefixtures("keys")
async def test_the_database_holds_no_plaintext(crypto_db: tuple[str, AsyncEngine]) -> None:
    _, engine = crypto_db
    async with AsyncSession(engine) as session, session.begin():
        repo = PatientRepository(session)
        await repo.add_call(call("conv-secret"))
        await repo.add_request(
            Request(
                id=uuid.uuid4(),
                kind="nachricht",
                details=SECRET,
                conversation_id="conv-secret",
                urgent=False,
                idempotency_key="k",
                completion_note=SECRET,
            )
        )
    stored = await raw(
        engine,
        "SELECT c.summary, c.transcript, c.analysis, c.data_collection, r.details, r.completion_note "
        "FROM patients.call c, patients.request r",
    )
    for value in stored:
        assert "Husten" not in value
        assert "Fieber" not in value
        assert value.startswith("gAAAAA")  # a Fernet token
    record = await read_call(engine, "conv-secret")
    assert record is not None
    assert record.transcript == [{"role": "user", "message": SECRET}]
    assert (record.analysis, record.data_collection) == (
        {"transcript_summary": SECRET},
        {"symptom": {"value": SECRET}},
    )


@pytest.mark.usefixtures("keys")
async def test_rotation_rewrites_everything_with_the_new_key(crypto_db: tuple[str, AsyncEngine]) -> None:
    """Written with A (and one row from before encryption); B put first; rotated; A removed: all readable.
    A process that still has only A afterwards is refused with a clear error."""
    url, engine = crypto_db
    key_a, key_b = new_data_key(), new_data_key()
    use_data_keys(key_a)
    async with AsyncSession(engine) as session, session.begin():
        await PatientRepository(session).add_call(call("conv-a"))
    async with engine.begin() as conn:  # as migration 0005 leaves a row written before it: plaintext JSON
        await conn.execute(
            text(
                "INSERT INTO patients.call (conversation_id, kind, summary, transcript, retain_until) "
                "VALUES ('conv-old', 'post_call_transcription', 'alt', "
                '\'[{"role": "user", "message": "alt"}]\', now() + interval \'1 day\')'
            )
        )
    [before] = await raw(engine, "SELECT transcript FROM patients.call WHERE conversation_id = 'conv-a'")
    old = await read_call(engine, "conv-old")
    assert old is not None
    assert old.transcript == [{"role": "user", "message": "alt"}]

    done = await asyncio.to_thread(rotate, url, f"{key_b},{key_a}")
    assert done.returncode == 0, done.stderr
    assert "patients: " in done.stdout
    assert "call 2" in done.stdout
    [after] = await raw(engine, "SELECT transcript FROM patients.call WHERE conversation_id = 'conv-a'")
    [old_after] = await raw(engine, "SELECT transcript FROM patients.call WHERE conversation_id = 'conv-old'")
    assert after != before
    assert old_after.startswith("gAAAAA")

    use_data_keys(key_b)  # A removed
    for conversation in ("conv-a", "conv-old"):
        record = await read_call(engine, conversation)
        assert record is not None
        assert record.transcript is not None

    use_data_keys(key_a)  # a replica left on the old key alone
    with pytest.raises(DataKeyError, match="cannot be decrypted with any key of IGNIS_DATA_KEYS"):
        await read_call(engine, "conv-a")
    refused = await asyncio.to_thread(rotate, url, key_a)
    assert refused.returncode == 1
    assert "cannot be decrypted" in refused.stderr
    assert SECRET not in refused.stderr


def test_keys_are_generated_in_dev_and_required_in_prod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IGNIS_DATA_KEYS")
    first = DataSettings(home=tmp_path).data_keys.get_secret_value()
    assert (
        DataSettings(home=tmp_path).data_keys.get_secret_value()
        == first
        == stored_secret(tmp_path, "data_keys")
    )
    use_data_keys(first)  # a valid key
    use_data_keys(TEST_DATA_KEYS)
    assert oct((tmp_path / "secrets.json").stat().st_mode)[-3:] == "600"
    with pytest.raises(ValidationError, match="IGNIS_DATA_KEYS"):
        DataSettings(env="prod", home=tmp_path / "empty")
    with pytest.raises(ValidationError, match="malformed"):
        DataSettings(home=tmp_path, data_keys="not-a-key")
