"""create_request and the staff request queue, through the gateway with real services, NATS and Postgres."""

import json
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.contracts import subjects
from ignis.gateway.settings import GatewaySettings
from ignis.patients.models import Request
from tests.conftest import HEADERS, Caller, received, verified_caller

pytestmark = pytest.mark.usefixtures("services")


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    payload = {
        "conversation_id": "conv-req",
        "caller_id": "+4930111222",
        "kind": "rueckruf",
        "details": "Bitte um Rückruf wegen Befund",
    }
    response = await client.post("/tools/create_request", json=payload | body, headers=HEADERS)
    assert response.status_code == 200, response.text
    return dict(response.json())


def staff(settings: GatewaySettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.staff_token.get_secret_value()}"}


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    return gateway_settings.model_copy(update={"tool_budget_seconds": 4.0})


@pytest.fixture
async def caller(engine: AsyncEngine) -> Caller:
    return await verified_caller(engine)


class TestCreateRequest:
    async def test_callback_for_an_unknown_caller(
        self, client: httpx.AsyncClient, gateway_settings: GatewaySettings, events: JetStreamContext
    ) -> None:
        reply = await create(client, caller_id="0151 99988877", urgent="ja")
        assert (reply["ok"], reply["code"]) == (True, "request_created")
        assert "zurück" in reply["what_next"]
        queue = (await client.get("/staff/requests", headers=staff(gateway_settings))).json()
        [item] = queue["items"]
        assert (item["request_id"], item["request_kind"], item["urgent"]) == (
            reply["request_id"],
            "rueckruf",
            True,
        )
        assert item["callback_number"] == "+4915199988877"
        assert item["patient"] is None
        [event] = await received(events, 1)
        assert event.subject == subjects.REQUEST_CREATED
        payload = json.loads(event.data)
        assert (payload["request_id"], payload["urgent"]) == (reply["request_id"], True)
        assert "details" not in payload

    async def test_prescription_needs_a_verified_caller(
        self, client: httpx.AsyncClient, caller: Caller
    ) -> None:
        assert (await create(client, kind="Rezept", details="Ramipril 5 mg"))["code"] == "not_verified"
        other_call = await create(
            client, kind="rezept", details="Ramipril 5 mg", patient_ref=caller.patient_ref
        )
        assert other_call["code"] == "not_verified"
        mine = await create(
            client,
            kind="Folgerezept",
            details="Ramipril 5 mg",
            conversation_id=caller.conversation_id,
            patient_ref=caller.patient_ref,
        )
        assert mine["code"] == "request_created"

    async def test_identical_retry_keeps_one_request(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        first, second = await create(client), await create(client)
        assert first["request_id"] == second["request_id"]
        async with AsyncSession(engine) as session:
            assert await session.scalar(select(func.count()).select_from(Request)) == 1

    async def test_bad_callback_number_and_kind(self, client: httpx.AsyncClient) -> None:
        assert (await create(client, callback_number="123"))["code"] == "invalid_phone"
        response = await client.post(
            "/tools/create_request",
            json={"conversation_id": "c", "kind": "Pizza", "details": "x"},
            headers=HEADERS,
        )
        assert (response.status_code, response.json()["fields"]) == (422, ["kind"])


class TestStaffQueue:
    async def test_claim_complete_and_conflicts(
        self, client: httpx.AsyncClient, gateway_settings: GatewaySettings, caller: Caller
    ) -> None:
        plain = await create(client, kind="nachricht", details="Termin bitte verschieben")
        urgent = await create(client, details="Starke Schmerzen", urgent=True)
        headers = staff(gateway_settings)
        queue = (await client.get("/staff/requests?limit=1", headers=headers)).json()
        assert queue["items"][0]["request_id"] == urgent["request_id"], "urgent first"
        rest = (
            await client.get(f"/staff/requests?limit=1&cursor={queue['next_cursor']}", headers=headers)
        ).json()
        assert [i["request_id"] for i in rest["items"]] == [plain["request_id"]]
        assert rest["next_cursor"] is None

        url = f"/staff/requests/{urgent['request_id']}"
        claimed = await client.post(f"{url}/claim", json={"by": "MFA Schulz"}, headers=headers)
        assert claimed.json()["request"]["status"] == "claimed"
        assert (
            await client.post(f"{url}/claim", json={"by": "MFA Schulz"}, headers=headers)
        ).status_code == 200
        assert (
            await client.post(f"{url}/claim", json={"by": "Dr. Weber"}, headers=headers)
        ).status_code == 409
        assert (
            await client.post(f"{url}/complete", json={"by": "Dr. Weber"}, headers=headers)
        ).status_code == 409
        done = await client.post(
            f"{url}/complete", json={"by": "MFA Schulz", "note": "Zurückgerufen"}, headers=headers
        )
        assert (done.json()["request"]["status"], done.json()["request"]["completion_note"]) == (
            "done",
            "Zurückgerufen",
        )
        assert (
            await client.post(f"{url}/claim", json={"by": "MFA Schulz"}, headers=headers)
        ).status_code == 409

        open_now = (await client.get("/staff/requests", headers=headers)).json()["items"]
        assert [i["request_id"] for i in open_now] == [plain["request_id"]]
        finished = (await client.get("/staff/requests?status=done&kind=rueckruf", headers=headers)).json()[
            "items"
        ]
        assert [i["request_id"] for i in finished] == [urgent["request_id"]]

    async def test_unknown_request_and_bad_input(
        self, client: httpx.AsyncClient, gateway_settings: GatewaySettings
    ) -> None:
        headers = staff(gateway_settings)
        assert (
            await client.post("/staff/requests/nope/claim", json={"by": "x"}, headers=headers)
        ).status_code == 404
        assert (await client.post("/staff/requests/nope/claim", json={}, headers=headers)).status_code == 422
        assert (await client.get("/staff/requests?kind=pizza", headers=headers)).status_code == 422
        assert (await client.get("/staff/requests")).status_code == 401
