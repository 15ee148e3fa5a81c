"""The patients service for the gateway tests (the gateway itself is in tests/conftest.py)."""

from collections.abc import AsyncIterator

import pytest
from faststream import TestApp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.patients.main import create_app as create_patients
from ignis.patients.settings import PatientsSettings
from tests.conftest import wait_until_serving


@pytest.fixture
async def patients_service(
    patients_settings: PatientsSettings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[None]:
    app = create_patients(patients_settings, sessionmaker)
    async with TestApp(app):
        await wait_until_serving(app.broker, "patients")
        yield
