"""FHIR record mode: each SMS sent is a `Communication` on the practice's server (medium SMS, the text as its
payload: it is the practice's own message to its patient), so the practice's system shows what Ignis texted.

Written after the `sent` outcome is committed, by a background job, never on the sender's time: a FHIR server
that is away delays the Communication, it neither loses it nor holds up an SMS. A sent message keeps the
patient's FHIR id (`fhir_patient_id`, from the contact asked before sending) until its Communication is
written (`fhir_written_at`); the create is conditional on Ignis' message id (`If-None-Exist`), so a repeat
(another replica, a crash between the write and its record) makes no second one.
"""

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.fhir import codes
from ignis.fhir.client import FhirClient, FhirError, Resource, reference, token
from ignis.kit.clock import utcnow
from ignis.kit.rounds import in_rounds
from ignis.notifier.models import Message
from ignis.notifier.repository import NotifierRepository
from ignis.practice.sms import Template

logger = logging.getLogger("ignis.notifier.fhir")

# Messages written per round; a backlog after an outage drains in rounds one after another.
BATCH = 50
# How often the job looks for sent messages (and tries again after the server was away).
POLL_SECONDS = 1.0


def communication_of(message: Message) -> Resource:
    """A sent SMS as a FHIR Communication from the practice to the patient."""
    assert message.fhir_patient_id is not None
    patient = reference("Patient", message.fhir_patient_id)
    communication: Resource = {
        "resourceType": "Communication",
        "identifier": [{"system": codes.IGNIS_SMS, "value": str(message.id)}],
        "status": "completed",
        "medium": [{"coding": [{"system": codes.PARTICIPATION_MODE, "code": codes.SMS}]}],
        "subject": patient,
        "recipient": [patient],
        "sent": (message.finished_at or message.created_at).isoformat(),
    }
    if message.template != Template.waitlist_offer:  # an offer's `appointment_id` is a hold's, not a booking
        appointment = {"system": codes.IGNIS_APPOINTMENT, "value": str(message.appointment_id)}
        communication["about"] = [{"identifier": appointment}]
    if message.body:
        communication["payload"] = [{"contentString": message.body}]
    return communication


async def sync_once(sessionmaker: async_sessionmaker[AsyncSession], fhir: FhirClient) -> int:
    """Write the Communications the server does not have yet; how many. A FHIR error ends the round (the
    rest waits for the next); what was written before it stays recorded."""
    async with sessionmaker() as session, session.begin():
        messages = await NotifierRepository(session).behind_fhir(BATCH)
    for message in messages:
        await fhir.create(
            communication_of(message), if_none_exist={"identifier": token(codes.IGNIS_SMS, str(message.id))}
        )
        async with sessionmaker() as session, session.begin():
            await NotifierRepository(session).in_fhir(message.id, utcnow())
    return len(messages)


async def sync_forever(
    sessionmaker: async_sessionmaker[AsyncSession], fhir: FhirClient, poll_seconds: float = POLL_SECONDS
) -> None:
    """Background job of the notifier in FHIR record mode."""

    async def drain() -> None:
        try:
            while (written := await sync_once(sessionmaker, fhir)) == BATCH:
                logger.info("SMS written to the FHIR server", extra={"count": written})
        except FhirError as error:  # the server is away or refuses: the messages wait for the next round
            logger.warning("SMS records wait for the FHIR server", extra={"error": str(error)})
            return
        if written:
            logger.info("SMS written to the FHIR server", extra={"count": written})

    await in_rounds(drain, asyncio.Event(), poll_seconds, "FHIR SMS records")
