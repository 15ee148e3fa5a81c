"""Factory of the notifier service: `faststream run ignis.notifier.main:create_app --factory`."""

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from ignis.contracts import subjects
from ignis.fhir.client import FhirClient
from ignis.kit.clock import utcnow
from ignis.kit.db import autocommit_sessionmaker
from ignis.kit.service import Service, create_service
from ignis.notifier import fhir_sync, handlers
from ignis.notifier.dispatcher import Dispatcher
from ignis.notifier.providers import SmsProvider, make_provider
from ignis.notifier.service import Planner
from ignis.notifier.settings import NotifierSettings
from ignis.practice.config import load_practice


def create_app(
    settings: NotifierSettings | None = None,
    provider: SmsProvider | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
    poll_seconds: float = 1.0,
) -> Service:
    """A practice file with an error (an SMS template too long, say) stops the start here.

    Tests pass a `clock` to let reminders come due.
    """
    settings = settings or NotifierSettings()
    practice = load_practice(settings.practice_file)

    async def send_sms(app: Service) -> None:
        sms = provider or make_provider(settings)
        dispatcher = Dispatcher(
            autocommit_sessionmaker(app.context.get("sessionmaker")),
            app.nats,
            practice,
            sms,
            settings.sms_timeout_seconds,
            clock=clock,
            poll_seconds=poll_seconds,
            fhir_records=settings.records == "fhir",
        )
        app.context.set_global("dispatcher", dispatcher)
        try:
            await dispatcher.run()
        finally:
            await sms.aclose()

    async def record_in_fhir(app: Service) -> None:
        await fhir_sync.sync_forever(app.context.get("sessionmaker"), app.context.get("fhir"), poll_seconds)

    @asynccontextmanager
    async def planning() -> AsyncIterator[Planner]:
        yield Planner(autocommit_sessionmaker(app.context.get("sessionmaker")), practice)

    background = [send_sms]
    resources: dict[str, Callable[[], AbstractAsyncContextManager[Any]]] = {"planner": planning}
    if settings.records == "fhir":
        # Each SMS sent is recorded on the practice's FHIR server: one pooled client per process.
        resources["fhir"] = lambda: FhirClient.from_settings(settings)
        background.append(record_in_fhir)
    app = create_service(
        "notifier",
        settings,
        handlers.router,
        background=background,
        resources=resources,
        consumers={
            subjects.NOTIFIER_APPOINTMENTS_CONSUMER: subjects.EVENTS_STREAM,
            subjects.NOTIFIER_REQUESTS_CONSUMER: subjects.EVENTS_STREAM,
            subjects.NOTIFIER_ERASURES_CONSUMER: subjects.EVENTS_STREAM,
        },
    )
    app.context.set_global("practice", practice)
    return app
