"""practice_info through the gateway, and a broken practice file stopping the start with a clear error."""

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from ignis.practice.config import WEEKDAYS, PracticeConfigError, load_practice
from ignis.scheduler.calendar import Calendar
from ignis.scheduler.main import create_app
from ignis.scheduler.settings import SchedulerSettings
from tests.conftest import HEADERS, TEST_PRACTICE

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.usefixtures("services")
class TestPracticeInfo:
    async def test_everything(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/tools/practice_info", json={"conversation_id": "c"}, headers=HEADERS)
        info = response.json()
        assert (info["ok"], info["code"]) == (True, "info")
        assert info["address"] == "Teststraße 1, 10115 Berlin"
        assert info["emergency"] == {"notruf": "112", "aerztlicher_bereitschaftsdienst": "116117"}
        assert isinstance(info["open_now"], bool)
        assert info["hours_today"] in ("sieben bis zwölf Uhr und dreizehn bis zwanzig Uhr", "geschlossen")
        assert all({"start", "end", "reason", "spoken"} <= set(c) for c in info["next_closures"])

    async def test_opening_hours_tell_the_whole_week_and_the_closures(
        self, client: httpx.AsyncClient
    ) -> None:
        body = {"conversation_id": "c", "topic": "Öffnungszeiten"}
        info = (await client.post("/tools/practice_info", json=body, headers=HEADERS)).json()
        week = info["opening_hours"]
        assert [day["day"] for day in week] == [
            "Montag",
            "Dienstag",
            "Mittwoch",
            "Donnerstag",
            "Freitag",
            "Samstag",
            "Sonntag",
        ]
        assert len({day["hours"] for day in week}) == 1  # the test practice opens every day alike
        assert week[0]["hours"] != "geschlossen"
        assert "next_closures" in info
        assert {"address", "emergency"}.isdisjoint(info)

    async def test_one_topic_keeps_the_reply_small(self, client: httpx.AsyncClient) -> None:
        body = {"conversation_id": "c", "topic": "Notfall"}
        info = (await client.post("/tools/practice_info", json=body, headers=HEADERS)).json()
        assert set(info) == {"ok", "code", "message", "practice_name", "emergency"}


class TestBrokenPracticeFile:
    @pytest.mark.parametrize(
        ("change", "named"),
        [
            (
                {"visit_types": [{"id": "akut", "name": "Akut", "minutes": 10, "practitioners": ["ghost"]}]},
                "ghost",
            ),
            ({"booking": {"grid_minutes": 7}}, "grid_minutes"),
            ({"opening_hours": {"mo": ["12:00-08:00"]}}, "opening_hours.mo"),
            ({"closures": [{"from": "2026-12-24", "to": "2026-12-20"}]}, "closures.0"),
        ],
    )
    def test_start_fails_naming_file_and_key(
        self, tmp_path: Path, change: dict[str, object], named: str
    ) -> None:
        path = tmp_path / "practice.yaml"
        path.write_text(yaml.safe_dump(TEST_PRACTICE | change, allow_unicode=True), encoding="utf-8")
        with pytest.raises(PracticeConfigError) as info:
            create_app(SchedulerSettings(practice_file=path, home=tmp_path))
        assert str(path) in str(info.value)
        assert named in str(info.value)

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(PracticeConfigError, match="cannot read"):
            create_app(SchedulerSettings(practice_file=tmp_path / "nope.yaml", home=tmp_path))


class TestOpenUntilMidnight:
    """A range ending at 24:00 that holds the present moment: the practice is open now."""

    @pytest.fixture
    def practice_file(self, tmp_path: Path) -> Path:
        hour = dt.datetime.now(BERLIN).hour
        hours = [f"{hour:02d}:00-24:00"]
        practice = TEST_PRACTICE | {"opening_hours": dict.fromkeys(WEEKDAYS, hours)}
        path = tmp_path / "practice.yaml"
        path.write_text(yaml.safe_dump(practice, allow_unicode=True), encoding="utf-8")
        return path

    @pytest.mark.usefixtures("services")
    async def test_open_now(self, client: httpx.AsyncClient, practice_file: Path) -> None:
        body = {"conversation_id": "c", "topic": "oeffnungszeiten"}
        info = (await client.post("/tools/practice_info", json=body, headers=HEADERS)).json()
        holiday = Calendar(load_practice(practice_file)).closure(dt.datetime.now(BERLIN).date())
        assert info["open_now"] is (holiday is None)
