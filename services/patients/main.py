"""Factory of the patients service: `faststream run ignis.patients.main:create_app --factory`."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.contracts import subjects
from ignis.kit.service import Service, create_service
from ignis.patients import handlers, reconcile, retention
from ignis.patients.settings import PatientsSettings


def create_app(
    settings: PatientsSettings | None = None, sessionmaker: async_sessionmaker[AsyncSession] | None = None
) -> Service:
    """`sessionmaker`: tests bind the service to a connection they roll back; the outbox relay, which
    would share that connection, then stays off."""
    return create_service(
        "patients",
        settings or PatientsSettings(),
        handlers.router,
        sessionmaker=sessionmaker,
        outbox=sessionmaker is None,
        background=[purge_expired_calls, reconcile_calls] if sessionmaker is None else [],
        consumers={subjects.PATIENTS_CALLS_CONSUMER: subjects.WEBHOOKS_STREAM},
    )


async def purge_expired_calls(app: Service) -> None:
    await retention.purge_forever(app.context.get("sessionmaker"), app.context.get("settings"))


async def reconcile_calls(app: Service) -> None:
    await reconcile.reconcile_forever(app.context.get("sessionmaker"), app.context.get("settings"))
