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
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard, TypeVar
from zoneinfo import ZoneInfo

from faststream.nats import NatsBroker
from prometheus_client import Counter
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.contracts import subjects
from ignis.contracts.base import ErrorReply
from ignis.contracts.notifications import Contacts, GetContacts, MessageStatus
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
T = TypeVar("T")
Status = MessageStatus

CONTACT_TIMEOUT_SECONDS = 2.0
# Messages sent at once (their contacts asked in one request); a hanging provider holds up no more than these.
BATCH = 50
RETRY_BACKOFF = [dt.timedelta(seconds=s) for s in (30, 120, 600, 1800, 3600)]
MAX_ATTEMPTS = len(RETRY_BACKOFF) + 1
# A claim older than this belongs to a sender that stopped: nothing was sent yet, it is released.
CLAIM_LEASE = dt.timedelta(minutes=2)
# A request unanswered this long after its timeout belongs to a sender that stopped; the margin covers
# clock differences between replicas and a slow commit of the outcome.
SENDING_MARGIN = dt.timedelta(seconds=15)
# How often a sender looks for the messages of a stopped one: often against the leases above.
RECOVER_EVERY_SECONDS = 5.0
_contacts = TypeAdapter(Contacts | ErrorReply)
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
        fhir_records: bool = False,
    ) -> None:
        """`sessionmaker`: autocommit sessions; each step below is one statement, committed on its own
        (or several landing together in `Repository.atomic`), which spares the BEGIN and COMMIT round trips.
        `fhir_records`: FHIR record mode; a message sent keeps the patient's FHIR id (`fhir_sync` then
        records it on the server)."""
        self.fhir_records = fhir_records
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
        """Send until cancelled: soon after being woken (an event was planned; `rounds`), else every poll."""

        recovered_at = -math.inf

        async def send_due() -> None:
            """Until none is due (a patient's next SMS follows at once), recovering now and then: not on
            each round of a burst, nor never while rounds keep taking some."""
            nonlocal recovered_at
            while True:
                if time.monotonic() - recovered_at >= RECOVER_EVERY_SECONDS:
                    await self.recover()
                    recovered_at = time.monotonic()
                if not await self.dispatch_due():
                    return

        await in_rounds(send_due, self.wake, self.poll_seconds, "SMS dispatch")

    async def recover(self) -> None:
        now = self.clock()
        async with self.sessionmaker() as session:  # one statement, a transaction of its own
            released, unknown = await NotifierRepository(session).recover(
                now, now - CLAIM_LEASE, now - self.sending_lease, MAX_ATTEMPTS
            )
        if released:
            logger.warning(  # back to pending, or failed if taken MAX_ATTEMPTS times (`recover`)
                "released messages a stopped sender had claimed", extra={"released": released}
            )
        if unknown:
            logger.error(
                "a stopped sender left SMS of unknown outcome (GET /staff/messages?status=unknown)",
                extra={"unknown": unknown},
            )

    async def dispatch_due(self) -> int:
        """Send the messages due now, up to `BATCH` at once; how many were taken.

        A batch costs three transactions and one request to the patients service however large it is: the
        claim (then, for reminders and retries, a read of where their appointments stand), then the
        contacts of those still to be sent, the step of each message (the `sending` mark of those that go
        out, committed before any request leaves, or why one does not), and the outcomes. The SMS are sent
        concurrently, one per patient at most (`claim_due`). The claim is one statement, a transaction of
        its own; so is each step when all write the same fields. With nothing due, a round is that one
        statement.
        """
        claim = uuid.uuid4()
        async with self.sessionmaker() as session:
            repo = NotifierRepository(session)
            messages = await repo.claim_due(self.clock(), BATCH, claim)
            standing = [m.appointment_id for m in messages if _only_as_it_stands(m)]
            current = await repo.current_appointments(standing) if standing else {}
        if not messages:
            return 0
        now = self.clock()
        ahead = [(m, _attempt(self._before_contact, m, current, now)) for m in messages]
        contacts = await self._contacts([m.patient_id for m, step in ahead if step is None])
        decided = [
            (m, step if step is not None else _attempt(self._decide, m, contacts, now)) for m, step in ahead
        ]
        steps = [(m, step) for m, step in decided if _succeeded(step, m)]
        outgoing = [(m, step.send) for m, step in await self._apply(steps, claim) if step.send is not None]
        results = await asyncio.gather(
            *(self.provider.send(phone, text, str(m.id)) for m, (phone, text) in outgoing),
            return_exceptions=True,
        )
        outcomes = [
            (m, self._outcome(m, result))
            for (m, _), result in zip(outgoing, results, strict=True)
            if _succeeded(result, m)
        ]
        await self._apply(outcomes, claim)
        return len(messages)

    async def _apply(
        self, steps: list[tuple[Message, "_Step"]], claim: uuid.UUID
    ) -> list[tuple[Message, "_Step"]]:
        """Write the steps in one transaction (`finish_many`); those of messages this sender still holds, once
        committed."""
        if not steps:
            return []
        async with self.sessionmaker() as session:
            held = await NotifierRepository(session).finish_many(
                claim, [(m.id, step.fields) for m, step in steps]
            )
        kept = [(m, step) for m, step in steps if m.id in held]
        for message, step in kept:
            step.report(message)
        return kept

    def _before_contact(
        self, message: Message, current: dict[uuid.UUID, uuid.UUID], now: dt.datetime
    ) -> "_Step | None":
        """A claimed message closed without asking for the patient's contact, if it is; else None."""
        if message.start_at <= now:
            return self._close(Status.skipped, "the appointment has begun")
        if _only_as_it_stands(message) and current.get(message.appointment_id) != message.event_id:
            return self._close(Status.withdrawn, "appointment cancelled or moved")
        if message.template == Template.reminder and service.in_quiet_hours(
            now.astimezone(self.zone).time(), self.practice
        ):
            return self._close(Status.skipped, "due in the quiet hours (the notifier was away)")
        return None

    async def _contacts(self, patient_ids: list[uuid.UUID]) -> "Contacts | str":
        """The contacts of these patients, asked in one request right before sending; or why they could
        not be learnt (then the messages are tried again later)."""
        if not patient_ids:
            return Contacts(contacts={})
        try:
            answer = await ask(
                self.broker,
                GetContacts(patient_ids=list(dict.fromkeys(patient_ids))),
                subjects.PATIENTS_CONTACTS,
                _contacts,
                CONTACT_TIMEOUT_SECONDS,
            )
        except ServiceError as exc:
            return f"patients service: {exc.message}"
        if isinstance(answer, ErrorReply):
            return f"patients service answered {answer.code}"
        return answer

    def _decide(self, message: Message, contacts: "Contacts | str", now: dt.datetime) -> "_Step":
        """What becomes of a claimed message once its patient's contact is asked: closed, postponed, or
        sent (to which number, what text)."""
        if isinstance(contacts, str):
            return self._later(message, contacts)
        contact = contacts.contacts.get(message.patient_id)
        if contact is None:
            return self._close(Status.skipped, "patient no longer exists")
        if not contact.sms_consent:
            return self._close(Status.skipped, "no SMS consent")
        if not contact.phone or not contact.mobile:
            return self._close(Status.skipped, "no mobile number")
        text = self.text(message)
        fields = {"status": Status.sending, "body": text, "provider": self.provider.name, "claimed_at": now}
        if self.fhir_records:
            fields["fhir_patient_id"] = contact.fhir_patient_id
        return _Step(fields, send=(contact.phone, text))

    def _close(self, status: Status, reason: str) -> "_Step":
        def report(message: Message) -> None:
            SMS.labels(message.template, status).inc()
            extra = {"message_id": str(message.id), "status": status, "reason": reason}
            logger.info("SMS not sent", extra=extra)

        return _Step({"status": status, "reason": reason, "finished_at": self.clock()}, report=report)

    def _later(self, message: Message, reason: str, after: float | None = None) -> "_Step":
        """Certainly not sent: try again after a backoff, or give up after `MAX_ATTEMPTS`."""
        if message.attempts >= MAX_ATTEMPTS:
            return self._close(Status.failed, f"gave up after {message.attempts} attempts: {reason}")
        delay = RETRY_BACKOFF[message.attempts - 1]
        if after is not None:
            delay = max(delay, dt.timedelta(seconds=after))

        def report(message: Message) -> None:
            logger.warning("SMS postponed", extra={"message_id": str(message.id), "reason": reason})

        fields = {"status": Status.pending, "reason": reason, "due_at": self.clock() + delay, "claim": None}
        return _Step(fields, report=report)

    def _outcome(self, message: Message, result: Result) -> "_Step":
        if result.outcome == Outcome.retry:
            return self._later(message, result.reason or "try again", result.retry_after_seconds)
        status = {Outcome.sent: Status.sent, Outcome.failed: Status.failed, Outcome.unknown: Status.unknown}[
            result.outcome
        ]

        def report(message: Message) -> None:
            SMS.labels(message.template, status).inc()
            extra = {
                "message_id": str(message.id),
                "template": message.template,
                "http_status": result.http_status,
            }
            if status == Status.sent:
                logger.info("SMS sent", extra=extra)
            else:
                logger.error("SMS not delivered", extra=extra | {"status": status, "reason": result.reason})

        fields = {
            "status": status,
            "reason": result.reason,
            "provider_status": result.http_status,
            "finished_at": self.clock(),
        }
        return _Step(fields, report=report)

    def text(self, message: Message) -> str:
        practitioner = self.practice.practitioner(message.practitioner_id)
        fields = message_fields(
            self.practice.sms_fields(),
            practitioner.name if practitioner else "",
            message.start_at.astimezone(self.zone),
            (message.previous_start_at or message.start_at).astimezone(self.zone),
        )
        return render(self.practice.sms.template(Template(message.template)), fields)


