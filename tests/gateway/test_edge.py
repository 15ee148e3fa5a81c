"""The HTTP edge through HTTP on real NATS: body limits before authentication, safe headers, API docs only in
dev, and /metrics only with its token."""

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from ignis.gateway.auth import sign_elevenlabs
from ignis.gateway.main import create_app
from ignis.gateway.settings import GatewaySettings
from tests.conftest import HEADERS, METRICS_HEADERS, METRICS_TOKEN, WEBHOOK_SECRET

KIB = 1024
POST_CALL = "/webhooks/elevenlabs/post-call"
TOO_LARGE = {"ok": False, "code": "too_large"}


async def chunks(total: int, size: int = 64 * KIB, sent: list[int] | None = None) -> AsyncIterator[bytes]:
    """A body without Content-Length (chunked); `sent` counts what the gateway actually pulled."""
    for _ in range(total // size):
        if sent is not None:
            sent.append(size)
        yield b" " * size


class TestBodyLimits:
    @pytest.mark.parametrize(
        ("path", "headers"),
        [
            ("/tools/identify_patient", HEADERS),
            ("/tools/identify_patient", {}),  # refused before authentication
            ("/webhooks/elevenlabs/conversation-init", HEADERS),
            ("/staff/requests/r1/claim", {}),
            ("/healthz", {}),
        ],
    )
    async def test_64_kib_routes(
        self, gateway: httpx.AsyncClient, path: str, headers: dict[str, str]
    ) -> None:
        response = await gateway.post(path, content=b" " * (64 * KIB + 1), headers=headers)
        assert (response.status_code, response.json()) == (413, TOO_LARGE)

    async def test_just_within_the_limit_reaches_the_tool(self, gateway: httpx.AsyncClient) -> None:
        body = b'{"conversation_id": "c1"}'.ljust(64 * KIB)
        response = await gateway.post("/tools/practice_info", content=body, headers=HEADERS)
        assert response.status_code != 413  # the scheduler is not running: `unavailable`, but answered

    async def test_chunked_tool_body_is_cut_off(self, gateway: httpx.AsyncClient) -> None:
        sent: list[int] = []
        response = await gateway.post(
            "/tools/identify_patient", content=chunks(10 * 1024 * KIB, 4 * KIB, sent), headers=HEADERS
        )
        assert (response.status_code, response.json()) == (413, TOO_LARGE)
        assert sum(sent) <= 64 * KIB + 4 * KIB, "read on past the limit"
        metrics = (await gateway.get("/metrics", headers=METRICS_HEADERS)).text
        assert 'ignis_tool_calls_total{code="too_large",tool="identify_patient"} 1.0' in metrics

    async def test_twenty_mb_unsigned_webhook_by_length(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.post(POST_CALL, content=b"x" * 20_000_000)
        assert (response.status_code, response.json()) == (413, TOO_LARGE)

    async def test_twenty_mb_chunked_webhook_is_refused_before_the_end(
        self, gateway: httpx.AsyncClient, gateway_settings: GatewaySettings
    ) -> None:
        sent: list[int] = []
        plausible = {"ElevenLabs-Signature": f"t={int(time.time())},v0={'0' * 64}"}  # so it is read on
        response = await gateway.post(POST_CALL, content=chunks(20_000_000, sent=sent), headers=plausible)
        assert (response.status_code, response.json()) == (413, TOO_LARGE)
        assert sum(sent) <= gateway_settings.webhook_body_limit_bytes + 64 * KIB

    async def test_signed_webhook_over_the_limit(
        self, gateway: httpx.AsyncClient, gateway_settings: GatewaySettings
    ) -> None:
        body = b'{"type": "post_call_transcription", "data": {"conversation_id": "c1", "x": "'
        body += b"x" * gateway_settings.webhook_body_limit_bytes + b'"}}'
        signature = sign_elevenlabs(body, WEBHOOK_SECRET)
        response = await gateway.post(POST_CALL, content=body, headers={"ElevenLabs-Signature": signature})
        assert (response.status_code, response.json()) == (413, TOO_LARGE)

    async def test_staff_body_limit_applies_before_the_token(
        self, gateway: httpx.AsyncClient, gateway_settings: GatewaySettings
    ) -> None:
        token = {"Authorization": f"Bearer {gateway_settings.staff_token.get_secret_value()}"}
        for headers in ({}, token):
            response = await gateway.post(
                "/staff/requests/r1/claim", content=chunks(1024 * KIB), headers=headers
            )
            assert (response.status_code, response.json()) == (413, TOO_LARGE)


class TestHeaders:
    @pytest.mark.parametrize(
        ("method", "path", "headers"),
        [
            ("GET", "/healthz", {}),
            ("GET", "/nowhere", {}),
            ("POST", "/tools/identify_patient", {}),
            ("POST", "/tools/identify_patient", HEADERS),
            ("GET", "/metrics", {}),
            ("GET", "/staff/requests", {}),
        ],
    )
    async def test_nosniff_on_every_response(
        self, gateway: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
    ) -> None:
        response = await gateway.request(method, path, json={}, headers=headers)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert len(response.headers.get_list("x-content-type-options")) == 1

    async def test_staff_responses_are_never_cached(
        self, gateway: httpx.AsyncClient, gateway_settings: GatewaySettings, services: None
    ) -> None:
        token = {"Authorization": f"Bearer {gateway_settings.staff_token.get_secret_value()}"}
        for path, headers, status in [
            ("/staff/requests", token, 200),
            ("/staff/calls/unknown", token, 404),
            ("/staff/requests", {}, 401),
        ]:
            response = await gateway.get(path, headers=headers)
            assert response.status_code == status
            assert response.headers["cache-control"] == "no-store"

    async def test_tool_replies_carry_no_staff_cache_rule(self, gateway: httpx.AsyncClient) -> None:
        assert "cache-control" not in (await gateway.get("/healthz")).headers


@pytest.fixture
async def prod_gateway(gateway_settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    settings = gateway_settings.model_copy(
        update={"env": "prod", "staff_token": SecretStr("prod-staff-token")}
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


class TestDocs:
    @pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
    async def test_on_in_dev(self, gateway: httpx.AsyncClient, path: str) -> None:
        assert (await gateway.get(path)).status_code == 200

    @pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"])
    async def test_off_in_prod(self, prod_gateway: httpx.AsyncClient, path: str) -> None:
        assert (await prod_gateway.get(path)).status_code == 404


class TestMetrics:
    @pytest.mark.parametrize(
        "authorization",
        [None, "", f"Basic {METRICS_TOKEN}", "Bearer wrong", f"Bearer {METRICS_TOKEN}x", b"Bearer \xe9"],
    )
    async def test_refused_without_the_token(
        self, gateway: httpx.AsyncClient, authorization: str | bytes | None
    ) -> None:
        headers = {} if authorization is None else {"Authorization": authorization}
        response = await gateway.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert "ignis_tool_calls" not in response.text

    async def test_served_with_the_token(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.get("/metrics", headers=METRICS_HEADERS)
        assert response.status_code == 200
        assert "ignis_tool_latency_seconds" in response.text

    async def test_also_in_prod(self, prod_gateway: httpx.AsyncClient) -> None:
        assert (await prod_gateway.get("/metrics")).status_code == 401
        assert (await prod_gateway.get("/metrics", headers=METRICS_HEADERS)).status_code == 200

    def test_dev_generates_one_and_prod_requires_it(self, tmp_path: Path) -> None:
        home = tmp_path
        generated = GatewaySettings(_env_file=None, home=home).metrics_token.get_secret_value()
        assert generated
        assert GatewaySettings(_env_file=None, home=home).metrics_token.get_secret_value() == generated
        with pytest.raises(ValueError, match="IGNIS_METRICS_TOKEN"):
            GatewaySettings(
                _env_file=None,
                env="prod",
                home=home / "empty",
                tool_secret=SecretStr("a-real-tool-secret"),
                elevenlabs_webhook_secret=SecretStr("a-real-webhook-secret"),
                staff_token=SecretStr("a-real-staff-token"),
            )
