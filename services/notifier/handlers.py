"""Bus entry points of the notifier: translation and dependency injection only."""

import uuid
from typing import Annotated, Any

from faststream import Context, Depends
from faststream.nats import NatsBroker, NatsMessage, NatsRouter
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.contracts import subjects
from ignis.contracts.notifications import ListMessages, MessagePage, MessageRetried, RetryMessage
from ignis.contracts.scheduling import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentRescheduled,
    AppointmentSlotOffered,
)
from ignis.kit.bus import HANDLER_CONCURRENCY, durable_subscriber, settle
from ignis.kit.db import Session
from ignis.kit.erasure import subscribe_erasures
from ignis.notifier import service
from ignis.notifier.dispatcher import Dispatcher
from ignis.notifier.repository import NotifierRepository
from ignis.practice.config import Practice

router = NatsRouter()
QUEUE = subjects.queue("notifier")

Sessionmaker = Annotated[async_sessionmaker[AsyncSession], Context("sessionmaker")]
Broker = Annotated[NatsBroker, Context("broker")]
PracticeConfig = Annotated[Practice, Context("practice")]
Sender = Annotated[Dispatcher | None, Context("dispatcher", default=None)]

_EVENTS = {
    subjects.APPOINTMENT_BOOKED: TypeAdapter(AppointmentBooked),
    subjects.APPOINTMENT_RESCHEDULED: TypeAdapter(AppointmentRescheduled),
    subjects.APPOINTMENT_CANCELLED: TypeAdapter(AppointmentCancelled),
    subjects.APPOINTMENT_SLOT_OFFERED: TypeAdapter(AppointmentSlotOffered),
}


def get_repository(session: Session) -> NotifierRepository:
    return NotifierRepository(session)


Repository = Annotated[NotifierRepository, Depends(get_repository)]


@router.subscriber(subjects.NOTIFIER_MESSAGES_LIST, queue=QUEUE, max_workers=HANDLER_CONCURRENCY)
async def list_messages(query: ListMessages, repo: Repository) -> MessagePage:
    return await service.list_messages(repo, query)


@router.subscriber(subjects.NOTIFIER_MESSAGE_RETRY, queue=QUEUE, max_workers=HANDLER_CONCURRENCY)
async def retry_message(cmd: RetryMessage, repo: Repository) -> MessageRetried:
    """Committed when it returns; the dispatcher's next round (within a second) sends it."""
    return await service.retry_message(repo, cmd, service.utcnow())


@durable_subscriber(
    router,
    subjects.APPOINTMENT_EVENTS_SUBJECTS,
    stream=subjects.EVENTS_STREAM,
    durable=subjects.NOTIFIER_APPOINTMENTS_CONSUMER,
    batch_size=10,
)
async def on_appointment_event(
    _: Any,
    message: NatsMessage,
    sessionmaker: Sessionmaker,
    practice: PracticeConfig,
    broker: Broker,
    dispatcher: Sender,
) -> None:
    """Acknowledged once its SMS are recorded (not sent: the dispatcher sends them)."""
    subject = message.raw_message.subject

    async def work() -> None:
        event = _EVENTS[subject].validate_json(message.body)
        async with sessionmaker() as session, session.begin():
            await service.plan(NotifierRepository(session), practice, subject, event, service.utcnow())
        if dispatcher is not None:
            dispatcher.wake.set()

    await settle(message, broker, work)


async def _erase(session: AsyncSession, patient_id: uuid.UUID) -> dict[str, int]:
    return await NotifierRepository(session).erase_patient(patient_id)


subscribe_erasures(router, "notifier", subjects.NOTIFIER_ERASURES_CONSUMER, _erase)
