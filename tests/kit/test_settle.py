"""`settle`: a JetStream delivery is acknowledged after its work, redelivered after a failure, and moved to
the dead-letter stream once it has failed every attempt."""

import asyncio
import uuid
from typing import Any

import nats
import pytest
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsMessage, PullSub
from nats.js.api import ConsumerConfig

from ignis.contracts import subjects
from ignis.kit.bus import make_broker, settle
from tests.conftest import own_stream


@pytest.mark.parametrize("remove", [False, True])
async def test_failing_work_is_retried_then_dead_lettered(nats_url: str, remove: bool) -> None:
    """With `remove`, neither the settled message nor the dead-lettered one stays in its stream."""
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
                raise RuntimeError("the database is away")

        await settle(message, broker, work, max_deliveries=3, remove=remove)

    await broker.start()
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    try:
        await js.publish(f"{subject}.good", b'{"n": 1}', stream=stream)
        await js.publish(f"{subject}.bad", b'{"n": 2}', stream=stream)
        for _ in range(100):
            if len(attempts) >= 4:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # no fourth attempt of the bad one may follow
        assert sorted(attempts) == [1, 1, 2, 3]
        dead = await js.get_last_msg(subjects.DEAD_LETTER_STREAM, subjects.dead_letter(f"{subject}.bad"))
        assert dead.data == b'{"n": 2}'
        assert dead.headers is not None
        assert (dead.headers["Ignis-Original-Subject"], dead.headers["Ignis-Error"]) == (
            f"{subject}.bad",
            "RuntimeError",
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
