"""The sender: takes due messages from `notifier.message` and sends each at most once.

Exactly once, as the patient sees it:
- a message is *claimed* (committed) before anything else, so two senders never take the same one;
- it turns *sending* (committed) right before the request leaves; a sender that dies then leaves it
  `sending`, and recovery makes it `unknown`, never `pending`: sipgate has no idempotency key, so a second
  request could be a second SMS;
- only outcomes where the SMS certainly did not go out (could not connect, 429/500/503, patients service
  away) are tried again, with backoff.
"""

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from faststream.nats import NatsBroker
from prometheus_client import Counter
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.contracts import subjects
from ignis.contracts.base import ErrorCode, ErrorReply
from ignis.contracts.notifications import Contact, GetContact, MessageStatus
from ignis.kit.bus import ask
from ignis.kit.clock import utcnow
from ignis.kit.errors import ServiceError
from ignis.kit.rounds import in_rounds
from ignis.notifier import service
from ignis.notifier.models import Message
from ignis.notifier.providers import Outcome, Result, SmsProvider
from ignis.notifier.repository import NotifierRepository
from ignis.practice.config import Practice
from ignis.practice.sms import Template, message_fields, render

logger = logging.getLogger("ignis.notifier.dispatch")
Status = MessageStatus

CONTACT_TIMEOUT_SECONDS = 2.0
BATCH = 10  # messages sent at once; a hanging provider holds up no more than these
RETRY_BACKOFF = [dt.timedelta(seconds=s) for s in (30, 120, 600, 1800, 3600)]
MAX_ATTEMPTS = len(RETRY_BACKOFF) + 1
# A claim older than this belongs to a sender that stopped: nothing was sent yet, it is released.
CLAIM_LEASE = dt.timedelta(minutes=2)
# A request unanswered this long after its timeout belongs to a sender that stopped; the margin covers
# clock differences between replicas and a slow commit of the outcome.
SENDING_MARGIN = dt.timedelta(seconds=15)
_contact = TypeAdapter(Contact | ErrorReply)
SMS = Counter(
    "ignis_sms",
    "SMS by template and final status (sent, failed, unknown, skipped, withdrawn)",
    ["template", "status"],
)


