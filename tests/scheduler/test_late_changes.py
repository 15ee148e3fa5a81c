"""Cancelling or moving inside the cancellation period, as each `booking.late_changes` setting decides."""

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from nats.js import JetStreamContext

from ignis.contracts import subjects
from ignis.gateway.settings import GatewaySettings
from tests.conftest import TEST_PRACTICE, Caller, received
from tests.scheduler.test_booking import in_three_days, offered, tool

pytestmark = pytest.mark.usefixtures("services")


@pytest.fixture
def practice_file(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """The test practice with the `late_changes` the test is parametrised with."""
    booking = TEST_PRACTICE["booking"] | {"late_changes": request.param}  # type: ignore[operator]
    path = tmp_path / "practice.yaml"
    path.write_text(
        yaml.safe_dump(TEST_PRACTICE | {"booking": booking}, allow_unicode=True), encoding="utf-8"
    )
    return path


async def booked_soon(client: httpx.AsyncClient, caller: Caller) -> dict[str, Any]:
    """An appointment within the next 24 hours: inside the cancellation period."""
    soon = (await offered(client, caller))[0]
    assert dt.datetime.fromisoformat(soon["start"]) < dt.datetime.now(dt.UTC) + dt.timedelta(hours=24)
    booked = await tool(client, "book_appointment", caller.body(slot_id=soon["slot_id"]))
    assert booked["code"] == "booked", booked
    return dict(booked["appointment"])


def staff(settings: GatewaySettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.staff_token.get_secret_value()}"}


@pytest.mark.parametrize("practice_file", ["cancel"], indirect=True)
class TestCancelAnyway:
    async def test_late_cancellation_is_made_and_flagged(
        self, client: httpx.AsyncClient, caller: Caller, events: JetStreamContext
    ) -> None:
        appointment = await booked_soon(client, caller)
        reply = await tool(
            client, "cancel_appointment", caller.body(appointment_id=appointment["appointment_id"])
        )
        assert (reply["ok"], reply["code"], reply["late"]) == (True, "cancelled", True)
        assert (await tool(client, "list_appointments", caller.body()))["appointments"] == []
        messages = await received(events, 2)
        assert [m.subject for m in messages] == [subjects.APPOINTMENT_BOOKED, subjects.APPOINTMENT_CANCELLED]
        assert json.loads(messages[1].data)["late"] is True

    async def test_late_move_is_made_and_shown_to_staff(
        self,
        client: httpx.AsyncClient,
        caller: Caller,
        events: JetStreamContext,
        gateway_settings: GatewaySettings,
    ) -> None:
        appointment = await booked_soon(client, caller)
        later = (await offered(client, caller, earliest=in_three_days()))[0]
        move = caller.body(appointment_id=appointment["appointment_id"], new_slot_id=later["slot_id"])
        reply = await tool(client, "reschedule_appointment", move)
        assert (reply["code"], reply["late"]) == ("rescheduled", True)
        assert json.loads((await received(events, 2))[1].data)["late"] is True
        day = dt.date.fromisoformat(later["start"][:10]).isoformat()
        page = (await client.get(f"/staff/appointments?date={day}", headers=staff(gateway_settings))).json()
        assert [(i["appointment_id"], i["late"]) for i in page["items"]] == [
            (appointment["appointment_id"], True)
        ]

    async def test_in_good_time_is_not_late(
        self, client: httpx.AsyncClient, caller: Caller, events: JetStreamContext
    ) -> None:
        later = (await offered(client, caller, earliest=in_three_days()))[0]
        booked = await tool(client, "book_appointment", caller.body(slot_id=later["slot_id"]))
        reply = await tool(
            client, "cancel_appointment", caller.body(appointment_id=booked["appointment"]["appointment_id"])
        )
        assert (reply["code"], reply["late"]) == ("cancelled", False)
        assert json.loads((await received(events, 2))[1].data)["late"] is False


@pytest.mark.parametrize("practice_file", ["request"], indirect=True)
class TestTeamConfirms:
    async def test_late_cancellation_becomes_an_urgent_request(
        self,
        client: httpx.AsyncClient,
        caller: Caller,
        events: JetStreamContext,
        gateway_settings: GatewaySettings,
    ) -> None:
        appointment = await booked_soon(client, caller)
        cancel = caller.body(appointment_id=appointment["appointment_id"])
        replies = [await tool(client, "cancel_appointment", cancel) for _ in range(2)]  # a retry too
        assert [(r["ok"], r["code"]) for r in replies] == [(False, "change_requested")] * 2
        assert replies[0]["request_id"] == replies[1]["request_id"]
        assert "bestätigt" in replies[0]["message"]
        listed = (await tool(client, "list_appointments", caller.body()))["appointments"]
        assert [a["appointment_id"] for a in listed] == [appointment["appointment_id"]]  # still booked
        queue = (await client.get("/staff/requests", headers=staff(gateway_settings))).json()["items"]
        assert [(r["request_id"], r["request_kind"], r["urgent"]) for r in queue] == [
            (replies[0]["request_id"], "rueckruf", True)
        ]
        assert "Absage" in queue[0]["details"]
        assert queue[0]["patient"] is not None
        assert [m.subject for m in await received(events, 3, within_seconds=2)] == [
            subjects.APPOINTMENT_BOOKED,
            subjects.REQUEST_CREATED,
        ]

    async def test_late_move_names_the_wished_time(
        self, client: httpx.AsyncClient, caller: Caller, gateway_settings: GatewaySettings
    ) -> None:
        appointment = await booked_soon(client, caller)
        later = (await offered(client, caller, earliest=in_three_days()))[0]
        move = caller.body(appointment_id=appointment["appointment_id"], new_slot_id=later["slot_id"])
        reply = await tool(client, "reschedule_appointment", move)
        assert reply["code"] == "change_requested"
        queue = (await client.get("/staff/requests", headers=staff(gateway_settings))).json()["items"]
        assert later["spoken"] in queue[0]["details"]


@pytest.mark.parametrize("practice_file", ["refuse"], indirect=True)
class TestRefused:
    async def test_refused_without_sending_the_caller_to_call(
        self, client: httpx.AsyncClient, caller: Caller
    ) -> None:
        appointment = await booked_soon(client, caller)
        reply = await tool(
            client, "cancel_appointment", caller.body(appointment_id=appointment["appointment_id"])
        )
        assert (reply["ok"], reply["code"]) == (False, "too_late")
        assert "anrufen" not in reply["message"].lower()
        assert "rufen sie" not in reply["message"].lower()
        later = (await offered(client, caller, earliest=in_three_days()))[0]
        move = caller.body(appointment_id=appointment["appointment_id"], new_slot_id=later["slot_id"])
        assert (await tool(client, "reschedule_appointment", move))["code"] == "too_late"
        listed = (await tool(client, "list_appointments", caller.body()))["appointments"]
        assert [a["appointment_id"] for a in listed] == [appointment["appointment_id"]]
