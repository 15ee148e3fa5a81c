"""Every stream that can hold patient data forgets it after its max_age, never later than the call records."""

import asyncio
import datetime as dt
import uuid

import nats
import pytest

from ignis.contracts import subjects
from ignis.kit.bus import ensure_stream, ensure_streams
from ignis.kit.settings import Settings

STREAMS = (subjects.WEBHOOKS_STREAM, subjects.EVENTS_STREAM, subjects.DEAD_LETTER_STREAM)


async def test_every_stream_has_a_max_age_within_the_call_retention(nats_url: str) -> None:
    settings = Settings(nats_url=nats_url)
    await ensure_streams(settings, STREAMS)
    connection = await nats.connect(nats_url)
    try:
        for name in STREAMS:
            config = (await connection.jetstream().stream_info(name)).config
            assert config.max_age is not None
            assert 0 < config.max_age <= dt.timedelta(days=settings.call_retention_days).total_seconds()
        webhooks = (await connection.jetstream().stream_info(subjects.WEBHOOKS_STREAM)).config
        assert webhooks.max_age == dt.timedelta(days=3).total_seconds()
    finally:
        await connection.close()


async def test_a_stream_declared_without_max_age_gets_one(nats_url: str) -> None:
    """An installation from before: its streams kept everything forever; the next start bounds them."""
    name = subjects.WEBHOOKS_STREAM
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    try:
        await js.update_stream(name=name, subjects=[subjects.WEBHOOKS_SUBJECTS], max_age=0)
        assert not (await js.stream_info(name)).config.max_age
        await ensure_stream(js, name, Settings(nats_url=nats_url, webhook_retention_days=0.5))
        assert (await js.stream_info(name)).config.max_age == 12 * 3600
    finally:
        await ensure_stream(js, name, Settings(nats_url=nats_url))
        await connection.close()


async def test_a_message_older_than_max_age_is_gone(nats_url: str) -> None:
    """JetStream itself removes what outlived the stream's max_age (here a second, for the test)."""
    settings = Settings(nats_url=nats_url, dead_letter_retention_days=1 / 86400)
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    try:
        await ensure_stream(js, subjects.DEAD_LETTER_STREAM, settings)
        subject = subjects.dead_letter(f"ignis.test.{uuid.uuid4().hex[:6]}")
        await js.publish(subject, b"transcript", stream=subjects.DEAD_LETTER_STREAM)
        assert (await js.get_last_msg(subjects.DEAD_LETTER_STREAM, subject)).data == b"transcript"
        for _ in range(50):
            try:
                await js.get_last_msg(subjects.DEAD_LETTER_STREAM, subject)
            except nats.js.errors.NotFoundError:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the message outlived the stream's max_age")
    finally:
        await ensure_stream(js, subjects.DEAD_LETTER_STREAM, Settings(nats_url=nats_url))
        await connection.close()


@pytest.mark.parametrize("stream", STREAMS)
def test_no_stream_keeps_data_longer_than_the_call_records(stream: str) -> None:
    """Lowering the call retention alone bounds every stream, whatever its own setting says."""
    settings = Settings(
        call_retention_days=2,
        webhook_retention_days=30,
        event_retention_days=30,
        dead_letter_retention_days=30,
    )
    assert settings.stream_max_age(stream) == dt.timedelta(days=2)
    assert Settings().stream_max_age(stream) <= dt.timedelta(days=Settings().call_retention_days)
