"""What the voice reads out, through the tool API: words by default, digits when the operator says so."""

import datetime as dt
import re
from typing import Any

import httpx
import pytest

from ignis.scheduler.settings import SchedulerSettings
from tests.conftest import HEADERS, Caller

pytestmark = pytest.mark.usefixtures("services")

DIGITS = re.compile(r"\d")
WORDS_SLOT = re.compile(
    r"[A-Z][a-z]+, den [a-zäöüß]+ten [A-ZÄ][a-zä]+, um [a-zäöüß]+ Uhr(?: [a-zäöüß]+)? bei Dr\. \w+"
)


async def tool(client: httpx.AsyncClient, name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/tools/{name}", json=body, headers=HEADERS)
    assert response.status_code == 200, response.text
    return dict(response.json())


class TestWords:
    async def test_offers_and_bookings_hold_no_digits(
        self, client: httpx.AsyncClient, caller: Caller
    ) -> None:
        offers = await tool(
            client, "find_slots", {"conversation_id": caller.conversation_id, "visit_type": "akut"}
        )
        for slot in offers["slots"]:
            assert WORDS_SLOT.fullmatch(slot["spoken"]), slot["spoken"]
        booked = await tool(client, "book_appointment", caller.body(slot_id=offers["slots"][0]["slot_id"]))
        assert not DIGITS.search(booked["appointment"]["spoken"])

    async def test_the_next_possible_day(self, client: httpx.AsyncClient, caller: Caller) -> None:
        yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
        body = {"conversation_id": caller.conversation_id, "visit_type": "akut", "latest": yesterday}
        reply = await tool(client, "find_slots", body)
        assert reply["next_possible_spoken"].split(", ")[1].startswith("den ")
        assert not DIGITS.search(reply["next_possible_spoken"])

    async def test_opening_hours(self, client: httpx.AsyncClient) -> None:
        info = await tool(client, "practice_info", {"conversation_id": "c", "topic": "oeffnungszeiten"})
        assert info["opening_hours"][0]["hours"] == "sieben bis zwölf Uhr und dreizehn bis zwanzig Uhr"
        for closure in info["next_closures"]:
            assert not DIGITS.search(closure["spoken"])


class TestDigits:
    @pytest.fixture(autouse=True)
    def _digits(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("IGNIS_SPOKEN_STYLE", "digits")
        assert SchedulerSettings().spoken_style == "digits"

    async def test_offers_in_digits(self, client: httpx.AsyncClient, caller: Caller) -> None:
        offers = await tool(
            client, "find_slots", {"conversation_id": caller.conversation_id, "visit_type": "akut"}
        )
        for slot in offers["slots"]:
            assert re.fullmatch(r"\w+, \d{1,2}\. \w+, um \d{1,2}(?::\d\d)? Uhr bei Dr\. \w+", slot["spoken"])
