"""The patients service started when a test says so, on a webhook stream of its own."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, suppress
from pathlib import Path

import httpx
import nats
import pytest
from faststream import TestApp

from ignis.contracts import subjects
from ignis.patients.main import create_app
from ignis.patients.settings import PatientsSettings
from tests.conftest import wait_until_serving


@pytest.fixture
async def fresh_stream(nats_url: str, gateway: httpx.AsyncClient) -> AsyncIterator[None]:
    """No webhook of another test in the stream, and the service's consumer starting from scratch."""
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    await js.purge_stream(subjects.WEBHOOKS_STREAM)
    with suppress(nats.js.errors.NotFoundError):
        await js.delete_consumer(subjects.WEBHOOKS_STREAM, subjects.PATIENTS_CALLS_CONSUMER)
    yield
    await connection.close()


@pytest.fixture
def patients_service(
    nats_url: str, database_url: str, tmp_path: Path
) -> Callable[[], AbstractAsyncContextManager[None]]:
    """Start the service when the test says so (with its own engine: its commits are real)."""
    settings = PatientsSettings(
        nats_url=nats_url, database_url=database_url, home=tmp_path, log_format="text"
    )

    class Running:
        async def __aenter__(self) -> None:
            self.app = TestApp(create_app(settings))
            await self.app.__aenter__()
            await wait_until_serving(self.app.app.broker, "patients")

        async def __aexit__(self, *exc: object) -> None:
            await self.app.__aexit__(*exc)

    return Running
