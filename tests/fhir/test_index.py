"""FHIR record mode: the patients service identifies callers from its in-memory index of the server's
patients (no FHIR round trip on the caller's time), and asks the server itself for what the index cannot know
yet."""

import asyncio
import dataclasses
import datetime as dt
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faststream import TestApp
from faststream.nats import NatsBroker
from pydantic import TypeAdapter

from ignis.contracts import subjects
from ignis.contracts.base import ErrorReply
from ignis.contracts.patients import IdentifyPatient, PatientIdentified
from ignis.fhir.client import FhirClient
from ignis.kit.bus import make_broker
from ignis.patients import fhir_index
from ignis.patients.fhir_index import PatientIndex
from ignis.patients.main import create_app
from ignis.patients.settings import PatientsSettings
from tests.conftest import wait_until_serving
from tests.factories import GROSS, MUELLER, NEW_PATIENT
from tests.fhir.conftest import on_server, practice_patient
from tests.fhir_engine.engine import FhirEngine

IDENTIFY: TypeAdapter[Any] = TypeAdapter(PatientIdentified | ErrorReply)


class TestPatientIndex:
    async def test_pages_by_last_change_and_follows_changes(
        self, fhir: FhirClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(fhir_index, "PAGE", 2)  # pages smaller than one transaction's patients
        twins = [practice_patient(dataclasses.replace(MUELLER, first_name=f"Anna{n}")) for n in range(7)]
        await fhir.transaction(
            [{"resource": p, "request": {"method": "POST", "url": "Patient"}} for p in twins]
        )
        [gross] = await on_server(fhir, GROSS)
        index = PatientIndex()
        assert index.candidates(MUELLER.birth_date) is None  # not filled: the caller asks the server

        await index.catch_up(fhir)
        await fhir.update({**gross, "birthDate": "1956-11-02"})
        await index.catch_up(fhir)

        assert len(index.candidates(MUELLER.birth_date) or []) == 7
        assert index.candidates(GROSS.birth_date) == []
        assert [p["id"] for p in index.candidates(dt.date(1956, 11, 2)) or []] == [gross["id"]]
        assert len(index) == 8
        assert await index.catch_up(fhir) == 0  # nothing changed, nothing applied


@pytest.fixture
async def indexed(
    fhir_patients_settings: PatientsSettings, nats_url: str, clean_database: None, fhir: FhirClient
) -> AsyncIterator[tuple[NatsBroker, PatientIndex]]:
    """The service with its background jobs; its index filled once and then left alone for a minute."""
    await on_server(fhir, MUELLER)
    app = create_app(fhir_patients_settings.model_copy(update={"fhir_index_seconds": 60.0}))
    async with TestApp(app):
        requester = make_broker(nats_url, "test-client")
        await requester.start()
        await wait_until_serving(requester, "patients")
        index: PatientIndex = app.context.get("patient_index")
        for _ in range(200):
            if index.ready:
                break
            await asyncio.sleep(0.05)
        yield requester, index
        await requester.stop()


async def identify(bus: NatsBroker, conversation: str, last_name: str, birth_date: dt.date) -> Any:
    command = IdentifyPatient(conversation_id=conversation, last_name=last_name, birth_date=birth_date)
    return IDENTIFY.validate_json((await bus.request(command, subjects.PATIENTS_IDENTIFY, timeout=8)).body)


async def test_a_known_patient_is_identified_without_asking_the_server(
    indexed: tuple[NatsBroker, PatientIndex], fhir_engine: FhirEngine
) -> None:
    bus, index = indexed
    assert index.ready
    fhir_engine.process.send_signal(signal.SIGSTOP)  # the server would not answer now
    try:
        reply = await identify(bus, "c1", "Mueller", MUELLER.birth_date)
    finally:
        fhir_engine.process.send_signal(signal.SIGCONT)

    assert isinstance(reply, PatientIdentified)


async def test_a_patient_entered_a_moment_ago_is_found_on_the_server(
    indexed: tuple[NatsBroker, PatientIndex], fhir: FhirClient
) -> None:
    bus, index = indexed
    await on_server(fhir, NEW_PATIENT)  # after the index was filled; its next round is a minute away

    reply = await identify(bus, "c1", NEW_PATIENT.last_name, NEW_PATIENT.birth_date)

    assert index.candidates(NEW_PATIENT.birth_date) == []
    assert isinstance(reply, PatientIdentified)
