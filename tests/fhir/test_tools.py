"""The caller's tools through the gateway with the patients on the FHIR server: the same HTTP contract as in
Ignis' own record mode, the records where the practice keeps them."""

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.fhir import codes
from ignis.fhir.client import FhirClient
from ignis.patients import fhir_sync
from tests.conftest import HEADERS
from tests.factories import MUELLER, NEW_PATIENT
from tests.fhir.conftest import on_server

pytestmark = pytest.mark.usefixtures("patients_bus")

IDENTIFY_ANNA = {
    "conversation_id": "conv-1",
    "caller_id": "+4930111222",
    "last_name": "Mueller",
    "birth_date": "12. März 1980",
}
REGISTER_NEW = {
    "conversation_id": "conv-2",
    "caller_id": "+4930111222",
    "first_name": NEW_PATIENT.first_name,
    "last_name": NEW_PATIENT.last_name,
    "birth_date": "9. August 2001",
    "phone": "0170 99988877",
    "insurance": "gesetzlich",
    "sms_consent": True,
}


async def tool(gateway: httpx.AsyncClient, name: str, body: dict[str, object]) -> dict[str, object]:
    response = await gateway.post(f"/tools/{name}", json=body, headers=HEADERS)
    assert response.status_code == 200, response.text
    reply: dict[str, object] = response.json()
    return reply


async def test_identify_a_patient_of_the_practice(gateway: httpx.AsyncClient, fhir: FhirClient) -> None:
    await on_server(fhir, MUELLER)

    reply = await tool(gateway, "identify_patient", IDENTIFY_ANNA)

    assert reply["code"] == "identified"
    assert set(reply) == {"ok", "code", "message", "patient_ref", "first_name", "salutation"}
    assert (reply["first_name"], reply["salutation"]) == ("Anna", "Frau Müller")


async def test_register_then_identify_then_ask_for_a_prescription(
    gateway: httpx.AsyncClient, fhir: FhirClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    registered = await tool(gateway, "register_patient", REGISTER_NEW)
    again = await tool(gateway, "register_patient", REGISTER_NEW)  # the agent asked again: a lost reply
    found = await tool(
        gateway,
        "identify_patient",
        {"conversation_id": "conv-3", "last_name": "Krüger Özdemir", "birth_date": "09.08.2001"},
    )
    request = await tool(
        gateway,
        "create_request",
        {
            "conversation_id": "conv-3",
            "kind": "rezept",
            "details": "Salbutamol-Spray",
            "patient_ref": found["patient_ref"],
        },
    )
    await fhir_sync.sync_once(sessionmaker, fhir)

    assert registered["code"] == "registered"
    assert again["patient_ref"] == registered["patient_ref"]
    assert found["code"] == "identified"
    assert request["ok"] is True
    [patient] = await fhir.search("Patient", {"birthdate": NEW_PATIENT.birth_date.isoformat()})
    assert patient["telecom"][0]["value"] == "+4917099988877"
    [task] = await fhir.search("Task", {"patient": f"Patient/{patient['id']}"})
    assert task["code"]["coding"][0] == {
        "system": codes.IGNIS_REQUEST_KIND,
        "code": "rezept",
        "display": "Rezept",
    }
