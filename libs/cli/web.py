"""The one HTTP server of `ignis serve gateway`: the gateway, with the practice team's app at /praxis.

The two are independent services (neither imports the other), so they meet here, at the process entry:
the staff app is mounted on the gateway app, which gives it the gateway's address, TLS certificate and edge
(request ids, body limits, headers) for free; Starlette does not run a mounted app's lifespan, so the
combined lifespan below runs both.
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ignis.gateway.main import create_app as create_gateway
from ignis.gateway.settings import GatewaySettings
from ignis.practice.config import load_practice
from ignis.provision.doctor import Check, Doctor
from ignis.provision.settings import ProvisionSettings
from ignis.staff_app.main import create_app as create_staff_app
from ignis.staff_app.settings import StaffAppSettings

STAFF_APP_PATH = "/praxis"


async def doctor_checks() -> Sequence[Check]:
    """`ignis doctor`'s checks for the staff app's system page, with this process's settings (the gateway's
    and the notifier's environment, which `ignis up` gives it)."""
    settings = ProvisionSettings()
    return await Doctor(settings, load_practice(settings.practice_file)).run()


def create_app() -> FastAPI:
    """`uvicorn ignis.cli.web:create_app --factory`, what `ignis serve gateway` runs."""
    gateway = create_gateway(GatewaySettings())
    staff_app = create_staff_app(StaffAppSettings(), system_checks=doctor_checks)
    gateway.mount(STAFF_APP_PATH, staff_app)
    gateway_lifespan = gateway.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with gateway_lifespan(app), staff_app.router.lifespan_context(staff_app):
            yield

    gateway.router.lifespan_context = lifespan
    return gateway
