"""Factory of the patients service: `faststream run ignis.patients.main:create_app --factory`."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.contracts import subjects
from ignis.fhir.client import FhirClient
from ignis.kit.service import Service, create_service
from ignis.patients import fhir_index, fhir_sync, handlers, reconcile, retention
from ignis.patients.settings import PatientsSettings


def create_app(
    settings: PatientsSettings | None = None, sessionmaker: async_sessionmaker[AsyncSession] | None = None
) -> Service:
    """`sessionmaker`: tests bind the service to a connection they roll back; the outbox relay, which
    would share that connection, then stays off."""
    settings = settings or PatientsSettings()
    background = [purge_expired_calls, reconcile_calls] if sessionmaker is None else []
    resources: dict[str, Callable[[], AbstractAsyncContextManager[Any]]] = {}
    if settings.records == "fhir":
        # The patients are on the practice's FHIR server: one pooled client per process, and an index of them
        # by birth date in this process's memory (filled and kept current in the background).
        resources["fhir"] = lambda: FhirClient.from_settings(settings)
        resources["patient_index"] = lambda: nullcontext(fhir_index.PatientIndex())
        if sessionmaker is None:
            background += [write_to_fhir, keep_patient_index]
    return create_service(
        "patients",
        settings,
        handlers.router,
        sessionmaker=sessionmaker,
        outbox=sessionmaker is None,
        background=background,
        consumers={subjects.PATIENTS_CALLS_CONSUMER: subjects.WEBHOOKS_STREAM},
        resources=resources,
    )


async def purge_expired_calls(app: Service) -> None:
    await retention.purge_forever(app.context.get("sessionmaker"), app.context.get("settings"))


async def reconcile_calls(app: Service) -> None:
    await reconcile.reconcile_forever(app.context.get("sessionmaker"), app.context.get("settings"))


async def write_to_fhir(app: Service) -> None:
    await fhir_sync.sync_forever(app.context.get("sessionmaker"), app.context.get("fhir"))


async def keep_patient_index(app: Service) -> None:
    settings = app.context.get("settings")
    await fhir_index.keep_current(
        app.context.get("patient_index"), app.context.get("fhir"), settings.fhir_index_seconds
    )
