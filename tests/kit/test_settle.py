"""`settle`: a JetStream delivery is acknowledged after its work, redelivered after a failure, and moved to
the dead-letter stream once it has failed every attempt."""

import asyncio
import contextlib
import json
import uuid
from pathlib import Path
from typing import Any

import nats
import pytest
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsMessage, PullSub
from nats.js.api import ConsumerConfig

from ignis.contracts import subjects
from ignis.kit.bus import ensure_streams, make_broker, settle
from ignis.kit.settings import Settings
from tests.conftest import own_stream


@pytest.mark.parametrize("remove", [False, True])
@pytest.mark.parametrize(
    ("error", "tries"),
    [(RuntimeError("the database is away"), [1, 2, 3]), (ValueError("not an event"), [1])],
    ids=["transient", "deterministic"],
)
async def test_failing_work_is_retried_then_dead_lettered(
    nats_url: str, remove: bool, error: Exception, tries: list[int]
) -> None:
    """A transient failure is tried again, a deterministic one (the same message fails the same way) goes
    to the dead letters at once. With `remove`, neither the settled message nor the dead-lettered one
    stays in its stream."""
    stream, subject = f"TEST_{uuid.uuid4().hex[:6].upper()}", f"ignis.test.{uuid.uuid4().hex[:6]}"
    await own_stream(nats_url, stream, f"{subject}.>")
    attempts: list[int] = []
    broker = make_broker(nats_url, "settle-test")

    @broker.subscriber(
        f"{subject}.*",
        stream=JStream(stream, declare=False),
        durable="settle-test",
        pull_sub=PullSub(batch_size=1, timeout=0.5),
        ack_policy=AckPolicy.MANUAL,
        config=ConsumerConfig(ack_wait=0.5, max_deliver=3),
    )
    async def handle(_: Any, message: NatsMessage) -> None:
        async def work() -> None:
            attempts.append(message.raw_message.metadata.num_delivered)
            if message.raw_message.subject.endswith("bad"):
                raise error

        await settle(message, broker, work, max_deliveries=3, backoff=[0.2], remove=remove)

    await broker.start()
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    try:
        await js.publish(f"{subject}.good", b'{"n": 1}', stream=stream)
        await js.publish(f"{subject}.bad", b'{"n": 2}', stream=stream)
        for _ in range(100):
            if len(attempts) >= 1 + len(tries):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # no further attempt of the bad one may follow
        assert sorted(attempts) == sorted([1, *tries])
        dead = await js.get_last_msg(subjects.DEAD_LETTER_STREAM, subjects.dead_letter(f"{subject}.bad"))
        assert dead.data == b'{"n": 2}'
        assert dead.headers is not None
        assert (dead.headers["Ignis-Original-Subject"], dead.headers["Ignis-Error"]) == (
            f"{subject}.bad",
            type(error).__name__,
        )
        info = await js.consumer_info(stream, "settle-test")
        assert (info.num_pending, info.num_ack_pending) == (0, 0)
        assert (await js.stream_info(stream)).state.messages == (0 if remove else 2)
    finally:
        await broker.stop()
        await js.delete_stream(stream)
        await connection.close()


