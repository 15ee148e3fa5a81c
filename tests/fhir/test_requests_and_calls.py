"""FHIR record mode: staff requests reach the practice's system as Tasks that follow the queue (requested →
accepted → completed), calls of a verified patient as Communications; a FHIR server that is away delays them,
it neither loses them nor fails the caller's tool."""

import asyncio
import json
import signal
from pathlib import Path

from faststream.nats import NatsBroker
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.contracts import subjects
from ignis.contracts.base import ErrorReply
from ignis.contracts.patients import IdentifyPatient, PatientIdentified
from ignis.contracts.requests import (
    ClaimRequest,
    CompleteRequest,
    CreateRequest,
    RequestFiled,
    RequestKind,
    RequestUpdated,
)
from ignis.fhir import codes
from ignis.fhir.client import FhirClient, FhirUnavailable, Resource
from ignis.kit.clock import utcnow
from ignis.patients import calls, fhir_sync
from ignis.patients.fhir_records import repository
from ignis.patients.settings import PatientsSettings
from tests.factories import MUELLER
from tests.fhir.conftest import on_server
from tests.fhir_engine.engine import FhirEngine
from tests.patient_commands import IDENTIFY, Reply, ask

FIXTURES = Path(__file__).parent.parent / "fixtures" / "elevenlabs"
CREATED: Reply = TypeAdapter(RequestFiled | ErrorReply)
UPDATED: Reply = TypeAdapter(RequestUpdated | ErrorReply)


async def verified(bus: NatsBroker, conversation: str) -> str:
    command = IdentifyPatient(
        conversation_id=conversation, last_name="Mueller", birth_date=MUELLER.birth_date
    )
    reply = await ask(bus, subjects.PATIENTS_IDENTIFY, command, IDENTIFY)
    assert isinstance(reply, PatientIdentified)
    return reply.patient_ref


async def task_once(fhir: FhirClient, request_id: str, status: str, within_seconds: float = 10) -> Resource:
    """The request's Task once it shows `status` (the service writes it in the background)."""
    deadline = asyncio.get_running_loop().time() + within_seconds
    while True:
        tasks = await fhir.search("Task", {"identifier": f"{codes.IGNIS_REQUEST}|{request_id}"})
        if tasks and tasks[0]["status"] == status:
            assert len(tasks) == 1
            return tasks[0]
        assert asyncio.get_running_loop().time() < deadline, f"no Task {status} within {within_seconds}s"
        await asyncio.sleep(0.1)


async def test_a_request_is_a_task_that_follows_the_queue(
    committing_patients_bus: NatsBroker, fhir: FhirClient
) -> None:
    bus = committing_patients_bus
    [anna] = await on_server(fhir, MUELLER)
    ref = await verified(bus, "c1")
    create = CreateRequest(
        conversation_id="c1", kind=RequestKind.rezept, details="Ramipril 5 mg", patient_ref=ref, urgent=True
    )

    created = await ask(bus, subjects.PATIENTS_REQUEST_CREATE, create, CREATED)
    requested = await task_once(fhir, created.request_id, "requested")
    await ask(
        bus, subjects.PATIENTS_REQUEST_CLAIM, ClaimRequest(request_id=created.request_id, by="Petra"), UPDATED
    )
    accepted = await task_once(fhir, created.request_id, "accepted")
    done = CompleteRequest(request_id=created.request_id, by="Petra", note="Rezept liegt bereit")
    await ask(bus, subjects.PATIENTS_REQUEST_COMPLETE, done, UPDATED)
    completed = await task_once(fhir, created.request_id, "completed")

    assert requested["for"] == {"reference": f"Patient/{anna['id']}"}
    assert requested["priority"] == "urgent"
    assert requested["intent"] == "order"
    assert requested["code"]["coding"][0]["code"] == "rezept"
    assert requested["description"] == "Ramipril 5 mg"
    assert accepted["owner"] == {"display": "Petra"}
    assert completed["note"][0]["text"] == "Rezept liegt bereit"
    assert completed["id"] == requested["id"]  # one Task, updated


async def test_a_server_that_is_away_delays_the_task_and_loses_nothing(
    patients_bus: NatsBroker,
    fhir_engine: FhirEngine,
    fhir_url: str,
    fhir: FhirClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    create = CreateRequest(
        conversation_id="c1", caller_id="+4930999888", kind=RequestKind.rueckruf, details="Bitte zurückrufen"
    )
    async with FhirClient(fhir_url, timeout_seconds=0.5) as writer:
        fhir_engine.process.send_signal(signal.SIGSTOP)
        try:
            created = await ask(patients_bus, subjects.PATIENTS_REQUEST_CREATE, create, CREATED)
            failed = None
            try:
                await fhir_sync.sync_once(sessionmaker, writer)
            except FhirUnavailable as error:
                failed = error
        finally:
            fhir_engine.process.send_signal(signal.SIGCONT)

        assert isinstance(created, RequestFiled)  # the caller heard their request was taken
        assert failed is not None
        assert await fhir_sync.sync_once(sessionmaker, writer) == 1
        assert await fhir_sync.sync_once(sessionmaker, writer) == 0  # written once, then nothing left
    task = await task_once(fhir, created.request_id, "requested", within_seconds=0)
    assert "for" not in task
    assert task["input"] == [{"type": {"text": "Rückrufnummer"}, "valueString": "+4930999888"}]


async def test_the_call_of_a_verified_patient_is_a_communication(
    patients_bus: NatsBroker,
    fhir: FhirClient,
    fhir_patients_settings: PatientsSettings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    [anna] = await on_server(fhir, MUELLER)
    await verified(patients_bus, "conv_anna")
    payload = json.loads((FIXTURES / "post_call_transcription.json").read_text())
    payload["data"]["conversation_id"] = "conv_anna"
    async with sessionmaker() as session, session.begin():
        repo = repository(session, fhir)
        await calls.store_call(repo, fhir_patients_settings, json.dumps(payload).encode(), utcnow())

    assert await fhir_sync.sync_once(sessionmaker, fhir) == 1
    [communication] = await fhir.search("Communication", {"subject": f"Patient/{anna['id']}"})
    assert communication["identifier"] == [{"system": codes.IGNIS_CALL, "value": "conv_anna"}]
    assert communication["status"] == "completed"
    assert communication["medium"][0]["coding"][0]["code"] == "PHONE"
    assert communication["payload"][0]["contentString"] == payload["data"]["analysis"]["transcript_summary"]
    assert await fhir_sync.sync_once(sessionmaker, fhir) == 0
