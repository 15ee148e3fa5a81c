"""Bus entry points of the notifier: translation and dependency injection only."""

import logging
from typing import Annotated, Any

from faststream import Depends
from faststream.nats import NatsRouter
from sqlalchemy.ext.asyncio import AsyncSession

from ignis.contracts import subjects
from ignis.contracts.notifications import ListMessages, MessagePage, MessageRetried, RetryMessage
from ignis.contracts.patients import ErasePatient, PatientErased, PatientErasedHere
from ignis.contracts.requests import RequestCreated
from ignis.contracts.scheduling import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentEvent,
    AppointmentRescheduled,
    AppointmentSlotOffered,
)
from ignis.kit.bus import durable_subscriber, responder, settle
from ignis.kit.clock import utcnow
from ignis.kit.context import Broker, Context, Message
from ignis.kit.db import Session, Sessionmaker
from ignis.kit.erasure import subscribe_erasures
from ignis.notifier import alerts, service
from ignis.notifier.dispatcher import Dispatcher
from ignis.notifier.repository import NotifierRepository
from ignis.practice.config import Practice

logger = logging.getLogger("ignis.notifier")
router = NatsRouter()
responds = responder(router, "notifier")

PracticeConfig = Annotated[Practice, Context("practice")]
Sender = Annotated[Dispatcher | None, Context("dispatcher", default=None)]
Events = Annotated[service.Planner, Context("planner")]

# Appointment events handled at once (up to IGNIS_CONCURRENCY), their SMS recorded in one transaction.
EVENTS_AT_ONCE = 32
_EVENTS: dict[str, type[AppointmentEvent] | type[AppointmentSlotOffered]] = {
    subjects.APPOINTMENT_BOOKED: AppointmentBooked,
    subjects.APPOINTMENT_RESCHEDULED: AppointmentRescheduled,
    subjects.APPOINTMENT_CANCELLED: AppointmentCancelled,
    subjects.APPOINTMENT_SLOT_OFFERED: AppointmentSlotOffered,
}


async def get_repository(session: Session) -> NotifierRepository:
    return NotifierRepository(session)


Repository = Annotated[NotifierRepository, Depends(get_repository)]


@responds(subjects.NOTIFIER_MESSAGES_LIST)
async def list_messages(query: ListMessages, repo: Repository) -> MessagePage:
    return await service.list_messages(repo, query)


@responds(subjects.NOTIFIER_MESSAGE_RETRY)
async def retry_message(cmd: RetryMessage, repo: Repository) -> MessageRetried:
    """Committed when it returns; the dispatcher's next round (within a second) sends it."""
    return await service.retry_message(repo, cmd, utcnow())


@durable_subscriber(
    router,
    subjects.APPOINTMENT_EVENTS_SUBJECTS,
    stream=subjects.EVENTS_STREAM,
    durable=subjects.NOTIFIER_APPOINTMENTS_CONSUMER,
    batch_size=EVENTS_AT_ONCE,
)
async def on_appointment_event(
    _: Any, message: Message, planner: Events, broker: Broker, dispatcher: Sender
) -> None:
    """Acknowledged once its SMS are recorded (not sent: the dispatcher sends them), in one transaction
    with the other events handled at once."""
    subject = message.raw_message.subject

    async def work() -> None:
        event = _EVENTS[subject].model_validate_json(message.body)
        await planner.plan(subject, event)
        if dispatcher is not None:
            dispatcher.wake.set()

    await settle(message, broker, work)


@durable_subscriber(
    router,
    subjects.REQUEST_CREATED,
    stream=subjects.EVENTS_STREAM,
    durable=subjects.NOTIFIER_REQUESTS_CONSUMER,
)
async def on_request_created(
    _: Any,
    message: Message,
    sessionmaker: Sessionmaker,
    practice: PracticeConfig,
    broker: Broker,
    dispatcher: Sender,
) -> None:
    """An urgent request: an SMS to the staff mobile (once; acknowledged after it is recorded)."""

    async def work() -> None:
        if dispatcher is None:
            return
        event = RequestCreated.model_validate_json(message.body)
        async with sessionmaker() as session, session.begin():
            outcome = await alerts.alert_staff(
                NotifierRepository(session), dispatcher.provider, practice, event, dispatcher.clock()
            )
        logger.info("staff alert", extra={"request_id": event.request_id, "outcome": outcome})

    await settle(message, broker, work)


async def _erase(session: AsyncSession, erasure: PatientErased | ErasePatient) -> dict[str, int]:
    return await NotifierRepository(session).erase_patient(erasure.patient_id)


subscribe_erasures(
    router,
    event=(subjects.PATIENT_ERASED, PatientErased),
    durable=subjects.NOTIFIER_ERASURES_CONSUMER,
    command=(subjects.erase_patient("notifier"), ErasePatient),
    responds=responds,
    reply=PatientErasedHere,
    erase=_erase,
)