async def test_a_failed_delete_still_acknowledges(nats_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """The work is done (the record committed): a delete that fails only leaves the message to max_age."""
    stream, subject = f"TEST_{uuid.uuid4().hex[:6].upper()}", f"ignis.test.{uuid.uuid4().hex[:6]}"
    await own_stream(nats_url, stream, f"{subject}.>")
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    broker = make_broker(nats_url, "settle-delete-test")
    await broker.start()
    try:
        await js.publish(f"{subject}.call", b"{}", stream=stream)
        consumer = await js.pull_subscribe(f"{subject}.call", durable="settle-delete-test", stream=stream)
        [delivered] = await consumer.fetch(1, timeout=5)
        done: list[bool] = []

        async def work() -> None:
            await js.delete_msg(stream, delivered.metadata.sequence.stream)  # gone before settle deletes it
            done.append(True)

        await settle(NatsMessage(raw_message=delivered, body=delivered.data), broker, work, remove=True)
        assert done == [True]
        assert "delivered message not deleted from its stream" in caplog.text
        for _ in range(50):  # the acknowledgement travels on the broker's own connection
            info = await js.consumer_info(stream, "settle-delete-test")
            if info.num_ack_pending == 0:
                break
            await asyncio.sleep(0.05)
        assert (info.num_pending, info.num_ack_pending) == (0, 0)
    finally:
        await broker.stop()
        await js.delete_stream(stream)
        await connection.close()


@pytest.mark.usefixtures("clean_database")
async def test_durable_consumers_wait_as_long_as_the_code_says(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    """A consumer's `backoff` would silently replace its ack_wait with the first delay (5 s), and a delivery
    still being handled would be sent again; the live consumer must report the ack_wait we chose."""
    from faststream import TestApp

    from ignis.kit.bus import ACK_WAIT_SECONDS
    from ignis.notifier.main import create_app
    from ignis.notifier.settings import NotifierSettings

    # As an earlier version of Ignis created it.
    connection = await nats.connect(nats_url)
    await ensure_streams(Settings(nats_url=nats_url), [subjects.EVENTS_STREAM])
    # No events of earlier tests: the notifier started here would text about them for real.
    await connection.jetstream().purge_stream(subjects.EVENTS_STREAM)
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await connection.jetstream().delete_consumer(
            subjects.EVENTS_STREAM, subjects.NOTIFIER_APPOINTMENTS_CONSUMER
        )
    old = ConsumerConfig(
        durable_name=subjects.NOTIFIER_APPOINTMENTS_CONSUMER,
        filter_subject=subjects.APPOINTMENT_EVENTS_SUBJECTS,
        ack_wait=600,
        backoff=[5.0, 30.0, 120.0, 600.0],
        max_deliver=20,
    )
    await connection.jetstream().add_consumer(subjects.EVENTS_STREAM, old)
    await connection.close()
    settings = NotifierSettings(
        nats_url=nats_url, database_url=database_url, home=tmp_path, log_format="text"
    )
    app = create_app(settings)
    async with TestApp(app):
        connection = await nats.connect(nats_url)
        try:
            info = await connection.jetstream().consumer_info(
                subjects.EVENTS_STREAM, subjects.NOTIFIER_APPOINTMENTS_CONSUMER
            )
        finally:
            await connection.close()
    assert info.config.ack_wait == ACK_WAIT_SECONDS == 60
    assert not info.config.backoff


async def test_a_service_handles_at_most_its_concurrency_at_once(nats_url: str) -> None:
    broker = make_broker(nats_url, f"limit-{uuid.uuid4().hex[:6]}", concurrency=3)
    subject = f"ignis.test.{uuid.uuid4().hex[:6]}"
    running, peak = 0, 0

    async def slow() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.2)
        running -= 1

    @broker.subscriber(f"{subject}.a", max_workers=10)
    async def a(_: Any) -> None:
        await slow()

    @broker.subscriber(f"{subject}.b", max_workers=10)
    async def b(_: Any) -> None:
        await slow()

    await broker.start()
    try:
        await asyncio.gather(
            *(broker.request({}, f"{subject}.{side}", timeout=10) for side in "ab" for _ in range(6))
        )
    finally:
        await broker.stop()
    assert peak == 3


async def test_a_handler_at_the_limit_still_gets_the_replies_it_asked_for(nats_url: str) -> None:
    """Replies to a handler's own requests (scheduler → patients) arrive through the same broker: they
    must not wait for a slot that the asking handlers hold, or every handler waits for ever."""
    asking = make_broker(nats_url, f"asking-{uuid.uuid4().hex[:6]}", concurrency=2)
    answering = make_broker(nats_url, f"answering-{uuid.uuid4().hex[:6]}")
    subject = f"ignis.test.{uuid.uuid4().hex[:6]}"

    @answering.subscriber(f"{subject}.answer")
    async def answer(_: Any) -> dict[str, bool]:
        await asyncio.sleep(0.05)
        return {"ok": True}

    @asking.subscriber(f"{subject}.ask", max_workers=10)
    async def ask(_: Any) -> dict[str, bool]:
        reply = await asking.request({}, f"{subject}.answer", timeout=5)
        return dict(json.loads(reply.body))

    await answering.start()
    await asking.start()
    try:
        replies = await asyncio.gather(*(asking.request({}, f"{subject}.ask", timeout=10) for _ in range(6)))
    finally:
        await asking.stop()
        await answering.stop()
    assert [json.loads(reply.body) for reply in replies] == [{"ok": True}] * 6
