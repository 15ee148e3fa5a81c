"""Keeping patient data no longer than allowed: the hourly purge of expired call records and identification
attempts, and erasure on request (GDPR Art. 17)."""

import asyncio
import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.contracts import subjects
from ignis.contracts.patients import PatientErased
from ignis.kit.clock import utcnow
from ignis.kit.erasure import delete_from_streams
from ignis.kit.errors import NotFound
from ignis.kit.payload import unpack
from ignis.patients import budget
from ignis.patients.repository import PatientRepository
from ignis.patients.settings import PatientsSettings

logger = logging.getLogger("ignis.patients.retention")

# How often expired call records are looked for; retention is counted in days, so hourly is plenty.
PURGE_EVERY_SECONDS = 3600.0


async def purge_expired_calls(repo: PatientRepository, now: dt.datetime) -> int:
    """Delete call records past their retention date (transcripts are health data: kept no longer); their
    conversations are recorded for deletion at ElevenLabs too (`vendor.delete_conversations`)."""
    await repo.record_vendor_deletions(await repo.expired_conversations(now), "retention", now)
    purged = await repo.purge_calls(now)
    if purged:
        logger.info("expired call records deleted", extra={"count": purged})
    return purged


async def purge_expired_attempts(
    repo: PatientRepository, settings: PatientsSettings, now: dt.datetime
) -> int:
    """Identification attempts (caller numbers, names said) are kept no longer than their window."""
    return await repo.purge_attempts(budget.window_start(settings, now))


async def purge_forever(sessionmaker: async_sessionmaker[AsyncSession], settings: PatientsSettings) -> None:
    """Background job of the service: purge expired call records and attempts now and every hour."""
    while True:
        try:
            async with sessionmaker() as session, session.begin():
                repo, now = PatientRepository(session), utcnow()
                await purge_expired_calls(repo, now)
                await purge_expired_attempts(repo, settings, now)
        except Exception:  # the database may be away; the next round tries again
            logger.warning("purge of expired call records failed", exc_info=True)
        await asyncio.sleep(PURGE_EVERY_SECONDS)


async def erase_patient(repo: PatientRepository, patient_id: uuid.UUID) -> dict[str, int]:
    """GDPR Art. 17: the patient, their call records, requests and verifications; `patient.erased` (through
    the outbox, so it goes out once the erasure committed) makes the scheduler and the notifier erase
    their appointments and SMS records."""
    counts = await repo.erase(patient_id)
    if counts["patient"]:
        event = PatientErased(event_id=uuid.uuid4(), occurred_at=utcnow(), patient_id=patient_id)
        await repo.add_event(subjects.PATIENT_ERASED, event)
    logger.info("patient erased", extra={"patient_id": str(patient_id), **counts})
    return counts


# Every stream that can hold a copy of a patient's data: raw post-call events, dead letters, events.
STREAMS_WITH_PATIENT_DATA = (subjects.WEBHOOKS_STREAM, subjects.DEAD_LETTER_STREAM, subjects.EVENTS_STREAM)


async def erase_everywhere_here(
    repo: PatientRepository, nats_url: str, patient_id: uuid.UUID
) -> dict[str, int]:
    """Erasure asked over NATS (the staff app): the patient's rows, the stream copies of their data, and
    their conversations at ElevenLabs recorded for deletion (sent by the vendor job, retried until done).
    The scheduler and the notifier erase theirs on `patient.erased`. (The stream copies go before the
    commit: what they hold is stored in the rows being erased.)"""
    conversations = await repo.conversations_of(patient_id)
    counts = await erase_patient(repo, patient_id)
    if not counts["patient"]:
        raise NotFound("no such patient")
    await repo.record_vendor_deletions(conversations, "erasure", utcnow())
    copies = await delete_from_streams(
        nats_url, STREAMS_WITH_PATIENT_DATA, carries_patient(patient_id, conversations)
    )
    counts["stream_messages"] = sum(copies.values())
    return counts


def carries_patient(patient_id: uuid.UUID, conversation_ids: set[str]) -> Callable[[str, bytes], bool]:
    """Whether a stream message holds the patient's data: a post-call event (raw or dead-lettered) of one of
    their conversations, or an event naming them. `patient.erased` is kept: it is what makes a service
    that is down erase the patient once it is back."""
    keep = {subjects.PATIENT_ERASED, subjects.dead_letter(subjects.PATIENT_ERASED)}
    patient = str(patient_id)

    def carries(subject: str, data: bytes) -> bool:
        if subject in keep:
            return False
        try:
            payload = json.loads(unpack(data))
        except (ValueError, UnicodeDecodeError):
            return False
        if not isinstance(payload, dict):
            return False
        inner = payload.get("data")
        conversation = inner.get("conversation_id") if isinstance(inner, dict) else None
        return conversation in conversation_ids or payload.get("patient_id") == patient

    return carries