@dataclass
class _Step:
    """A claimed message's next step: the fields written for it, what is said once they are committed, and
    the SMS to send then (number, text), if any."""

    fields: dict[str, Any]
    report: Callable[[Message], None] = lambda message: None
    send: tuple[str, str] | None = None


def _attempt(step: Callable[..., T], *args: Any) -> T | Exception:
    """A message's step, or what it raised (that message alone is left as it is, see `_succeeded`)."""
    try:
        return step(*args)
    except Exception as exc:
        return exc


def _only_as_it_stands(message: Message) -> bool:
    """Whether a message goes out only while its appointment stands as the change it tells left it: a
    reminder always; a confirmation or a move's SMS once tried before (a reason recorded, or a claim
    before this one). Sent in its turn, such an SMS reaches the phone before any later change's
    (`claim_due`); put off by a failure, it could come after one and name a time since moved or cancelled
    as booked."""
    if message.template == Template.reminder:
        return True
    tried = message.attempts > 1 or message.reason is not None
    return message.template in (Template.confirmation, Template.reschedule) and tried


def _succeeded(done: "T | BaseException", message: Message) -> TypeGuard[T]:
    """Whether a message's step ran; one that raised leaves the message claimed (nothing left yet: recovery
    releases it after the lease) or sending (recovery makes it unknown), as for a sender that stopped."""
    if isinstance(done, Exception):
        logger.error("message could not be processed", extra={"message_id": str(message.id)}, exc_info=done)
        return False
    if isinstance(done, BaseException):
        raise done
    return True
