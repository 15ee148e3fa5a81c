"""A service's own HTTP endpoint (kit.health, served by uvicorn in production), asked in process: alive,
ready only while NATS and its database answer, and metrics with its consumers' backlog read on scrape."""

import httpx
from faststream import TestApp
from sqlalchemy.ext.asyncio import AsyncEngine

from ignis.contracts import subjects
from ignis.kit.db import create_engine, make_sessionmaker
from ignis.kit.embedded import free_port
from ignis.kit.service import Service
from ignis.patients.main import create_app
from ignis.patients.settings import PatientsSettings


async def get(app: Service, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://replica") as client:
        return await client.get(path)


async def test_alive_ready_and_metrics(patients_settings: PatientsSettings, engine: AsyncEngine) -> None:
    app = create_app(patients_settings, make_sessionmaker(engine))
    async with TestApp(app):
        alive = await get(app, "/healthz")
        assert (alive.status_code, alive.text) == (200, "ok\n")
        ready = await get(app, "/readyz")
        assert (ready.status_code, ready.text) == (200, "ready\n")
        metrics = await get(app, "/metrics")
        assert metrics.headers["content-type"].startswith("text/plain; version=")
        consumer = f'{{consumer="{subjects.PATIENTS_CALLS_CONSUMER}"}}'
        assert f"ignis_consumer_pending{consumer}" in metrics.text
        assert f"ignis_consumer_ack_pending{consumer}" in metrics.text


async def test_not_ready_without_its_database(patients_settings: PatientsSettings) -> None:
    nowhere = create_engine(f"postgresql+asyncpg://ignis@127.0.0.1:{free_port()}/ignis")
    app = create_app(patients_settings, make_sessionmaker(nowhere))
    try:
        async with TestApp(app):
            assert (await get(app, "/healthz")).status_code == 200  # alive all the same
            ready = await get(app, "/readyz")
            assert ready.status_code == 503
            assert ready.text.startswith("not ready: database not answering")
    finally:
        await nowhere.dispose()
