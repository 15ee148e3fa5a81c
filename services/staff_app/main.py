"""Factory of the practice team's web app. `ignis serve gateway` mounts it at /praxis (libs/cli/web.py)."""

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from faststream.nats import NatsBroker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ignis.kit.bus import make_broker
from ignis.kit.db import create_engine, make_sessionmaker
from ignis.practice.config import load_practice
from ignis.staff_app.accounts import Policy
from ignis.staff_app.auth import AdminOnly, CsrfRefused, NotSignedIn, base_path
from ignis.staff_app.backend import Backend
from ignis.staff_app.pages import router
from ignis.staff_app.pages.page import render
from ignis.staff_app.pages.system import SystemChecks
from ignis.staff_app.settings import StaffAppSettings

HERE = Path(__file__).parent


def policy(settings: StaffAppSettings) -> Policy:
    return Policy(
        session_idle=dt.timedelta(minutes=settings.staff_session_idle_minutes),
        session_max=dt.timedelta(hours=settings.staff_session_max_hours),
        lockout_failures=settings.staff_lockout_failures,
        lockout=dt.timedelta(minutes=settings.staff_lockout_minutes),
        setup_valid=dt.timedelta(hours=settings.staff_setup_hours),
    )


def create_app(
    settings: StaffAppSettings | None = None,
    broker: NatsBroker | None = None,
    system_checks: SystemChecks | None = None,
) -> FastAPI:
    """The app; its lifespan connects to NATS and Postgres (a mounted app's lifespan is run by the
    composing process, see libs/cli/web.py). `system_checks` are `ignis doctor`'s, handed in by that
    process: they live in `ignis.provision`, which reads the gateway's and notifier's settings, and a
    service imports no other service's code, not even through a library."""
    settings = settings or StaffAppSettings()
    broker = broker or make_broker(settings.nats, "staff_app")
    practice = load_practice(settings.practice_file)
    zone = ZoneInfo(practice.timezone)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database, pool_size=5)
        app.state.sessionmaker = make_sessionmaker(engine)
        await broker.start()
        try:
            yield
        finally:
            await broker.stop()
            await engine.dispose()

    app = FastAPI(title="Ignis Praxis", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["zeit"] = lambda value, fmt="%d.%m.%Y %H:%M": (
        value.astimezone(zone).strftime(fmt) if value else ""
    )
    templates.env.filters["dauer"] = lambda secs: f"{secs // 60}:{secs % 60:02d} min" if secs else "–"
    app.state.settings = settings
    app.state.practice = practice
    app.state.system_checks = system_checks
    app.state.policy = policy(settings)
    app.state.templates = templates
    app.state.backend = Backend(broker, settings.staff_timeout_seconds)
    app.add_middleware(PageHeaders)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, _: NotSignedIn) -> Response:
        target = base_path(request) + "/anmelden"
        if request.headers.get("hx-request"):  # htmx follows this header instead of swapping the page in
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _: CsrfRefused) -> HTMLResponse:
        return render(request, "error.html", status=403, message="Sicherheitsprüfung fehlgeschlagen.")

    @app.exception_handler(AdminOnly)
    async def admin_only(request: Request, _: AdminOnly) -> HTMLResponse:
        return render(request, "error.html", status=403, message="Nur für Administratoren.")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, _: RequestValidationError) -> HTMLResponse:
        """No echo of the input (it may be patient data)."""
        return render(request, "error.html", status=422, message="Ungültige Eingabe.")

    return app


class PageHeaders:
    """Pages with patient data stay out of caches; no other site may frame them or run script in them
    (htmx is configured to need no inline style or eval)."""

    HEADERS = (
        (b"cache-control", b"no-store"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        (
            b"content-security-policy",
            b"default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in self.HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = [*kept, *self.HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)
