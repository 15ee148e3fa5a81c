"""find_slots with dates and times as callers say them, through the gateway, real services, NATS and Postgres.

The practice here lies in a zone whose date differs from Berlin's when the test runs, so a "morgen" read on
Berlin's clock (as the gateway once did) would name another day than the practice's.
"""

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from ignis.gateway.settings import GatewaySettings
from tests.conftest import HEADERS, TEST_PRACTICE, Caller

pytestmark = pytest.mark.usefixtures("services")

BERLIN = ZoneInfo("Europe/Berlin")
MONTHS = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
]


def far_zone(now: dt.datetime) -> ZoneInfo:
    """UTC+14 or UTC-11: at any moment one of them has another date than Berlin.

    Chosen per test, not per run: a suite that crosses Berlin's midnight would otherwise keep a zone whose
    date has become Berlin's. Of the two, the one farther from its own midnight, so its date holds through
    the test.
    """
    berlin_today = now.astimezone(BERLIN).date()
    zones = [ZoneInfo(name) for name in ("Pacific/Kiritimati", "Pacific/Pago_Pago")]
    apart = [zone for zone in zones if now.astimezone(zone).date() != berlin_today]
    assert apart, "no zone with another date than Berlin"
    return max(apart, key=lambda zone: to_midnight(now.astimezone(zone)))


def to_midnight(local: dt.datetime) -> dt.timedelta:
    """How far a local time is from the nearer of its midnights."""
    since = local - local.replace(hour=0, minute=0, second=0, microsecond=0)
    return min(since, dt.timedelta(days=1) - since)


@pytest.fixture
def zone() -> ZoneInfo:
    return far_zone(dt.datetime.now(dt.UTC))


@pytest.fixture
def practice_file(tmp_path: Path, zone: ZoneInfo) -> Path:
    path = tmp_path / "practice.yaml"
    practice = {
        **TEST_PRACTICE,
        "timezone": zone.key,
        "booking": {**TEST_PRACTICE["booking"], "horizon_days": 40},
    }
    path.write_text(yaml.safe_dump(practice, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings, practice_file: Path) -> GatewaySettings:
    return gateway_settings.model_copy(update={"practice_file": practice_file, "tool_budget_seconds": 4.0})


def today(zone: ZoneInfo) -> dt.date:
    return dt.datetime.now(zone).date()


async def find(client: httpx.AsyncClient, caller: Caller, **wish: Any) -> dict[str, Any]:
    body = {"conversation_id": caller.conversation_id, "visit_type": "akut", "limit": 5, **wish}
    response = await client.post("/tools/find_slots", json=body, headers=HEADERS)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def starts(client: httpx.AsyncClient, caller: Caller, zone: ZoneInfo, **wish: Any) -> list[dt.datetime]:
    reply = await find(client, caller, **wish)
    assert reply["code"] == "slots", reply
    assert len(reply["slots"]) == 5
    return [dt.datetime.fromisoformat(slot["start"]).astimezone(zone) for slot in reply["slots"]]


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


class TestDays:
    async def test_morgen_is_the_practices_tomorrow(
        self, client: httpx.AsyncClient, caller: Caller, zone: ZoneInfo
    ) -> None:
        tomorrow = today(zone) + dt.timedelta(days=1)
        assert tomorrow != dt.datetime.now(BERLIN).date() + dt.timedelta(days=1)
        assert {start.date() for start in await starts(client, caller, zone, when="morgen")} == {tomorrow}

    async def test_next_week(self, client: httpx.AsyncClient, caller: Caller, zone: ZoneInfo) -> None:
        first = monday(today(zone)) + dt.timedelta(days=7)
        for start in await starts(client, caller, zone, when="nächste Woche"):
            assert first <= start.date() <= first + dt.timedelta(days=6)

    async def test_a_weekday(self, client: httpx.AsyncClient, caller: Caller, zone: ZoneInfo) -> None:
        ahead = (1 - today(zone).weekday() - 1) % 7 + 1
        tuesday = today(zone) + dt.timedelta(days=ahead)
        assert {s.date() for s in await starts(client, caller, zone, when="nächsten Dienstag")} == {tuesday}

    async def test_day_and_month_without_a_year(
        self, client: httpx.AsyncClient, caller: Caller, zone: ZoneInfo
    ) -> None:
        day = today(zone) + dt.timedelta(days=10)
        said = f"{day.day}. {MONTHS[day.month - 1]}"
        assert (await starts(client, caller, zone, earliest=said))[0].date() == day

    async def test_in_n_days_in_words(
        self, client: httpx.AsyncClient, caller: Caller, zone: ZoneInfo
    ) -> None:
        day = today(zone) + dt.timedelta(days=3)
        assert {s.date() for s in await starts(client, caller, zone, when="in drei Tagen")} == {day}

    async def test_from_a_day_on(self, client: httpx.AsyncClient, caller: Caller, zone: ZoneInfo) -> None:
        day = today(zone) + dt.timedelta(days=4)
        said = f"ab dem {day.day}. {MONTHS[day.month - 1]}"
        assert (await starts(client, caller, zone, earliest=said))[0].date() == day


class TestHours:
    async def test_after_four(self, client: httpx.AsyncClient, caller: Caller, zone: ZoneInfo) -> None:
        for start in await starts(client, caller, zone, part_of_day="nach 16 Uhr"):
            assert start.time() >= dt.time(16)

    async def test_before_ten_in_the_morning(
        self, client: httpx.AsyncClient, caller: Caller, zone: ZoneInfo
    ) -> None:
        for start in await starts(client, caller, zone, part_of_day="vor 10 Uhr"):
            assert start.time() < dt.time(10)

    async def test_evenings(self, client: httpx.AsyncClient, caller: Caller, zone: ZoneInfo) -> None:
        for start in await starts(client, caller, zone, part_of_day="abends"):
            assert start.time() >= dt.time(17)

    async def test_days_and_hours_in_one_phrase(
        self, client: httpx.AsyncClient, caller: Caller, zone: ZoneInfo
    ) -> None:
        week = monday(today(zone) + dt.timedelta(days=14))
        for start in await starts(client, caller, zone, when="in zwei Wochen nach 16 Uhr"):
            assert week <= start.date() <= week + dt.timedelta(days=6)
            assert start.time() >= dt.time(16)

    async def test_when_and_part_of_day_narrow_together(
        self, client: httpx.AsyncClient, caller: Caller, zone: ZoneInfo
    ) -> None:
        tomorrow = today(zone) + dt.timedelta(days=1)
        for start in await starts(client, caller, zone, when="morgen", part_of_day="vormittags"):
            assert start.date() == tomorrow
            assert start.time() < dt.time(12)


class TestUnclear:
    @pytest.mark.parametrize(
        "wish",
        [
            {"when": "blau"},
            {"earliest": "irgendwann"},
            {"latest": "am 32."},
            {"part_of_day": "nach dem Essen"},
            {"when": "nach 16 Uhr", "part_of_day": "vormittags"},  # nothing is both
            {"when": "in 5000 Tagen"},
        ],
    )
    async def test_is_invalid_date_asking_for_a_date(
        self, client: httpx.AsyncClient, caller: Caller, wish: dict[str, str]
    ) -> None:
        reply = await find(client, caller, **wish)
        assert (reply["ok"], reply["code"]) == (False, "invalid_date")
        assert reply["message"].endswith("?")
        assert "Tag" in reply["message"]
        for said in wish.values():
            assert said not in reply["message"]
