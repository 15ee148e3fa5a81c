"""Factory of the patients service: `faststream run ignis.patients.main:create_app --factory`."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.contracts import subjects
from ignis.fhir.client import FhirClient
from ignis.kit.service import Service, create_service
from ignis.patients import fhir_sync, handlers, reconcile, service
from ignis.patients.settings import PatientsSettings


def create_app(
    settings: PatientsSettings | None = None, sessionmaker: async_sessionmaker[AsyncSession] | None = None
) -> Service:
    """`sessionmaker`: tests bind the service to a connection they roll back; the outbox relay, which
    would share that connection, then stays off."""
    settings = settings or PatientsSettings()
    background = [purge_expired_calls, reconcile_calls] if sessionmaker is None else []
    if settings.records == "fhir" and sessionmaker is None:
        background.append(write_to_fhir)
    return create_service(
        "patients",
        settings,
        handlers.router,
        sessionmaker=sessionmaker,
        outbox=sessionmaker is None,
        background=background,
        consumers={subjects.PATIENTS_CALLS_CONSUMER: subjects.WEBHOOKS_STREAM},
        # IGNIS_RECORDS=fhir: the patients are on the practice's FHIR server (one pooled client per process).
        resources={"fhir": lambda: FhirClient.from_settings(settings)} if settings.records == "fhir" else {},
    )


async def purge_expired_calls(app: Service) -> None:
    await service.purge_forever(app.context.get("sessionmaker"), app.context.get("settings"))


async def reconcile_calls(app: Service) -> None:
    await reconcile.reconcile_forever(app.context.get("sessionmaker"), app.context.get("settings"))


async def write_to_fhir(app: Service) -> None:
    await fhir_sync.sync_forever(app.context.get("sessionmaker"), app.context.get("fhir"))
