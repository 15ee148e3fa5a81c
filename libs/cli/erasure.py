"""`ignis erase-patient`: a patient's data out of every store, with what each removed (counts only)."""

import asyncio
import uuid

import nats
from nats.errors import Error as NatsError
from pydantic import TypeAdapter, ValidationError

from ignis.cli.setup import in_patients_schema
from ignis.contracts import subjects
from ignis.contracts.base import ErrorReply
from ignis.contracts.patients import ErasePatient, PatientErasedHere
from ignis.kit.erasure import delete_from_streams
from ignis.patients import service as patients_service
from ignis.patients.repository import PatientRepository

# Services with patient data of their own; each also erases on `patient.erased`, whenever it runs.
ERASING_SERVICES = ("scheduler", "notifier")
# Every stream that can hold a copy: raw post-call events, dead letters, events naming the patient.
STREAMS = (subjects.WEBHOOKS_STREAM, subjects.DEAD_LETTER_STREAM, subjects.EVENTS_STREAM)
_REPLY: TypeAdapter[PatientErasedHere | ErrorReply] = TypeAdapter(PatientErasedHere | ErrorReply)


async def _quiet(_: Exception) -> None:
    """The refused connection is reported once, by the caller, not as a traceback per attempt."""


class NatsUnreachable(Exception):
    """Nothing was erased: without NATS the copies in its streams could not be found afterwards."""


# Per store, what was removed; None: a service that did not answer (it erases on the event once back).
Removed = dict[str, dict[str, int] | None]


async def erase_everywhere(
    database_url: str, nats_url: str, patient_id: uuid.UUID, answer_within: float = 5.0
) -> Removed | None:
    """Erase the patient in the patients schema, then every stream message that carries their data, then
    ask the scheduler and the notifier to erase theirs now. None if there is no such patient."""
    try:  # nats-py retries a first connection forever: bounded here
        connection = await asyncio.wait_for(
            nats.connect(nats_url, connect_timeout=2, allow_reconnect=False, error_cb=_quiet), 5
        )
    except (NatsError, OSError, TimeoutError) as exc:
        raise NatsUnreachable(f"NATS not reachable at {nats_url} ({type(exc).__name__})") from None
    try:

        async def erase(repo: PatientRepository) -> tuple[set[str], dict[str, int]]:
            conversations = await repo.conversations_of(patient_id)
            return conversations, await patients_service.erase_patient(repo, patient_id)

        conversations, counts = await in_patients_schema(database_url, erase)
        if not counts["patient"]:
            return None
        removed: Removed = {"patients": counts}
        removed["nats"] = await delete_from_streams(
            nats_url, STREAMS, patients_service.carries_patient(patient_id, conversations)
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
        return removed
    finally:
        await connection.close()
