"""Every webhook ElevenLabs signs ends as a call record (or a visible dead letter), whatever its shape:
each malformed shape that used to be acknowledged and dropped, or to fail in Postgres for hours, is
delivered through the gateway to the real patients service, NATS and Postgres."""

import asyncio
import json
import random
import string
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import nats
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ignis.contracts import subjects
from ignis.kit.payload import COMPRESS_ABOVE
from ignis.patients.models import Call
from tests.patients.test_calls import calls, deliver, event

pytestmark = pytest.mark.usefixtures("clean_database", "fresh_stream")

Service = Callable[[], AbstractAsyncContextManager[None]]


def shaped(conversation_id: str, change: Callable[[dict[str, Any]], None]) -> bytes:
    payload = json.loads(event("post_call_transcription", conversation_id))
    change(payload["data"])
    return json.dumps(payload).encode()


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            data = data[key]
        data[last] = value

    return change


# (what ElevenLabs might send, the column that must hold what still reads)
SHAPES: dict[str, tuple[Callable[[dict[str, Any]], None], Callable[[Call], bool]]] = {
    "fractional duration": (_set("metadata.call_duration_secs", 1.5), lambda c: c.duration_secs == 2),
    "transcript as an object": (
        _set("transcript", {"role": "user", "message": "Hallo"}),
        lambda c: c.transcript is None and c.summary == "…",
    ),
    "transcript as strings": (
        _set("transcript", ["Hallo", "Guten Tag"]),
        lambda c: c.transcript is not None and [t["message"] for t in c.transcript] == ["Hallo", "Guten Tag"],
    ),
    "analysis as a list": (_set("analysis", ["success"]), lambda c: c.analysis is None and c.summary is None),
    "caller number as an integer": (
        _set("metadata.phone_call", {"external_number": 4915123456789}),
        lambda c: c.caller_number == "+4915123456789",
    ),
    "NUL in summary and transcript": (
        lambda data: (
            _set("analysis.transcript_summary", "Rezept\x00 bestellt")(data),
            _set("transcript", [{"role": "user", "message": "Hal\x00lo"}])(data),
        ),
        lambda c: c.summary == "Rezept bestellt" and c.transcript == [{"role": "user", "message": "Hallo"}],
    ),
    "lone surrogate": (
        _set("analysis.transcript_summary", "Husten \ud800"),
        lambda c: c.summary == "Husten \ufffd",
    ),
    "start time out of range": (
        _set("metadata.start_time_unix_secs", 10**15),
        lambda c: c.started_at is None and c.duration_secs == 22,
    ),
    "duration beyond 2^31": (_set("metadata.call_duration_secs", 2**40), lambda c: c.duration_secs is None),
}


@pytest.fixture
async def dead_letters(nats_url: str) -> AsyncIterator[Callable[[], Any]]:
    connection = await nats.connect(nats_url)
    js = connection.jetstream()

    async def count() -> int:
        try:
            return int((await js.stream_info(subjects.DEAD_LETTER_STREAM)).state.messages)
        except nats.js.errors.NotFoundError:
            return 0

    yield count
    await connection.close()


class TestEverySignedWebhookBecomesARecord:
    async def test_each_malformed_shape_is_stored_with_what_reads_and_the_raw_event(
        self,
        gateway: httpx.AsyncClient,
        engine: AsyncEngine,
        patients_service: Service,
        dead_letters: Callable[[], Any],
    ) -> None:
        before, run = await dead_letters(), uuid.uuid4().hex[:8]
        async with patients_service():
            for number, (change, _) in enumerate(SHAPES.values()):
                body = shaped(f"conv_shape_{number}_{run}", change)
                # json.dumps escapes the surrogate and NUL as the wire would carry them.
                await deliver(gateway, body)
            records = {record.conversation_id: record for record in await calls(engine, len(SHAPES))}
        assert len(records) == len(SHAPES)
        for number, (name, (_, holds)) in enumerate(SHAPES.items()):
            record = records[f"conv_shape_{number}_{run}"]
            assert holds(record), name
            if name == "caller number as an integer":
                assert record.raw_event is None  # read completely: nothing to keep besides the record
                continue
            assert record.raw_event is not None, name  # the whole event kept, as it was signed
            assert json.loads(record.raw_event)["data"]["conversation_id"] == f"conv_shape_{number}_{run}"
        assert await dead_letters() == before

    async def test_a_complete_event_keeps_no_raw_copy(
        self, gateway: httpx.AsyncClient, engine: AsyncEngine, patients_service: Service
    ) -> None:
        async with patients_service():
            await deliver(gateway, event("post_call_transcription", f"conv_complete_{uuid.uuid4().hex[:8]}"))
            [record] = await calls(engine, 1)
        assert record.raw_event is None

    async def test_a_transcription_after_an_initiation_failure_replaces_it(
        self, gateway: httpx.AsyncClient, engine: AsyncEngine, patients_service: Service
    ) -> None:
        late = f"conv_late_{uuid.uuid4().hex[:8]}"
        async with patients_service():
            await deliver(gateway, event("call_initiation_failure", late))
            [failure] = await calls(engine, 1)
            assert failure.kind == "call_initiation_failure"
            await deliver(gateway, event("post_call_transcription", late))
            for _ in range(50):
                [record] = await calls(engine, 1)
                if record.kind == "post_call_transcription":
                    break
                await asyncio.sleep(0.1)
            # And a late initiation failure changes nothing of the richer record.
            await deliver(gateway, event("call_initiation_failure", late))
            await asyncio.sleep(0.5)
            [record] = await calls(engine, 1)
        assert record.kind == "post_call_transcription"
        assert record.summary == "…"
        assert record.transcript is not None

    async def test_a_transcript_larger_than_a_nats_message_is_stored(
        self, gateway: httpx.AsyncClient, engine: AsyncEngine, patients_service: Service
    ) -> None:
        """12 MB of transcript: above NATS' 8 MB max_payload, so it enters the stream compressed."""
        words = ["".join(random.choices(string.ascii_lowercase, k=6)) for _ in range(2000)]
        turns = [
            {"role": "user" if n % 2 else "agent", "message": " ".join(random.choices(words, k=40))}
            for n in range(42_000)
        ]
        # A conversation id of its own: JetStream drops a second event with the same id within an hour.
        body = shaped(f"conv_long_{uuid.uuid4().hex[:8]}", _set("transcript", turns))
        assert len(body) > 12 * 1024 * 1024 > COMPRESS_ABOVE
        async with patients_service():
            await deliver(gateway, body)
            [record] = await calls(engine, 1, within_seconds=90)
        assert record.transcript is not None
        assert len(record.transcript) == len(turns)
        assert record.transcript[-1]["message"] == turns[-1]["message"]
