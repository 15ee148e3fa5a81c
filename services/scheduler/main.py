"""Factory of the scheduler service: `faststream run ignis.scheduler.main:create_app --factory`."""

from faststream import FastStream

from ignis.kit.service import create_service
from ignis.kit.settings import Settings


def create_app(settings: Settings | None = None) -> FastStream:
    return create_service("scheduler", settings or Settings(), database=False)
