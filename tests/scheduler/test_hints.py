"""Through the tool API: each reply's `message` is for the caller, its `hint` tells the agent what to do."""

from typing import Any

import httpx
import pytest

from tests.conftest import HEADERS, Caller
from tests.gateway.test_replies import is_for_the_caller

pytestmark = pytest.mark.usefixtures("services")


async def tool(client: httpx.AsyncClient, name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/tools/{name}", json=body, headers=HEADERS)
    assert response.status_code == 200, response.text
    reply = dict(response.json())
    assert is_for_the_caller(reply["message"]), reply["message"]
    return reply


async def test_offers_tell_the_agent_to_read_them_out(client: httpx.AsyncClient, caller: Caller) -> None:
    reply = await tool(
        client, "find_slots", {"conversation_id": caller.conversation_id, "visit_type": "akut"}
    )
    assert reply["code"] == "slots"
    assert reply["message"] == "Ich habe folgende freie Termine gefunden."
    assert "`spoken`" in reply["hint"]


async def test_an_unknown_visit_type_hints_at_the_known_ones(
    client: httpx.AsyncClient, caller: Caller
) -> None:
    reply = await tool(
        client, "find_slots", {"conversation_id": caller.conversation_id, "visit_type": "Yoga"}
    )
    assert reply["code"] == "unknown_visit_type"
    assert "`visit_types`" in reply["hint"]


async def test_a_made_up_slot_hints_at_find_slots(client: httpx.AsyncClient, caller: Caller) -> None:
    reply = await tool(client, "book_appointment", caller.body(slot_id="made-up"))
    assert reply["code"] == "invalid_slot"
    assert "find_slots" in reply["hint"]


async def test_no_appointments_is_said_as_such(client: httpx.AsyncClient, caller: Caller) -> None:
    reply = await tool(client, "list_appointments", caller.body())
    assert (reply["code"], reply["appointments"]) == ("appointments", [])
    assert "keine anstehenden Termine" in reply["message"]


async def test_a_booking_confirms_for_the_caller(client: httpx.AsyncClient, caller: Caller) -> None:
    offers = await tool(
        client, "find_slots", {"conversation_id": caller.conversation_id, "visit_type": "akut"}
    )
    booked = await tool(client, "book_appointment", caller.body(slot_id=offers["slots"][0]["slot_id"]))
    assert booked["code"] == "booked"
    assert "appointment.spoken" in booked["hint"]
    listed = await tool(client, "list_appointments", caller.body())
    assert listed["message"] == "Das sind Ihre anstehenden Termine."


async def test_a_reply_without_guidance_has_no_hint(client: httpx.AsyncClient, caller: Caller) -> None:
    reply = await tool(
        client, "practice_info", {"conversation_id": caller.conversation_id, "topic": "adresse"}
    )
    assert "hint" not in reply


async def test_a_wrong_tool_secret_is_no_sentence_about_tools(client: httpx.AsyncClient) -> None:
    response = await client.post("/tools/find_slots", json={}, headers={"X-Ignis-Tool-Secret": "wrong"})
    assert response.status_code == 401
    assert is_for_the_caller(response.json()["message"])
    assert "Tool-Secret" in response.json()["hint"]
