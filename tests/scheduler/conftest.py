"""Scheduler tests run both services for real (see tests/conftest.py) with a caller already verified."""

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ignis.gateway.settings import GatewaySettings
from tests.conftest import Caller, verified_caller


@pytest.fixture
async def caller(engine: AsyncEngine, services: None) -> Caller:
    return await verified_caller(engine)


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    """The production budget: 100 concurrent bookers queue behind the scheduler's workers."""
    return gateway_settings.model_copy(update={"tool_budget_seconds": 4.0})
