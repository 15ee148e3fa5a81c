"""A gateway app on the real NATS, driven through HTTP in-process, with or without the patients service."""

from collections.abc import AsyncIterator

import httpx
import pytest
from faststream import TestApp
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.gateway.main import create_app
from ignis.gateway.settings import GatewaySettings
from ignis.patients.main import create_app as create_patients
from ignis.patients.settings import PatientsSettings
from tests.conftest import wait_until_serving

TOOL_SECRET = "test-tool-secret"
HEADERS = {"X-Ignis-Tool-Secret": TOOL_SECRET}


@pytest.fixture
def gateway_settings(nats_url: str, tmp_path: object) -> GatewaySettings:
    return GatewaySettings(
        nats_url=nats_url,
        home=tmp_path,
        tool_secret=SecretStr(TOOL_SECRET),
        tool_budget_seconds=0.5,
        readiness_timeout_seconds=2.0,
        log_format="text",
    )


@pytest.fixture
async def gateway(gateway_settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(gateway_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


@pytest.fixture
async def patients_service(
    patients_settings: PatientsSettings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[None]:
    app = create_patients(patients_settings, sessionmaker)
    async with TestApp(app):
        await wait_until_serving(app.broker, "patients")
        yield
