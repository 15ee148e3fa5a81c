"""The conversation-initiation webhook: the greeting's variables, within 1 s even when services are not."""

import dataclasses
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.contracts import subjects
from ignis.gateway.settings import GatewaySettings
from ignis.patients.repository import PatientRepository
from tests.conftest import HEADERS, TEST_PRACTICE, slow_replica
from tests.factories import MAYER_1, MAYER_2, MUELLER, patient

URL = "/webhooks/elevenlabs/conversation-init"
CALL = {
    "caller_id": "+4915123456789",
    "called_number": "+49301234567",
    "agent_id": "agent_1",
    "call_sid": "CA1",
    "conversation_id": "conv_init",
}


@pytest.fixture
def practice_file(tmp_path: Path) -> Path:
    """The test practice, with greeting known callers switched on."""
    path = tmp_path / "practice.yaml"
    path.write_text(
        yaml.safe_dump(TEST_PRACTICE | {"greet_known_callers": True}, allow_unicode=True), encoding="utf-8"
    )
    return path


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings, practice_file: Path) -> GatewaySettings:
    return gateway_settings.model_copy(update={"practice_file": practice_file})


async def initiate(gateway: httpx.AsyncClient, **changes: Any) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    response = await gateway.post(URL, json=CALL | changes, headers=HEADERS)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "conversation_initiation_client_data"
    return body["dynamic_variables"], elapsed


class TestWithServices:
    @pytest.mark.usefixtures("services")
    async def test_known_caller_and_opening_hours(
        self, gateway: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        async with AsyncSession(engine) as session, session.begin():
            repo = PatientRepository(session)
            await repo.add(patient(MUELLER))
            await repo.add(patient(MAYER_1))
            await repo.add(patient(dataclasses.replace(MAYER_2, phone=MAYER_1.phone)))  # shared number
        variables, _ = await initiate(gateway)
        assert variables["practice_name"] == "Testpraxis"
        assert variables["caller_known"] is True
        assert variables["caller_first_name"] == "Anna"
        assert variables["open_now"] in ("ja", "nein")
        assert variables["hours_today"] in (
            "sieben bis zwölf Uhr und dreizehn bis zwanzig Uhr",
            "geschlossen",
        )
        # Which transfers apply (tests/scheduler/test_calendar.py: the state at each hour).
        expected = {"ja": {"geöffnet"}, "nein": {"Mittagspause", "geschlossen"}}
        assert variables["practice_state"] in expected[variables["open_now"]]
        assert len(variables["now"]) == 5
        assert re.fullmatch(r"[A-Z][a-z]+tag|Mittwoch", variables["today"].split(",")[0])
        assert re.fullmatch(r"\w+, den \w+ten \w+ zweitausend\w*", variables["today"])  # said, not digits

        shared, _ = await initiate(gateway, caller_id=MAYER_1.phone)
        assert (shared["caller_known"], shared["caller_first_name"]) == (False, "")
        unknown, _ = await initiate(gateway, caller_id="+4930999999")
        assert unknown["caller_known"] is False
        anonymous, _ = await initiate(gateway, caller_id="")
        assert (anonymous["caller_known"], anonymous["caller_first_name"]) == (False, "")


class TestWithoutServices:
    async def test_practice_only_values_at_once(self, gateway: httpx.AsyncClient) -> None:
        variables, elapsed = await initiate(gateway)
        assert elapsed < 1.0
        assert variables["practice_name"] == "Testpraxis"
        assert (variables["open_now"], variables["caller_known"]) == ("unbekannt", False)
        assert variables["practice_state"] == "unbekannt"

    async def test_slow_scheduler_still_answers_within_a_second(
        self, gateway: httpx.AsyncClient, slow_scheduler: None
    ) -> None:
        variables, elapsed = await initiate(gateway)
        assert elapsed < 1.0, f"answered after {elapsed:.2f}s"
        assert variables["open_now"] == "unbekannt"

    async def test_secret_required(self, gateway: httpx.AsyncClient) -> None:
        assert (await gateway.post(URL, json=CALL)).status_code == 401
        assert (await gateway.post(URL, content=b"[", headers=HEADERS)).status_code == 422


@pytest.fixture
async def slow_scheduler(nats_url: str) -> AsyncIterator[None]:
    async with slow_replica(nats_url, subjects.SCHEDULER_PRACTICE_INFO, "scheduler"):
        yield
