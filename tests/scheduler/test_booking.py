"""Find, book, list, cancel and reschedule through the gateway, with real services, NATS and Postgres."""

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.contracts import subjects
from ignis.gateway.settings import GatewaySettings
from ignis.scheduler.models import Appointment
from tests.conftest import HEADERS, Caller, received, verified_caller
from tests.factories import GROSS, Person

pytestmark = pytest.mark.usefixtures("services")


async def tool(client: httpx.AsyncClient, name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/tools/{name}", json=body, headers=HEADERS)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def offered(client: httpx.AsyncClient, caller: Caller, **wish: Any) -> list[dict[str, Any]]:
    reply = await tool(
        client, "find_slots", {"conversation_id": caller.conversation_id, "visit_type": "akut", **wish}
    )
    assert reply["code"] == "slots", reply
    return list(reply["slots"])


def in_three_days() -> str:
    return (dt.date.today() + dt.timedelta(days=3)).isoformat()


async def one_slot_many_callers(
    client: httpx.AsyncClient, caller: Caller, callers: list[Caller]
) -> dict[str, Any]:
    """All `callers` book the first slot offered at once: one hears "booked", every other "slot_taken" (in
    either record mode; the tests then look at what the store holds). The slot."""
    slot = (await offered(client, caller))[0]
    replies = await asyncio.gather(
        *(tool(client, "book_appointment", c.body(slot_id=slot["slot_id"])) for c in callers)
    )
    codes = sorted(r["code"] for r in replies)
    assert codes.count("booked") == 1
    assert codes.count("slot_taken") == len(callers) - 1
    return slot


async def reschedule_race(client: httpx.AsyncClient, caller: Caller, other: Caller) -> None:
    """Two callers with an appointment each move it to the same slot at once: one is moved, the other hears
    "slot_taken" and keeps the appointment they had (in either record mode)."""
    mine_slot, theirs_slot, target = (
        await offered(client, caller, earliest=in_three_days(), practitioner="weber")
    )[:3]
    mine = (await tool(client, "book_appointment", caller.body(slot_id=mine_slot["slot_id"])))["appointment"]
    theirs = (await tool(client, "book_appointment", other.body(slot_id=theirs_slot["slot_id"])))[
        "appointment"
    ]
    results = await asyncio.gather(
        tool(
            client,
            "reschedule_appointment",
            caller.body(appointment_id=mine["appointment_id"], new_slot_id=target["slot_id"]),
        ),
        tool(
            client,
            "reschedule_appointment",
            other.body(appointment_id=theirs["appointment_id"], new_slot_id=target["slot_id"]),
        ),
    )
    assert sorted(r["code"] for r in results) == ["rescheduled", "slot_taken"]
    loser = caller if results[0]["code"] == "slot_taken" else other
    kept = mine if loser is caller else theirs
    listed = (await tool(client, "list_appointments", loser.body()))["appointments"]
    assert [(a["appointment_id"], a["spoken"]) for a in listed] == [(kept["appointment_id"], kept["spoken"])]


async def booked_rows(engine: AsyncEngine) -> int:
    async with AsyncSession(engine) as session:
        return int(await session.scalar(select(func.count()).where(Appointment.status == "booked")) or 0)


class TestFindSlots:
    async def test_three_spoken_offers(self, client: httpx.AsyncClient, caller: Caller) -> None:
        slots = await offered(client, caller)
        assert len(slots) == 3
        for slot in slots:
            assert slot["spoken"].endswith(("bei Dr. Weber", "bei Dr. Yilmaz"))
            assert " um " in slot["spoken"]
            assert slot["visit_type"] == "Akutsprechstunde"
            assert dt.datetime.fromisoformat(slot["start"]) > dt.datetime.now(dt.UTC) + dt.timedelta(
                minutes=59
            )

    async def test_wishes_narrow_the_offers(self, client: httpx.AsyncClient, caller: Caller) -> None:
        day = in_three_days()
        slots = await offered(
            client, caller, earliest=day, latest=day, part_of_day="Nachmittag", practitioner="Weber", limit=5
        )
        assert len(slots) == 5
        for slot in slots:
            start = dt.datetime.fromisoformat(slot["start"])
            assert start.date().isoformat() == day
            assert start.hour >= 12
            assert slot["practitioner"] == "Dr. Weber"

    async def test_unknown_visit_type_lists_the_known_ones(
        self, client: httpx.AsyncClient, caller: Caller
    ) -> None:
        reply = await tool(client, "find_slots", {"conversation_id": "c", "visit_type": "Zahnreinigung"})
        assert (reply["ok"], reply["code"]) == (False, "unknown_visit_type")
        assert {v["name"] for v in reply["visit_types"]} == {"Akutsprechstunde", "Vorsorgeuntersuchung"}

    async def test_no_slots_names_the_next_possible_day(
        self, client: httpx.AsyncClient, caller: Caller
    ) -> None:
        yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
        reply = await tool(
            client, "find_slots", {"conversation_id": "c", "visit_type": "akut", "latest": yesterday}
        )
        assert (reply["ok"], reply["code"]) == (False, "no_slots")
        assert dt.date.fromisoformat(reply["next_possible"]) >= dt.date.today()
        assert reply["next_possible_spoken"]

    async def test_bad_date_and_unknown_practitioner(self, client: httpx.AsyncClient, caller: Caller) -> None:
        bad = await tool(
            client, "find_slots", {"conversation_id": "c", "visit_type": "akut", "earliest": "irgendwann"}
        )
        assert bad["code"] == "invalid_date"
        nobody = await tool(
            client, "find_slots", {"conversation_id": "c", "visit_type": "akut", "practitioner": "Dr. No"}
        )
        assert nobody["code"] == "unknown_practitioner"


class TestBooking:
    async def test_book_list_reschedule_cancel(
        self, client: httpx.AsyncClient, caller: Caller, events: JetStreamContext
    ) -> None:
        first, second = (await offered(client, caller, earliest=in_three_days()))[:2]
        booked = await tool(
            client, "book_appointment", caller.body(slot_id=first["slot_id"], reason="Husten")
        )
        assert (booked["ok"], booked["code"]) == (True, "booked")
        appointment = booked["appointment"]
        assert appointment["spoken"] == first["spoken"]

        listed = await tool(client, "list_appointments", caller.body())
        assert [a["appointment_id"] for a in listed["appointments"]] == [appointment["appointment_id"]]

        moved = await tool(
            client,
            "reschedule_appointment",
            caller.body(appointment_id=appointment["appointment_id"], new_slot_id=second["slot_id"]),
        )
        assert moved["code"] == "rescheduled"
        assert moved["appointment"]["appointment_id"] == appointment["appointment_id"]
        assert moved["appointment"]["spoken"] == second["spoken"]

        cancelled = await tool(
            client, "cancel_appointment", caller.body(appointment_id=appointment["appointment_id"])
        )
        assert cancelled["code"] == "cancelled"
        assert (await tool(client, "list_appointments", caller.body()))["appointments"] == []

        kinds = [m.subject for m in await received(events, 3)]
        assert kinds == [
            subjects.APPOINTMENT_BOOKED,
            subjects.APPOINTMENT_RESCHEDULED,
            subjects.APPOINTMENT_CANCELLED,
        ]

    async def test_identical_retry_returns_the_same_appointment(
        self, client: httpx.AsyncClient, caller: Caller, engine: AsyncEngine
    ) -> None:
        slot = (await offered(client, caller))[0]
        replies = [
            await tool(client, "book_appointment", caller.body(slot_id=slot["slot_id"])) for _ in range(2)
        ]
        assert replies[0]["code"] == replies[1]["code"] == "booked"
        assert replies[0]["appointment"]["appointment_id"] == replies[1]["appointment"]["appointment_id"]
        assert await booked_rows(engine) == 1

    async def test_cancel_then_rebook_the_same_slot(self, client: httpx.AsyncClient, caller: Caller) -> None:
        slot = (await offered(client, caller, earliest=in_three_days()))[0]
        booked = await tool(client, "book_appointment", caller.body(slot_id=slot["slot_id"]))
        await tool(
            client, "cancel_appointment", caller.body(appointment_id=booked["appointment"]["appointment_id"])
        )
        again = await tool(client, "book_appointment", caller.body(slot_id=slot["slot_id"]))
        assert again["code"] == "booked"
        assert again["appointment"]["appointment_id"] != booked["appointment"]["appointment_id"]

    async def test_taken_slot_offers_alternatives(
        self, client: httpx.AsyncClient, caller: Caller, engine: AsyncEngine
    ) -> None:
        other = await verified_caller(engine, GROSS)
        slot = (await offered(client, caller))[0]
        assert (await tool(client, "book_appointment", other.body(slot_id=slot["slot_id"])))[
            "code"
        ] == "booked"
        taken = await tool(client, "book_appointment", caller.body(slot_id=slot["slot_id"]))
        assert (taken["ok"], taken["code"]) == (False, "slot_taken")
        assert 1 <= len(taken["alternatives"]) <= 3
        assert slot["slot_id"] not in {a["slot_id"] for a in taken["alternatives"]}

    async def test_forged_or_stale_slot_ids_are_refused(
        self, client: httpx.AsyncClient, caller: Caller
    ) -> None:
        for slot_id in ("nonsense", "d2ViZXJ8YWt1dHwyMDAwMDEwMTA5MDA"):  # the latter: a slot in the year 2000
            reply = await tool(client, "book_appointment", caller.body(slot_id=slot_id))
            assert reply["code"] == "invalid_slot"


class TestOnlyTheVerifiedCaller:
    async def test_ref_of_another_conversation_is_not_verified(
        self, client: httpx.AsyncClient, caller: Caller
    ) -> None:
        slot = (await offered(client, caller))[0]
        stolen = {
            "conversation_id": "another-call",
            "patient_ref": caller.patient_ref,
            "slot_id": slot["slot_id"],
        }
        assert (await tool(client, "book_appointment", stolen))["code"] == "not_verified"
        assert (await tool(client, "list_appointments", {**stolen, "slot_id": None}))[
            "code"
        ] == "not_verified"

    async def test_someone_elses_appointment_is_not_found(
        self, client: httpx.AsyncClient, caller: Caller, engine: AsyncEngine
    ) -> None:
        other = await verified_caller(engine, GROSS)
        slot = (await offered(client, caller, earliest=in_three_days()))[0]
        theirs = await tool(client, "book_appointment", other.body(slot_id=slot["slot_id"]))
        appointment_id = theirs["appointment"]["appointment_id"]
        assert (await tool(client, "cancel_appointment", caller.body(appointment_id=appointment_id)))[
            "code"
        ] == "not_found"
        assert (await tool(client, "list_appointments", caller.body()))["appointments"] == []
        assert (await tool(client, "cancel_appointment", caller.body(appointment_id="not-a-uuid")))[
            "code"
        ] == "not_found"

    async def test_cancelling_within_24_hours_is_done_and_flagged_late(
        self, client: httpx.AsyncClient, caller: Caller
    ) -> None:
        soon = (await offered(client, caller))[0]
        assert dt.datetime.fromisoformat(soon["start"]) < dt.datetime.now(dt.UTC) + dt.timedelta(hours=24)
        booked = await tool(client, "book_appointment", caller.body(slot_id=soon["slot_id"]))
        reply = await tool(
            client, "cancel_appointment", caller.body(appointment_id=booked["appointment"]["appointment_id"])
        )
        # The default `booking.late_changes: cancel` (tests/scheduler/test_late_changes.py: the others).
        assert (reply["code"], reply["late"]) == ("cancelled", True)


class TestConcurrency:
    async def test_hundred_callers_one_slot_one_winner(
        self, client: httpx.AsyncClient, caller: Caller, engine: AsyncEngine
    ) -> None:
        callers = [
            await verified_caller(
                engine, Person("Test", f"Person{i}", dt.date(1970, 1, 1) + dt.timedelta(days=i))
            )
            for i in range(100)
        ]
        slot = await one_slot_many_callers(client, caller, callers)
        async with AsyncSession(engine) as session:
            rows = await session.scalar(
                select(func.count()).where(
                    Appointment.status == "booked",
                    Appointment.start_at == dt.datetime.fromisoformat(slot["start"]),
                )
            )
        assert rows == 1

    async def test_reschedule_race_keeps_the_loser_where_it_was(
        self, client: httpx.AsyncClient, caller: Caller, engine: AsyncEngine
    ) -> None:
        other = await verified_caller(engine, GROSS)
        await reschedule_race(client, caller, other)
        assert await booked_rows(engine) == 2


class TestStaffAppointments:
    async def test_the_days_appointments_with_names(
        self,
        client: httpx.AsyncClient,
        caller: Caller,
        engine: AsyncEngine,
        gateway_settings: GatewaySettings,
    ) -> None:
        other = await verified_caller(engine, GROSS)
        day = in_three_days()
        first, second, third = (
            await offered(client, caller, earliest=day, latest=day, practitioner="weber")
        )[:3]
        for who, slot in ((caller, first), (other, second), (caller, third)):
            assert (await tool(client, "book_appointment", who.body(slot_id=slot["slot_id"])))[
                "code"
            ] == "booked"
        headers = {"Authorization": f"Bearer {gateway_settings.staff_token.get_secret_value()}"}
        page = (await client.get(f"/staff/appointments?date={day}&limit=2", headers=headers)).json()
        rest = (
            await client.get(f"/staff/appointments?date={day}&cursor={page['next_cursor']}", headers=headers)
        ).json()
        items = page["items"] + rest["items"]
        assert [i["spoken"] for i in items] == [first["spoken"], second["spoken"], third["spoken"]]
        assert [i["patient_name"] for i in items] == ["Anna Müller", "Jürgen Groß", "Anna Müller"]
        assert rest["next_cursor"] is None
        empty = (await client.get("/staff/appointments?date=2001-01-01", headers=headers)).json()
        assert empty["items"] == []
        assert (await client.get("/staff/appointments?date=gestern", headers=headers)).status_code == 422
        assert (await client.get("/staff/appointments")).status_code == 401


class TestRetriesAreAnsweredWithTheOutcome:
    """The gateway asks again when a reply is lost; the repeat must hear what the first call did."""

    async def test_two_identical_concurrent_bookings_both_hear_booked(
        self, client: httpx.AsyncClient, caller: Caller, engine: AsyncEngine
    ) -> None:
        for slot in (await offered(client, caller, limit=5))[:5]:
            replies = await asyncio.gather(
                *(tool(client, "book_appointment", caller.body(slot_id=slot["slot_id"])) for _ in range(2))
            )
            assert [r["code"] for r in replies] == ["booked", "booked"]
            assert replies[0]["appointment"] == replies[1]["appointment"]
        assert await booked_rows(engine) == 5

    async def test_a_repeated_cancellation_is_confirmed(
        self, client: httpx.AsyncClient, caller: Caller
    ) -> None:
        slot = (await offered(client, caller, earliest=in_three_days()))[0]
        booked = await tool(client, "book_appointment", caller.body(slot_id=slot["slot_id"]))
        cancel = caller.body(appointment_id=booked["appointment"]["appointment_id"])
        assert [(await tool(client, "cancel_appointment", cancel))["code"] for _ in range(2)] == [
            "cancelled",
            "cancelled",
        ]

    async def test_a_repeated_move_into_the_cancellation_period_is_confirmed(
        self, client: httpx.AsyncClient, caller: Caller, events: JetStreamContext
    ) -> None:
        later = (await offered(client, caller, earliest=in_three_days()))[0]
        soon = (await offered(client, caller))[0]  # within 24 hours: changing it again is a late change
        booked = await tool(client, "book_appointment", caller.body(slot_id=later["slot_id"]))
        move = caller.body(
            appointment_id=booked["appointment"]["appointment_id"], new_slot_id=soon["slot_id"]
        )
        replies = [await tool(client, "reschedule_appointment", move) for _ in range(2)]
        assert [r["code"] for r in replies] == ["rescheduled", "rescheduled"]
        assert replies[0]["appointment"] == replies[1]["appointment"]
        # The repeat published nothing; moving it anywhere else now is a late change.
        assert [m.subject for m in await received(events, 3, within_seconds=2)] == [
            subjects.APPOINTMENT_BOOKED,
            subjects.APPOINTMENT_RESCHEDULED,
        ]
        elsewhere = caller.body(
            appointment_id=booked["appointment"]["appointment_id"], new_slot_id=later["slot_id"]
        )
        moved = await tool(client, "reschedule_appointment", elsewhere)
        assert (moved["code"], moved["late"]) == ("rescheduled", True)
