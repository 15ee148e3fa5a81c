"""One request id per tool call: from the HTTP request (or a new one), through the NATS request's correlation
id, into the log lines of the gateway and of the service that answers."""

import logging
from typing import Any

import httpx
import pytest

from ignis.contracts import subjects
from ignis.contracts.base import ErrorCode, ErrorReply
from ignis.gateway.settings import GatewaySettings
from ignis.kit.bus import make_broker
from tests.conftest import HEADERS, wait_until_serving

IDENTIFY = {"conversation_id": "rid-1", "last_name": "Niemand", "birth_date": "01.01.1990"}


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    return gateway_settings.model_copy(update={"tool_budget_seconds": 0.3})


async def test_gateway_and_service_log_the_callers_request_id(
    gateway: httpx.AsyncClient, nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    service = make_broker(nats_url, "rid-patients")
    logger = logging.getLogger("ignis.patients.test")

    @service.subscriber(subjects.PATIENTS_IDENTIFY, queue=subjects.queue("patients"))
    async def identify(_: Any) -> ErrorReply:
        logger.info("identify handled")
        return ErrorReply(code=ErrorCode.not_found)

    await service.start()
    try:
        await wait_until_serving(service, "rid-patients")
        response = await gateway.post(
            "/tools/identify_patient", json=IDENTIFY, headers=HEADERS | {"X-Request-ID": "req-test-1"}
        )
    finally:
        await service.stop()
    assert response.status_code == 200
    assert response.json()["code"] == "not_found"
    assert response.headers["x-request-id"] == "req-test-1"
    [handled] = [r for r in caplog.records if r.getMessage() == "identify handled"]
    assert getattr(handled, "request_id", None) == "req-test-1"


async def test_an_unanswered_call_is_logged_with_its_request_id(
    gateway: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await gateway.post(
        "/tools/identify_patient", json=IDENTIFY, headers=HEADERS | {"X-Request-ID": "req-test-2"}
    )
    assert response.json()["code"] == "unavailable"
    [warning] = [r for r in caplog.records if r.getMessage() == "service unavailable"]
    assert getattr(warning, "request_id", None) == "req-test-2"


async def test_a_missing_or_odd_request_id_gets_a_new_one(gateway: httpx.AsyncClient) -> None:
    first = await gateway.post("/healthz")
    odd = await gateway.get("/healthz", headers={"X-Request-ID": "a b\\nc" * 30})
    plain = await gateway.get("/healthz")
    ids = {odd.headers["x-request-id"], plain.headers["x-request-id"], first.headers["x-request-id"]}
    assert len(ids) == 3
    assert all(len(i) == 32 for i in ids)
