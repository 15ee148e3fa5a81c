"""`ignis dead-letters`: what failed every attempt is listed without its content, and a replay puts it
back on its subject (its stream and consumer take it again) and removes it from the dead letters."""

import asyncio
import json
import os
import subprocess
import sys
import uuid

import nats
import pytest
from faststream.nats import NatsMessage
from nats.js.api import ConsumerConfig

from ignis.contracts import subjects
from ignis.kit.bus import ensure_streams, make_broker, settle
from ignis.kit.settings import Settings
from tests.conftest import own_stream


def ignis(nats_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IGNIS_")} | {"IGNIS_NATS_URL": nats_url}
    return subprocess.run(
        [sys.executable, "-m", "ignis.cli.main", "dead-letters", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_list_and_replay(nats_url: str) -> None:
    stream, subject = f"TEST_{uuid.uuid4().hex[:6].upper()}", f"ignis.test.{uuid.uuid4().hex[:6]}"
    await own_stream(nats_url, stream, f"{subject}.>")
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    await js.purge_stream(subjects.DEAD_LETTER_STREAM)
    broker = make_broker(nats_url, "dead-letter-test")
    await broker.start()
    try:
        # What `settle` does after the last failed attempt.
        secret_payload = json.dumps({"transcript": "Anna Müller hat Husten"}).encode()
        await js.publish(f"{subject}.call", secret_payload, stream=stream)
        # An ephemeral consumer idle for the server's inactivity threshold (seconds) is deleted, and the CLI
        # runs in between take a while on a busy machine: keep it for the test.
        consumer = await js.pull_subscribe(
            f"{subject}.call", durable=None, stream=stream, config=ConsumerConfig(inactive_threshold=300)
        )
        [delivered] = await consumer.fetch(1, timeout=5)

        async def fail() -> None:
            raise RuntimeError("the database is away")

        message = NatsMessage(raw_message=delivered, body=delivered.data)
        await settle(message, broker, fail, max_deliveries=1)

        listed = await asyncio.to_thread(ignis, nats_url)
        assert listed.returncode == 0, listed.stderr
        [line] = listed.stdout.strip().splitlines()
        number = int(line.split()[0])
        assert f"{subject}.call  RuntimeError  {len(secret_payload)} bytes" in line
        assert "Husten" not in listed.stdout

        assert (await asyncio.to_thread(ignis, nats_url, "--replay", "999999")).returncode == 2
        replayed = await asyncio.to_thread(ignis, nats_url, "--replay", str(number))
        assert replayed.returncode == 0, replayed.stderr
        assert replayed.stdout.strip() == "Replayed 1 of 1."
        [again] = await consumer.fetch(1, timeout=5)
        assert again.data == secret_payload
        assert (await asyncio.to_thread(ignis, nats_url)).stdout.strip() == "No dead letters."
    finally:
        await broker.stop()
        await connection.close()


@pytest.mark.parametrize("args", [[], ["--replay-all"]])
async def test_nothing_dead(nats_url: str, args: list[str]) -> None:
    connection = await nats.connect(nats_url)
    await ensure_streams(Settings(nats_url=nats_url), [subjects.DEAD_LETTER_STREAM])
    await connection.jetstream().purge_stream(subjects.DEAD_LETTER_STREAM)
    await connection.close()
    result = await asyncio.to_thread(ignis, nats_url, *args)
    assert result.returncode == 0
    assert result.stdout.strip() in ("No dead letters.", "Replayed 0 of 0.")
