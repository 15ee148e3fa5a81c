"""The anatomy every FastStream service shares: logging, broker with error replies and ping, DB lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from faststream import ContextRepo, FastStream
from faststream.nats import NatsRouter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.kit.bus import make_broker
from ignis.kit.db import create_engine, make_sessionmaker
from ignis.kit.logging import configure_logging
from ignis.kit.settings import Settings


def create_service(
    name: str,
    settings: Settings,
    *routers: NatsRouter,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    database: bool = True,
) -> FastStream:
    """Build service `name`; handlers read `settings` and `sessionmaker` from the context.

    Tests pass a `sessionmaker` bound to a connection they roll back afterwards.
    """
    configure_logging(name, settings.log_level, settings.log_format == "json")
    broker = make_broker(settings.nats, name)
    for router in routers:
        broker.include_router(router)

    @asynccontextmanager
    async def lifespan(context: ContextRepo) -> AsyncIterator[None]:
        context.set_global("settings", settings)
        if sessionmaker is not None or not database:
            context.set_global("sessionmaker", sessionmaker)
            yield
            return
        engine = create_engine(settings.database)
        context.set_global("sessionmaker", make_sessionmaker(engine))
        try:
            yield
        finally:
            await engine.dispose()

    return FastStream(broker, lifespan=lifespan)
