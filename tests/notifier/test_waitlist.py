"""The waiting list through the tools: join, a cancellation or move frees a slot, it is held for the first
one waiting and offered by SMS once (with consent), first when they call, and staff see the list. Real
patients, scheduler and notifier services on NATS and Postgres, the sipgate fake for the SMS."""

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ignis.gateway.settings import GatewaySettings
from tests.conftest import Caller, verified_caller
from tests.factories import GROSS, MUELLER, WEIZSAECKER
from tests.fakes.sipgate import FakeSipgate
from tests.notifier.conftest import messages, settled
from tests.notifier.test_notifier import staff, tool

pytestmark = pytest.mark.usefixtures("notifier")


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    """The production budget: three services share the box with the test (as tests/scheduler does)."""
    return gateway_settings.model_copy(update={"tool_budget_seconds": 4.0})


def day_after_tomorrow_but_one() -> str:
    return (dt.date.today() + dt.timedelta(days=3)).isoformat()


async def slots(client: httpx.AsyncClient, caller: Caller, **wish: Any) -> list[dict[str, Any]]:
    body = {"conversation_id": caller.conversation_id, "visit_type": "akut", **wish}
    reply = await tool(client, "find_slots", body)
    assert reply["code"] == "slots", reply
    return list(reply["slots"])


async def join(client: httpx.AsyncClient, caller: Caller, day: str) -> dict[str, Any]:
    body = caller.body(visit_type="Akutsprechstunde", earliest=day, latest=day, practitioner="Weber")
    return await tool(client, "join_waitlist", body)


