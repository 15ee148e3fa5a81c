"""GDPR Art. 17 across services: the patients service erases a patient and emits `patient.erased`; every
other service that keeps something about patients erases it too, with this one consumer (durable: an
erasure that happens while a service is down is carried out when it is back)."""

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from faststream import Context
from faststream.nats import NatsBroker, NatsMessage, NatsRouter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.contracts import subjects
from ignis.contracts.patients import PatientErased
from ignis.kit.bus import durable_subscriber, settle

logger = logging.getLogger("ignis.erasure")
Erase = Callable[[AsyncSession, uuid.UUID], Awaitable[dict[str, int]]]


def subscribe_erasures(router: NatsRouter, durable: str, erase: Erase) -> None:
    """`erase(session, patient_id)` deletes this service's rows of the patient (idempotent: a redelivery
    finds nothing left) and returns counts for the log."""

    @durable_subscriber(
        router,
        subjects.PATIENT_ERASED,
        stream=subjects.EVENTS_STREAM,
        durable=durable,
    )
    async def on_patient_erased(
        _: Any,
        message: NatsMessage,
        sessionmaker: Annotated[async_sessionmaker[AsyncSession], Context("sessionmaker")],
        broker: Annotated[NatsBroker, Context("broker")],
    ) -> None:
        async def work() -> None:
            event = PatientErased.model_validate_json(message.body)
            async with sessionmaker() as session, session.begin():
                counts = await erase(session, event.patient_id)
            logger.info("patient erased here too", extra={"patient_id": str(event.patient_id), **counts})

        await settle(message, broker, work)
