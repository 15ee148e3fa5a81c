"""Factory of the gateway: `uvicorn ignis.gateway.main:create_app --factory`."""

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
import nats.errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from faststream.nats import NatsBroker
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import TypeAdapter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ignis.contracts import subjects
from ignis.contracts.base import Ping, Pong
from ignis.gateway import initiation, staff, webhooks
from ignis.gateway.asking import ask_service
from ignis.gateway.auth import bearer_matches
from ignis.gateway.edge import BodyLimit, SecurityHeaders
from ignis.gateway.metrics import GatewayMetrics
from ignis.gateway.settings import GatewaySettings
from ignis.gateway.tools import build_router
from ignis.kit import tracing
from ignis.kit.bus import ensure_stream, make_broker
from ignis.kit.logging import REQUEST_ID, configure_logging
from ignis.kit.memory import freeze_startup_objects
from ignis.practice.config import load_practice

logger = logging.getLogger("ignis.gateway")


def create_app(settings: GatewaySettings | None = None, broker: NatsBroker | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    configure_logging("gateway", settings.log_level, settings.log_format == "json")
    broker = broker or make_broker(settings.nats, "gateway")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await broker.start()
        # Webhooks go to JetStream through a plain client: its publish waits for the stream's ack.
        connection = await nats.connect(settings.nats, max_reconnect_attempts=-1, reconnect_time_wait=1)
        # What one message may hold, less room for its headers (a compressed webhook beyond it is a 413).
        app.state.jetstream_max_payload = connection.max_payload - 16 * 1024
        app.state.jetstream = connection.jetstream()
        await ensure_stream(app.state.jetstream, subjects.WEBHOOKS_STREAM, settings)
        freeze_startup_objects()
        yield
        try:
            await connection.drain()
            await broker.stop()
        except nats.errors.Error:  # NATS is away: nothing is left to flush
            await connection.close()
        tracing.flush()

    # The API's description (with the staff API) is for developers, not for whoever finds the host.
    dev = settings.env == "dev"
    app = FastAPI(
        title="Ignis gateway",
        lifespan=lifespan,
        docs_url="/docs" if dev else None,
        redoc_url="/redoc" if dev else None,
        openapi_url="/openapi.json" if dev else None,
    )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        """Field names only: FastAPI's own answer echoes the input (patient data) and fails with a 500 on
        a lone surrogate it cannot encode."""
        fields = sorted({".".join(str(part) for part in err["loc"]) for err in exc.errors()})
        return JSONResponse({"ok": False, "code": "invalid_request", "fields": fields}, status_code=422)

    app.add_middleware(
        BodyLimit,
        limits=[
            (webhooks.POST_CALL_PATH, settings.webhook_body_limit_bytes),
            (staff.router.prefix, settings.staff_body_limit_bytes),
        ],
        default=settings.tool_body_limit_bytes,  # the tools, conversation-init and everything else
    )
    app.add_middleware(SecurityHeaders, no_store_prefixes=[staff.router.prefix])
    app.add_middleware(RequestIds)
    if (provider := tracing.tracer_provider("gateway")) is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        # A tool call's trace starts here; probes and scrapes would only add noise.
        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=provider, excluded_urls="healthz,readyz,metrics"
        )
    app.state.settings = settings
    app.state.broker = broker
    app.state.metrics = GatewayMetrics()
    app.state.practice = load_practice(settings.practice_file)
    app.include_router(build_router())
    app.include_router(webhooks.router)
    app.include_router(initiation.router)
    app.include_router(staff.router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is alive (liveness)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz(request: Request) -> JSONResponse:
        """NATS is connected and every service answers a ping (readiness)."""
        results = await asyncio.gather(*(_ping(request, service) for service in subjects.SERVICES))
        services = dict(zip(subjects.SERVICES, results, strict=True))
        ready = all(services.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "services": services},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", tags=["health"])
    async def metrics(request: Request) -> Response:
        """Prometheus, for a scraper with `Authorization: Bearer <IGNIS_METRICS_TOKEN>` only."""
        expected = request.app.state.settings.metrics_token.get_secret_value()
        if not bearer_matches(request.headers.get("authorization", ""), expected):
            return JSONResponse(
                {"ok": False, "code": "unauthorized"}, 401, headers={"WWW-Authenticate": "Bearer"}
            )
        # The gateway's own (per app) and the process-wide ones (NATS publishing, Python runtime).
        own = generate_latest(request.app.state.metrics.registry)
        return Response(own + generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return app


_PONG: TypeAdapter[Pong] = TypeAdapter(Pong)


async def _ping(request: Request, service: str) -> bool:
    timeout = request.app.state.settings.readiness_timeout_seconds
    pong = await ask_service(request, subjects.ping(service), Ping(), _PONG, timeout)
    return isinstance(pong, Pong) and pong.service == service


class RequestIds:
    """Every HTTP request gets an id (the caller's `X-Request-ID` if sane, else a new one), echoed in the
    response and carried by every log line and NATS request it causes. Plain ASGI: no per-request task."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
