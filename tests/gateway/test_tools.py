"""The agent's tools through HTTP: auth, validation, German replies, and behaviour when services fail."""

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ignis.contracts import subjects
from ignis.contracts.patients import Insurance
from ignis.contracts.tools import RegisterPatientBody
from ignis.patients.models import Patient
from ignis.patients.repository import PatientRepository
from tests.conftest import HEADERS, METRICS_HEADERS, slow_replica
from tests.factories import MUELLER, NEW_PATIENT, patient
from tests.pii import find_pii

IDENTIFY_ANNA = {
    "conversation_id": "conv-1",
    "caller_id": "+4930111222",
    "last_name": "Mueller",
    "birth_date": "12.03.1980",
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


@pytest.fixture
async def anna(session: AsyncSession) -> Patient:
    added = await PatientRepository(session).add(patient(MUELLER))
    await session.commit()
    return added


@pytest.mark.usefixtures("patients_service", "anna")
class TestIdentifyPatient:
    @pytest.mark.parametrize(
        "birth_date", ["1980-03-12", "12.03.1980", "12.3.80", "12. März 1980", "zwölfter dritter achtzig"]
    )
    async def test_mueller_finds_mueller_in_every_date_format(
        self, gateway: httpx.AsyncClient, birth_date: str
    ) -> None:
        response = await gateway.post(
            "/tools/identify_patient", json=IDENTIFY_ANNA | {"birth_date": birth_date}, headers=HEADERS
        )
        assert response.status_code == 200
        body = response.json()
        assert body["ok"] is True
        assert body["code"] == "identified"
        assert body["first_name"] == "Anna"
        assert body["salutation"] == "Frau Müller"
        assert body["patient_ref"].startswith("pr_")
        assert body["message"].startswith("Vielen Dank")

    async def test_unknown_caller(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.post(
            "/tools/identify_patient", json=IDENTIFY_ANNA | {"last_name": "Schulze"}, headers=HEADERS
        )
        assert response.status_code == 200
        assert response.json()["code"] == "not_found"
        assert response.json()["ok"] is False
        assert "nicht finden" in response.json()["message"]

    async def test_unparseable_birth_date_is_a_spoken_answer(self, gateway: httpx.AsyncClient) -> None:
        for birth_date in ("31.02.1980", "irgendwann", "12.03.2090"):
            response = await gateway.post(
                "/tools/identify_patient", json=IDENTIFY_ANNA | {"birth_date": birth_date}, headers=HEADERS
            )
            assert response.status_code == 200
            assert response.json()["code"] == "invalid_birth_date"
            assert birth_date not in response.text

    async def test_third_failure_offers_a_callback(self, gateway: httpx.AsyncClient) -> None:
        wrong = IDENTIFY_ANNA | {"conversation_id": "conv-3x", "birth_date": "13.03.1980"}
        codes = [
            (await gateway.post("/tools/identify_patient", json=wrong, headers=HEADERS)).json()["code"]
            for _ in range(3)
        ]
        assert codes == ["not_found", "not_found", "too_many_attempts"]
        locked = await gateway.post(
            "/tools/identify_patient", json=IDENTIFY_ANNA | {"conversation_id": "conv-3x"}, headers=HEADERS
        )
        assert locked.json()["code"] == "too_many_attempts"
        assert "Rückruf" in locked.json()["message"]


@pytest.mark.usefixtures("patients_service")
class TestRegisterPatient:
    async def test_register_then_identify(self, gateway: httpx.AsyncClient, session: AsyncSession) -> None:
        response = await gateway.post("/tools/register_patient", json=REGISTER_NEW, headers=HEADERS)
        assert response.status_code == 200
        assert response.json()["code"] == "registered"
        stored = (await session.execute(select(Patient))).scalars().one()
        assert (stored.phone, stored.birth_date) == ("+4917099988877", NEW_PATIENT.birth_date)
        identify = {"conversation_id": "conv-9", "last_name": "Krueger-Oezdemir", "birth_date": "09.08.2001"}
        found = await gateway.post("/tools/identify_patient", json=identify, headers=HEADERS)
        assert found.json()["code"] == "identified"

    async def test_registering_twice_returns_a_ref_to_the_same_record(
        self, gateway: httpx.AsyncClient
    ) -> None:
        await gateway.post("/tools/register_patient", json=REGISTER_NEW, headers=HEADERS)
        again = await gateway.post(
            "/tools/register_patient", json=REGISTER_NEW | {"conversation_id": "conv-x"}, headers=HEADERS
        )
        assert again.json()["code"] == "already_registered"
        assert again.json()["ok"] is True
        assert again.json()["patient_ref"].startswith("pr_")

    async def test_invalid_phone(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.post(
            "/tools/register_patient", json=REGISTER_NEW | {"phone": "12"}, headers=HEADERS
        )
        assert response.status_code == 200
        assert response.json()["code"] == "invalid_phone"

    @pytest.mark.parametrize(("spoken", "stored"), [("GKV", "gesetzlich"), ("Privat", "privat")])
    async def test_insurance_as_spoken(
        self, gateway: httpx.AsyncClient, session: AsyncSession, spoken: str, stored: str
    ) -> None:
        body = REGISTER_NEW | {"insurance": spoken, "sms_consent": "ja"}
        assert (await gateway.post("/tools/register_patient", json=body, headers=HEADERS)).json()[
            "code"
        ] == "registered"
        assert (await session.execute(select(Patient.insurance, Patient.sms_consent))).one() == (stored, True)


# What a withheld number may look like in system__caller_id (ElevenLabs' value for a SIP call without a
# number is unconfirmed: the SIP bridge sends From sip:anonymous@anonymous.invalid and no X-CALLER-ID).
WITHHELD = [None, "", "anonymous", "Anonymous", "sip:anonymous@anonymous.invalid"]


def withheld(body: dict[str, object], caller_id: str | None) -> dict[str, object]:
    """body with the caller id as the platform may send it for a withheld number (None: key missing)."""
    body = {key: value for key, value in body.items() if key != "caller_id"}
    return body if caller_id is None else body | {"caller_id": caller_id}


@pytest.mark.usefixtures("patients_service")
class TestWithheldCaller:
    """Issue 14: a caller who withholds the number gets the same service, through every caller tool."""

    @pytest.mark.parametrize("caller_id", WITHHELD)
    async def test_identify_register_and_leave_a_message(
        self, gateway: httpx.AsyncClient, session: AsyncSession, anna: Patient, caller_id: str | None
    ) -> None:
        identify = await gateway.post(
            "/tools/identify_patient", json=withheld(IDENTIFY_ANNA, caller_id), headers=HEADERS
        )
        assert (identify.status_code, identify.json()["code"]) == (200, "identified")

        register = withheld(REGISTER_NEW, caller_id)
        del register["phone"]
        registered = await gateway.post("/tools/register_patient", json=register, headers=HEADERS)
        assert (registered.status_code, registered.json()["code"]) == (200, "registered")
        new = await session.execute(select(Patient.phone).where(Patient.id != anna.id))
        assert new.scalars().all() == [None]  # no number invented from the withheld caller id

        message = withheld(
            {"conversation_id": "conv-w", "kind": "nachricht", "details": "Bitte Befund faxen."}, caller_id
        )
        created = await gateway.post("/tools/create_request", json=message, headers=HEADERS)
        assert (created.status_code, created.json()["ok"]) == (200, True), created.json()

    @pytest.mark.parametrize("caller_id", ["", "anonymous"])
    async def test_a_callback_asks_for_a_number(self, gateway: httpx.AsyncClient, caller_id: str) -> None:
        """Without a number to call back the tool says so (the agent asks), it does not fail."""
        body = {
            "conversation_id": "conv-r",
            "kind": "rueckruf",
            "details": "Rückruf erbeten",
            "caller_id": caller_id,
        }
        response = await gateway.post("/tools/create_request", json=body, headers=HEADERS)
        assert (response.status_code, response.json()["code"]) == (200, "invalid_phone")
        with_number = await gateway.post(
            "/tools/create_request", json=body | {"callback_number": "0170 1234567"}, headers=HEADERS
        )
        assert (with_number.status_code, with_number.json()["ok"]) == (200, True)


class TestAuthentication:
    @pytest.mark.parametrize("headers", [{}, {"X-Ignis-Tool-Secret": "wrong"}, {"X-Ignis-Tool-Secret": ""}])
    async def test_missing_or_wrong_secret_is_401(
        self, gateway: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await gateway.post("/tools/identify_patient", json=IDENTIFY_ANNA, headers=headers)
        assert response.status_code == 401
        assert response.json()["ok"] is False
        assert response.json()["code"] == "unauthorized"

    async def test_header_name_is_case_insensitive(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.post(
            "/tools/identify_patient",
            json={},
            headers={"x-ignis-tool-secret": HEADERS["X-Ignis-Tool-Secret"]},
        )
        assert response.status_code == 422

    async def test_auth_is_checked_before_the_body(self, gateway: httpx.AsyncClient) -> None:
        assert (await gateway.post("/tools/identify_patient", content=b"{")).status_code == 401


class TestValidation:
    async def test_malformed_json(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.post(
            "/tools/identify_patient", content=b'{"last_name": "M\xc3\xbcller", ', headers=HEADERS
        )
        assert response.status_code == 422
        body = response.json()
        assert (body["ok"], body["code"], body["fields"]) == (False, "invalid_request", ["body"])
        assert body["message"]
        assert "Müller" not in response.text

    @pytest.mark.parametrize("payload", [b"[]", b'"text"', b"null", b""])
    async def test_body_that_is_not_an_object(self, gateway: httpx.AsyncClient, payload: bytes) -> None:
        response = await gateway.post("/tools/identify_patient", content=payload, headers=HEADERS)
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_request"

    async def test_missing_fields_are_named_without_values(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.post(
            "/tools/register_patient",
            json={"conversation_id": "c", "last_name": "Müller", "insurance": "maybe"},
            headers=HEADERS,
        )
        assert response.status_code == 422
        assert response.json()["fields"] == ["birth_date", "first_name", "insurance", "sms_consent"]
        assert "Müller" not in response.text
        assert "maybe" not in response.text

    async def test_wrong_types(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.post(
            "/tools/identify_patient",
            json=IDENTIFY_ANNA | {"last_name": 42, "conversation_id": ""},
            headers=HEADERS,
        )
        assert response.status_code == 422
        assert response.json()["fields"] == ["conversation_id", "last_name"]

    async def test_unknown_tool_is_404(self, gateway: httpx.AsyncClient) -> None:
        assert (await gateway.post("/tools/delete_everything", json={}, headers=HEADERS)).status_code == 404


class TestUnavailable:
    async def test_service_stopped_answers_unavailable_within_budget(
        self, gateway: httpx.AsyncClient
    ) -> None:
        started = time.monotonic()
        response = await gateway.post("/tools/identify_patient", json=IDENTIFY_ANNA, headers=HEADERS)
        elapsed = time.monotonic() - started
        assert response.status_code == 200
        assert response.json()["code"] == "unavailable"
        assert response.json()["ok"] is False
        assert "gerade nicht" in response.json()["message"]
        assert elapsed < 0.5 + 0.5, f"answered after {elapsed:.2f}s, budget 0.5s"

    async def test_slow_service_answers_unavailable_within_budget(
        self, gateway: httpx.AsyncClient, slow_patients: None
    ) -> None:
        started = time.monotonic()
        response = await gateway.post("/tools/identify_patient", json=IDENTIFY_ANNA, headers=HEADERS)
        elapsed = time.monotonic() - started
        assert response.json()["code"] == "unavailable"
        assert 0.5 <= elapsed < 0.5 + 0.5, f"answered after {elapsed:.2f}s, budget 0.5s"


@pytest.fixture
async def slow_patients(nats_url: str) -> AsyncIterator[None]:
    async with slow_replica(nats_url, subjects.PATIENTS_IDENTIFY, "patients"):
        yield


class TestHealth:
    async def test_healthz(self, gateway: httpx.AsyncClient) -> None:
        assert (await gateway.get("/healthz")).json() == {"status": "ok"}

    async def test_readyz_names_the_missing_services(
        self, gateway: httpx.AsyncClient, patients_service: None
    ) -> None:
        response = await gateway.get("/readyz")
        assert response.status_code == 503
        assert response.json()["services"] == {"patients": True, "scheduler": False, "notifier": False}

    @pytest.mark.usefixtures("patients_service", "anna")
    async def test_metrics_count_tools_by_outcome(self, gateway: httpx.AsyncClient) -> None:
        await gateway.post("/tools/identify_patient", json=IDENTIFY_ANNA, headers=HEADERS)
        await gateway.post("/tools/identify_patient", json={}, headers=HEADERS)
        metrics = (await gateway.get("/metrics", headers=METRICS_HEADERS)).text
        assert 'ignis_tool_calls_total{code="identified",tool="identify_patient"} 1.0' in metrics
        assert 'ignis_tool_calls_total{code="invalid_request",tool="identify_patient"} 1.0' in metrics
        assert 'ignis_tool_latency_seconds_count{tool="identify_patient"} 2.0' in metrics
        assert not find_pii(metrics)

    async def test_openapi_documents_each_tool_body(self, gateway: httpx.AsyncClient) -> None:
        spec = json.loads((await gateway.get("/openapi.json")).text)
        schema = spec["paths"]["/tools/register_patient"]["post"]["requestBody"]["content"][
            "application/json"
        ]["schema"]
        assert {"first_name", "last_name", "birth_date", "insurance", "sms_consent"} <= set(
            schema["required"]
        )


def test_the_gateway_serves_exactly_the_contracted_tools() -> None:
    """`ignis provision` registers TOOL_BODIES at ElevenLabs; each must be a route of the gateway."""
    from ignis.contracts.tools import TOOL_BODIES
    from ignis.gateway.tools import TOOLS, build_router

    assert list(TOOLS) == list(TOOL_BODIES)
    assert {route.path for route in build_router().routes} == {f"/tools/{name}" for name in TOOL_BODIES}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("said", "insurance", "consent"),
    [
        ("GKV", Insurance.gesetzlich, "ja"),
        ("PKV", Insurance.privat, "nein"),
        ("Selbstzahler", Insurance.selbstzahler, True),
    ],
)
def test_spoken_insurance_and_consent(said: str, insurance: Insurance, consent: object) -> None:
    """The agent's words for a choice are understood before the contracted body's types check them."""
    from ignis.gateway.tools import TOOLS

    body = TOOLS["register_patient"].reader.model_validate(
        {
            "conversation_id": "c",
            "first_name": "A",
            "last_name": "B",
            "birth_date": "1.1.2000",
            "insurance": said,
            "sms_consent": consent,
        }
    )
    assert isinstance(body, RegisterPatientBody)
    assert body.insurance is insurance
    assert body.sms_consent is (consent in ("ja", True))
