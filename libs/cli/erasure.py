"""`ignis erase-patient`: a patient's data out of every store, with what each removed (counts only)."""

import asyncio
import uuid

import nats
from nats.errors import Error as NatsError
from pydantic import TypeAdapter, ValidationError

from ignis.cli.setup import in_patients_schema, with_sessionmaker
from ignis.contracts import subjects
from ignis.contracts.base import ErrorReply
from ignis.contracts.patients import ErasePatient, PatientErasedHere
from ignis.kit.clock import utcnow
from ignis.kit.erasure import delete_from_streams
from ignis.kit.settings import Settings
from ignis.patients import retention, vendor
from ignis.patients.repository import PatientRepository

# Services with patient data of their own; each also erases on `patient.erased`, whenever it runs.
ERASING_SERVICES = ("scheduler", "notifier")
STREAMS = retention.STREAMS_WITH_PATIENT_DATA
_REPLY: TypeAdapter[PatientErasedHere | ErrorReply] = TypeAdapter(PatientErasedHere | ErrorReply)


async def _quiet(_: Exception) -> None:
    """The refused connection is reported once, by the caller, not as a traceback per attempt."""


class NatsUnreachable(Exception):
    """Nothing was erased: without NATS the copies in its streams could not be found afterwards."""


# Per store, what was removed; None: a service that did not answer (it erases on the event once back); a
# text: what happened there in words (ElevenLabs).
Removed = dict[str, dict[str, int] | str | None]


async def erase_everywhere(
    database_url: str,
    nats_url: str,
    patient_id: uuid.UUID,
    answer_within: float = 5.0,
    elevenlabs: Settings | None = None,
) -> Removed | None:
    """Erase the patient in the patients schema, then every stream message that carries their data, then
    ask the scheduler and the notifier to erase theirs now, then delete their conversations at ElevenLabs
    (`elevenlabs`: the settings with its API key; best effort, recorded, retried by the patients service).
    None if there is no such patient."""
    try:  # nats-py retries a first connection forever: bounded here
        connection = await asyncio.wait_for(
            nats.connect(nats_url, connect_timeout=2, allow_reconnect=False, error_cb=_quiet), 5
        )
    except (NatsError, OSError, TimeoutError) as exc:
        raise NatsUnreachable(f"NATS not reachable at {nats_url} ({type(exc).__name__})") from None
    try:

        async def erase(repo: PatientRepository) -> tuple[set[str], dict[str, int]]:
            conversations = await repo.conversations_of(patient_id)
            counts = await retention.erase_patient(repo, patient_id)
            await repo.record_vendor_deletions(conversations, "erasure", utcnow())
            return conversations, counts

        conversations, counts = await in_patients_schema(database_url, erase)
        if not counts["patient"]:
            return None
        removed: Removed = {"patients": counts}
        removed["nats"] = await delete_from_streams(
            nats_url, STREAMS, retention.carries_patient(patient_id, conversations)
        )
        command = ErasePatient(patient_id=patient_id).model_dump_json().encode()
        for service in ERASING_SERVICES:
            try:
                reply = _REPLY.validate_json(
                    (await connection.request(subjects.erase_patient(service), command, answer_within)).data
                )
            except (NatsError, TimeoutError, ValidationError):
                reply = None
            removed[service] = reply.counts if isinstance(reply, PatientErasedHere) else None
        removed["elevenlabs"] = await delete_at_elevenlabs(database_url, elevenlabs, sorted(conversations))
        return removed
    finally:
        await connection.close()


async def delete_at_elevenlabs(
    database_url: str, settings: Settings | None, conversations: list[str] | None = None
) -> str:
    """Delete the conversations recorded for deletion (of `conversations`, else all pending) at ElevenLabs,
    in words. Never blocks an erasure: what fails stays pending for the patients service to retry."""
    try:
        deleted = await with_sessionmaker(
            database_url,
            lambda sessionmaker: vendor.delete_conversations(
                sessionmaker, settings or Settings(), conversations
            ),
        )
    except Exception as exc:  # the local deletion is done; say so rather than fail
        return f"failed ({type(exc).__name__}): pending, the patients service retries"
    return "not configured" if deleted is None else str(deleted)
