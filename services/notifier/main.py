"""Factory of the notifier service: `faststream run ignis.notifier.main:create_app --factory`."""

from faststream import FastStream

from ignis.kit.service import create_service
from ignis.kit.settings import Settings


def create_app(settings: Settings | None = None) -> FastStream:
    return create_service("notifier", settings or Settings(), database=False)
