"""GDPR Art. 17 across services: the patients service erases a patient and emits `patient.erased`; every
other service that keeps something about patients erases it too, with this one consumer (durable: an
erasure that happens while a service is down is carried out when it is back). `ignis erase-patient` also
asks each service directly, to print what it removed, and deletes the copies held in JetStream streams."""

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import nats
from faststream.nats import NatsRouter
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncSession

from ignis.contracts import subjects
from ignis.contracts.patients import ErasePatient, PatientErased, PatientErasedHere
from ignis.kit.bus import HANDLER_CONCURRENCY, durable_subscriber, settle
from ignis.kit.context import Broker, Message
from ignis.kit.db import Sessionmaker

logger = logging.getLogger("ignis.erasure")
Erase = Callable[[AsyncSession, uuid.UUID], Awaitable[dict[str, int]]]
# Whether a stream message (subject, raw payload) carries data of the patient being erased.
Carries = Callable[[str, bytes], bool]


def subscribe_erasures(router: NatsRouter, service: str, durable: str, erase: Erase) -> None:
    """`erase(session, patient_id)` deletes this service's rows of the patient (idempotent: a redelivery
    finds nothing left) and returns counts, for the log and for `ignis erase-patient`."""

    @durable_subscriber(
        router,
        subjects.PATIENT_ERASED,
        stream=subjects.EVENTS_STREAM,
        durable=durable,
    )
    async def on_patient_erased(
        _: Any,
        message: Message,
        sessionmaker: Sessionmaker,
        broker: Broker,
    ) -> None:
        async def work() -> None:
            event = PatientErased.model_validate_json(message.body)
            async with sessionmaker() as session, session.begin():
                counts = await erase(session, event.patient_id)
            logger.info("patient erased here too", extra={"patient_id": str(event.patient_id), **counts})

        await settle(message, broker, work)

    @router.subscriber(
        subjects.erase_patient(service), queue=subjects.queue(service), max_workers=HANDLER_CONCURRENCY
    )
    async def erase_now(
        cmd: ErasePatient,
        sessionmaker: Sessionmaker,
    ) -> PatientErasedHere:
        async with sessionmaker() as session, session.begin():
            counts = await erase(session, cmd.patient_id)
        logger.info("patient erased on request", extra={"patient_id": str(cmd.patient_id), **counts})
        return PatientErasedHere(counts=counts)


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