class TestWaitlist:
    async def test_a_cancelled_slot_is_held_texted_once_and_offered_first(
        self,
        client: httpx.AsyncClient,
        engine: AsyncEngine,
        sipgate: FakeSipgate,
        gateway_settings: GatewaySettings,
    ) -> None:
        day = day_after_tomorrow_but_one()
        anna = await verified_caller(engine, MUELLER)
        juergen = await verified_caller(engine, GROSS)
        lea = await verified_caller(engine, WEIZSAECKER)

        joined = await join(client, anna, day)
        assert (joined["ok"], joined["code"], joined["position"]) == (True, "waitlist_joined", 1)
        assert joined["visit_type"] == "Akutsprechstunde"
        assert (await join(client, anna, day))["entry_id"] == joined["entry_id"]  # a repeat: the same entry

        freed = (await slots(client, juergen, earliest=day, latest=day, practitioner="weber"))[0]
        booked = await tool(client, "book_appointment", juergen.body(slot_id=freed["slot_id"]))
        cancelled = await tool(
            client, "cancel_appointment", juergen.body(appointment_id=booked["appointment"]["appointment_id"])
        )
        assert cancelled["code"] == "cancelled"

        [offer] = await settled(engine, 1, template="waitlist_offer")
        assert offer["status"] == "sent"
        [sms] = [r for r in sipgate.requests if r.body["recipient"] == MUELLER.phone]
        start = dt.datetime.fromisoformat(freed["start"])
        assert sms.body["message"].startswith("Testpraxis: Termin frei geworden: ")
        assert f"{start:%d.%m.%Y}, {start:%H:%M} Uhr" in sms.body["message"]

        # Held: nobody else is offered it or can book it.
        others = await slots(client, lea, earliest=day, latest=day, practitioner="weber", limit=5)
        assert freed["slot_id"] not in [s["slot_id"] for s in others]
        taken = await tool(client, "book_appointment", lea.body(slot_id=freed["slot_id"]))
        assert taken["code"] == "slot_taken"

        listed = (await client.get("/staff/waitlist", headers=staff(gateway_settings))).json()["items"]
        assert [(i["patient_name"], i["status"], i["held_slot"]) for i in listed] == [
            ("Anna Müller", "offered", freed["spoken"])
        ]

        # Anna calls back: the held slot comes first, whatever she asks for, and she books it.
        mine = await slots(client, anna, patient_ref=anna.patient_ref)
        assert (mine[0]["slot_id"], mine[0]["held"]) == (freed["slot_id"], True)
        assert all(not s["held"] for s in mine[1:])
        again = await tool(client, "book_appointment", anna.body(slot_id=freed["slot_id"]))
        assert again["code"] == "booked"
        assert (await client.get("/staff/waitlist", headers=staff(gateway_settings))).json()["items"] == []
        assert len(await messages(engine, template="waitlist_offer")) == 1

    async def test_a_move_frees_the_old_slot_for_the_list(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        day = day_after_tomorrow_but_one()
        anna = await verified_caller(engine, MUELLER)
        juergen = await verified_caller(engine, GROSS)
        first, *_, later = await slots(
            client, juergen, earliest=day, latest=day, practitioner="weber", limit=5
        )
        booked = await tool(client, "book_appointment", juergen.body(slot_id=first["slot_id"]))
        await join(client, anna, day)
        move = juergen.body(
            appointment_id=booked["appointment"]["appointment_id"], new_slot_id=later["slot_id"]
        )
        assert (await tool(client, "reschedule_appointment", move))["code"] == "rescheduled"
        [offer] = await settled(engine, 1, template="waitlist_offer")
        assert offer["status"] == "sent"
        assert offer["start_at"] == dt.datetime.fromisoformat(first["start"])
        mine = await slots(client, anna, patient_ref=anna.patient_ref)
        assert (mine[0]["slot_id"], mine[0]["held"]) == (first["slot_id"], True)

    async def test_without_consent_the_slot_is_held_but_no_sms_goes_out(
        self,
        client: httpx.AsyncClient,
        engine: AsyncEngine,
        sipgate: FakeSipgate,
        gateway_settings: GatewaySettings,
    ) -> None:
        day = day_after_tomorrow_but_one()
        anna = await verified_caller(engine, MUELLER)
        juergen = await verified_caller(engine, GROSS)
        consent = f"/staff/patients/{anna.patient_id}/sms-consent"
        assert (
            await client.put(consent, json={"sms_consent": False}, headers=staff(gateway_settings))
        ).is_success
        await join(client, anna, day)
        freed = (await slots(client, juergen, earliest=day, latest=day, practitioner="weber"))[0]
        booked = await tool(client, "book_appointment", juergen.body(slot_id=freed["slot_id"]))
        await tool(
            client, "cancel_appointment", juergen.body(appointment_id=booked["appointment"]["appointment_id"])
        )
        [offer] = await settled(engine, 1, template="waitlist_offer")
        assert (offer["status"], offer["reason"]) == ("skipped", "no SMS consent")
        assert not [r for r in sipgate.requests if r.body["recipient"] == MUELLER.phone]
        mine = await slots(client, anna, patient_ref=anna.patient_ref)
        assert mine[0]["held"] is True

    async def test_a_slot_outside_the_wished_window_is_not_held(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        day = day_after_tomorrow_but_one()
        anna = await verified_caller(engine, MUELLER)
        juergen = await verified_caller(engine, GROSS)
        await join(client, anna, day)
        other_day = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
        freed = (await slots(client, juergen, earliest=other_day, latest=other_day, practitioner="weber"))[0]
        booked = await tool(client, "book_appointment", juergen.body(slot_id=freed["slot_id"]))
        await tool(
            client, "cancel_appointment", juergen.body(appointment_id=booked["appointment"]["appointment_id"])
        )
        await settled(engine, 1, template="cancellation")  # Jürgen's: the events were handled
        assert await messages(engine, template="waitlist_offer") == []
        assert all(not s["held"] for s in await slots(client, anna, patient_ref=anna.patient_ref))

    async def test_joining_needs_a_verified_caller_and_a_known_visit_type(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        anna = await verified_caller(engine, MUELLER)
        unknown = await tool(client, "join_waitlist", anna.body(visit_type="Zahnreinigung"))
        assert unknown["code"] == "unknown_visit_type"
        stranger = {"conversation_id": "other", "patient_ref": anna.patient_ref, "visit_type": "akut"}
        assert (await tool(client, "join_waitlist", stranger))["code"] == "not_verified"
        bad_date = await tool(client, "join_waitlist", anna.body(visit_type="akut", earliest="irgendwann"))
        assert bad_date["code"] == "invalid_date"