class Dispatcher:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        broker: NatsBroker,
        practice: Practice,
        provider: SmsProvider,
        send_timeout_seconds: float,
        clock: Callable[[], dt.datetime] = utcnow,
        poll_seconds: float = 1.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.broker = broker
        self.practice = practice
        self.provider = provider
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.zone = ZoneInfo(practice.timezone)
        self.sending_lease = dt.timedelta(seconds=send_timeout_seconds) + SENDING_MARGIN
        self.wake = asyncio.Event()

    async def run(self) -> None:
        """Send until cancelled: at once when woken (a new event was planned), else every `poll_seconds`."""

        async def send_due() -> None:
            await self.recover()
            while await self.dispatch_due() == BATCH:
                pass

        await in_rounds(send_due, self.wake, self.poll_seconds, "SMS dispatch")

    async def recover(self) -> None:
        now = self.clock()
        async with self.sessionmaker() as session, session.begin():
            released, unknown = await NotifierRepository(session).recover(
                now - CLAIM_LEASE, now - self.sending_lease
            )
        if released:
            logger.warning("released messages a stopped sender had claimed", extra={"released": released})
        if unknown:
            logger.error(
                "a stopped sender left SMS of unknown outcome (GET /staff/messages?status=unknown)",
                extra={"unknown": unknown},
            )

    async def dispatch_due(self) -> int:
        """Send the messages due now, up to `BATCH` at once; how many were taken."""
        claim = uuid.uuid4()
        async with self.sessionmaker() as session, session.begin():
            messages = await NotifierRepository(session).claim_due(self.clock(), BATCH, claim)
        await asyncio.gather(*(self._deliver(message, claim) for message in messages))
        return len(messages)

    async def _deliver(self, message: Message, claim: uuid.UUID) -> None:
        try:
            await self._process(message, claim)
        except Exception:  # leave it claimed: recovery releases it after the lease, nothing left yet
            logger.error(
                "message could not be processed", extra={"message_id": str(message.id)}, exc_info=True
            )

    async def _finish(self, message: Message, holder: uuid.UUID, **fields: Any) -> bool:
        async with self.sessionmaker() as session, session.begin():
            return await NotifierRepository(session).finish(message.id, holder, **fields)

    async def _close(self, message: Message, claim: uuid.UUID, status: Status, reason: str) -> None:
        await self._finish(message, claim, status=status, reason=reason, finished_at=self.clock())
        SMS.labels(message.template, status).inc()
        logger.info("SMS not sent", extra={"message_id": str(message.id), "status": status, "reason": reason})

    async def _later(
        self, message: Message, claim: uuid.UUID, reason: str, after: float | None = None
    ) -> None:
        """Certainly not sent: try again after a backoff, or give up after `MAX_ATTEMPTS`."""
        if message.attempts >= MAX_ATTEMPTS:
            await self._close(
                message, claim, Status.failed, f"gave up after {message.attempts} attempts: {reason}"
            )
            return
        delay = RETRY_BACKOFF[message.attempts - 1]
        if after is not None:
            delay = max(delay, dt.timedelta(seconds=after))
        await self._finish(
            message, claim, status=Status.pending, reason=reason, due_at=self.clock() + delay, claim=None
        )
        logger.warning("SMS postponed", extra={"message_id": str(message.id), "reason": reason})

    async def _process(self, message: Message, claim: uuid.UUID) -> None:
        now = self.clock()
        if message.start_at <= now:
            await self._close(message, claim, Status.skipped, "the appointment has begun")
            return
        if message.template == Template.reminder:
            if not await self._still_current(message):
                await self._close(message, claim, Status.withdrawn, "appointment cancelled or moved")
                return
            if service.in_quiet_hours(now.astimezone(self.zone).time(), self.practice):
                await self._close(
                    message, claim, Status.skipped, "due in the quiet hours (the notifier was away)"
                )
                return
        try:
            contact = await ask(
                self.broker,
                GetContact(patient_id=message.patient_id),
                subjects.PATIENTS_CONTACT,
                _contact,
                CONTACT_TIMEOUT_SECONDS,
            )
        except ServiceError as exc:
            await self._later(message, claim, f"patients service: {exc.message}")
            return
        if isinstance(contact, ErrorReply):
            if contact.code == ErrorCode.not_found:
                await self._close(message, claim, Status.skipped, "patient no longer exists")
            else:
                await self._later(message, claim, f"patients service answered {contact.code}")
            return
        if not contact.sms_consent:
            await self._close(message, claim, Status.skipped, "no SMS consent")
            return
        if not contact.phone or not contact.mobile:
            await self._close(message, claim, Status.skipped, "no mobile number")
            return
        text = self.text(message)
        if not await self._finish(
            message,
            claim,
            status=Status.sending,
            body=text,
            provider=self.provider.name,
            claimed_at=self.clock(),
        ):
            return  # recovered by another sender meanwhile: it is theirs now
        result = await self.provider.send(contact.phone, text, str(message.id))
        await self._record(message, claim, result)

    async def _still_current(self, message: Message) -> bool:
        async with self.sessionmaker() as session:
            appointment = await NotifierRepository(session).appointment(message.appointment_id)
        return (
            appointment is not None and appointment.event_id == message.event_id and not appointment.cancelled
        )

    async def _record(self, message: Message, claim: uuid.UUID, result: Result) -> None:
        extra = {
            "message_id": str(message.id),
            "template": message.template,
            "http_status": result.http_status,
        }
        if result.outcome == Outcome.retry:
            await self._later(message, claim, result.reason or "try again", result.retry_after_seconds)
            return
        status = {Outcome.sent: Status.sent, Outcome.failed: Status.failed, Outcome.unknown: Status.unknown}[
            result.outcome
        ]
        await self._finish(
            message,
            claim,
            status=status,
            reason=result.reason,
            provider_status=result.http_status,
            finished_at=self.clock(),
        )
        SMS.labels(message.template, status).inc()
        if status == Status.sent:
            logger.info("SMS sent", extra=extra)
        else:
            logger.error("SMS not delivered", extra=extra | {"status": status, "reason": result.reason})

    def text(self, message: Message) -> str:
        practitioner = self.practice.practitioner(message.practitioner_id)
        fields = message_fields(
            self.practice.sms_fields(),
            practitioner.name if practitioner else "",
            message.start_at.astimezone(self.zone),
            (message.previous_start_at or message.start_at).astimezone(self.zone),
        )
        return render(self.practice.sms.template(Template(message.template)), fields)
