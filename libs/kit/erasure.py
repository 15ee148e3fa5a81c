"""GDPR Art. 17 across services, as plumbing: a service erases one person's data when an erasure event
reaches its durable consumer (an erasure that happens while it is down is carried out when it is back) and
when asked directly, saying what it removed; copies held in JetStream streams are deleted by content. Which
events and commands these are (the patients' contracts) is each service's declaration."""

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import nats
from faststream.nats import NatsRouter
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from ignis.contracts import subjects
from ignis.kit.bus import durable_subscriber, settle
from ignis.kit.context import Broker, Message
from ignis.kit.db import Sessionmaker

logger = logging.getLogger("ignis.erasure")
# Deletes this service's rows of the person the message names; returns counts per kind of record.
Erase = Callable[[AsyncSession, Any], Awaitable[dict[str, int]]]
# Whether a stream message (subject, raw payload) carries data of the person being erased.
Carries = Callable[[str, bytes], bool]


def subscribe_erasures(
    router: NatsRouter,
    *,
    event: tuple[str, type[BaseModel]],
    durable: str,
    command: tuple[str, type[BaseModel]],
    responds: Callable[[str], Callable[[Callable[..., Any]], Any]],
    reply: type[BaseModel],
    erase: Erase,
) -> None:
    """Erase on the `(subject, model)` `event` (durable consumer `durable` of the events stream) and on the
    `command` (subscribed with the service's `responds`, see `kit.bus.responder`), which is answered with
    `reply` (a model whose one field is `counts`).

    `erase(session, message)` deletes the rows of the person the event or command names and must be
    idempotent: a redelivery, or the event after the command, finds nothing left. Counts only are logged.
    """
    event_subject, event_model = event
    command_subject, command_model = command

    @durable_subscriber(router, event_subject, stream=subjects.EVENTS_STREAM, durable=durable)
    async def on_erased(
        _: Any,
        message: Message,
        sessionmaker: Sessionmaker,
        broker: Broker,
    ) -> None:
        async def work() -> None:
            erasure = event_model.model_validate_json(message.body)
            async with sessionmaker() as session, session.begin():
                counts = await erase(session, erasure)
            logger.info("erased here too", extra={"subject": event_subject, **counts})

        await settle(message, broker, work)

    @responds(command_subject)
    async def erase_now(
        _: Any,
        message: Message,
        sessionmaker: Sessionmaker,
    ) -> Any:  # a `reply`; FastStream would cast to a bare BaseModel annotation
        erasure = command_model.model_validate_json(message.body)
        async with sessionmaker() as session, session.begin():
            counts = await erase(session, erasure)
        logger.info("erased on request", extra={"subject": command_subject, **counts})
        return reply.model_validate({"counts": counts})


async def delete_from_streams(nats_url: str, streams: Iterable[str], carries: Carries) -> dict[str, int]:
    """Delete every message of `streams` that `carries` says holds the patient's data; how many per stream.

    Streams are read message by message (JetStream has no query by content); they are short, as each one's
    max_age is bounded by the retention.
    """
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        return {stream: await _delete_matching(js, stream, carries) for stream in streams}
    finally:
        await connection.close()


async def _delete_matching(js: JetStreamContext, stream: str, carries: Carries) -> int:
    try:
        last = (await js.stream_info(stream)).state.last_seq
    except NotFoundError:
        return 0
    deleted, sequence = 0, 1
    while sequence <= last:
        try:  # the next message at or after `sequence` (deleted ones leave gaps)
            message = await js.get_msg(stream, sequence, subject=subjects.stream_subjects(stream), next=True)
        except NotFoundError:
            break
        if message.seq is None or message.seq > last:
            break
        if carries(message.subject or "", message.data or b""):
            await js.delete_msg(stream, message.seq)
            deleted += 1
        sequence = message.seq + 1
    return deleted
