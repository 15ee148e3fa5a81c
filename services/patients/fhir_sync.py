"""FHIR record mode: the practice's system sees what Ignis took on the phone. Each staff request is a `Task`
(requested → accepted when claimed → completed), each call of a verified patient a `Communication`.

Written after the row in Ignis' Postgres is committed, by a background job of the patients service, never on
the caller's time: a FHIR server that is away delays the Task, it never loses it nor fails the tool. Each row
records what was last written (`fhir_status`, `fhir_kind`); a row whose value differs is written again, by a
conditional update on Ignis' identifier, so a repeat (another replica, a crash after the write) changes
nothing. The staff queue itself stays Ignis' (the staff API works on it); the Task follows it one way.
"""

import asyncio
import datetime as dt
import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.contracts.requests import RequestKind
from ignis.fhir import codes
from ignis.fhir.client import FhirClient, FhirError, Resource, reference, token
from ignis.patients.models import Call, Request
from ignis.patients.repository import PatientRepository

logger = logging.getLogger("ignis.patients.fhir")

TASK_STATUS = {"open": "requested", "claimed": "accepted", "done": "completed"}
KIND_DISPLAY = {
    RequestKind.rueckruf.value: "Rückruf",
    RequestKind.rezept.value: "Rezept",
    RequestKind.ueberweisung.value: "Überweisung",
    RequestKind.krankschreibung.value: "Krankschreibung",
    RequestKind.nachricht.value: "Nachricht",
}
# Rows written per round; a backlog after an outage drains in rounds one after another.
BATCH = 50
# A round that found nothing to write waits this long; one that failed (server away) waits longer.
IDLE_SECONDS = 1.0
AWAY_SECONDS = 10.0


def _when(at: dt.datetime | None) -> str | None:
    return at.isoformat() if at else None


def task_of(request: Request, patient: str | None) -> Resource:
    """The request as a FHIR Task; `patient` is the FHIR Patient id of the verified caller, if any."""
    task: Resource = {
        "resourceType": "Task",
        "identifier": [{"system": codes.IGNIS_REQUEST, "value": str(request.id)}],
        "status": TASK_STATUS[request.status],
        "intent": "order",
        "priority": "urgent" if request.urgent else "routine",
        "code": {
            "coding": [
                {
                    "system": codes.IGNIS_REQUEST_KIND,
                    "code": request.kind,
                    "display": KIND_DISPLAY[request.kind],
                }
            ]
        },
        "description": request.details,
        "authoredOn": _when(request.created_at),
        "lastModified": _when(request.completed_at or request.claimed_at or request.created_at),
    }
    if patient:
        task["for"] = reference("Patient", patient)
    if request.claimed_by:
        task["owner"] = {"display": request.claimed_by}
    if request.callback_number:
        task["input"] = [{"type": {"text": "Rückrufnummer"}, "valueString": request.callback_number}]
    if request.completion_note:
        task["note"] = [{"text": request.completion_note, "time": _when(request.completed_at)}]
    return task


def communication_of(call: Call, patient: str) -> Resource:
    """A phone call with a verified patient as a FHIR Communication: when, how long, and what was said
    in the words of the call's summary (the transcript stays in Ignis, purged with the call record)."""
    communication: Resource = {
        "resourceType": "Communication",
        "identifier": [{"system": codes.IGNIS_CALL, "value": call.conversation_id}],
        "status": "completed" if call.kind == "post_call_transcription" else "not-done",
        "medium": [{"coding": [{"system": codes.PARTICIPATION_MODE, "code": codes.PHONE}]}],
        "subject": reference("Patient", patient),
        "sender": reference("Patient", patient),
        "sent": _when(call.started_at or call.received_at),
        "received": _when(call.received_at),
    }
    if call.summary:
        communication["payload"] = [{"contentString": call.summary}]
    if call.duration_secs is not None:
        communication["note"] = [{"text": f"Telefonat mit dem KI-Empfang, {call.duration_secs} Sekunden"}]
    return communication


async def sync_once(sessionmaker: async_sessionmaker[AsyncSession], fhir: FhirClient) -> int:
    """Write what the FHIR server does not show yet; returns how many resources were written. A FHIR error
    ends the round (the rest waits for the next); what was written before it stays recorded."""
    written = 0
    async with sessionmaker() as session, session.begin():
        repo = PatientRepository(session)
        requests = await repo.requests_behind_fhir(BATCH)
        calls = await repo.calls_behind_fhir(BATCH)
        ids = [r.patient_id for r in requests if r.patient_id] + [c.patient_id for c in calls if c.patient_id]
        patients: dict[uuid.UUID, str] = await repo.fhir_ids(ids)
    for request in requests:
        task = task_of(request, patients.get(request.patient_id) if request.patient_id else None)
        await fhir.upsert(task, {"identifier": token(codes.IGNIS_REQUEST, str(request.id))})
        async with sessionmaker() as session, session.begin():
            await PatientRepository(session).request_in_fhir(request.id, request.status)
        written += 1
    for call in calls:
        patient = patients.get(call.patient_id) if call.patient_id else None
        if patient is not None:  # a patient of the Postgres mode's table: nothing to link to on the server
            await fhir.upsert(
                communication_of(call, patient), {"identifier": token(codes.IGNIS_CALL, call.conversation_id)}
            )
            written += 1
        async with sessionmaker() as session, session.begin():
            await PatientRepository(session).call_in_fhir(call.conversation_id, call.kind)
    return written


async def sync_forever(sessionmaker: async_sessionmaker[AsyncSession], fhir: FhirClient) -> None:
    """Background job of the service in FHIR record mode."""
    while True:
        try:
            written = await sync_once(sessionmaker, fhir)
        except FhirError as error:
            logger.warning("FHIR sync waits for the server", extra={"error": str(error)})
            await asyncio.sleep(AWAY_SECONDS)
            continue
        except Exception:  # the database may be away; the next round tries again
            logger.warning("FHIR sync round failed", exc_info=True)
            await asyncio.sleep(AWAY_SECONDS)
            continue
        if written:
            logger.info("written to the FHIR server", extra={"count": written})
        else:
            await asyncio.sleep(IDLE_SECONDS)
