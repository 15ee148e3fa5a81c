"""The anatomy every FastStream service shares: logging, broker with error replies and ping, DB lifespan."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from faststream import ContextRepo, FastStream
from faststream.nats import NatsRouter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.kit.bus import ensure_streams, make_broker
from ignis.kit.db import create_engine, make_sessionmaker
from ignis.kit.logging import configure_logging
from ignis.kit.outbox import OutboxRelay
from ignis.kit.settings import Settings


def create_service(
    name: str,
    settings: Settings,
    *routers: NatsRouter,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    database: bool = True,
    outbox: bool = False,
    background: Sequence[Callable[[FastStream], Coroutine[Any, Any, None]]] = (),
    streams: dict[str, str] | None = None,
) -> FastStream:
    """Build service `name`; handlers read `settings` and `sessionmaker` from the context.

    Tests pass a `sessionmaker` bound to a connection they roll back afterwards. `background` jobs run
    beside the handlers from the moment the broker is connected until shutdown begins (each gets the app:
    its broker, and settings and sessionmaker in its context); `streams` (name → subject filter) exist
    before its consumers bind to them.
    """
    configure_logging(name, settings.log_level, settings.log_format == "json")
    broker = make_broker(settings.nats, name)
    for router in routers:
        broker.include_router(router)

    @asynccontextmanager
    async def lifespan(context: ContextRepo) -> AsyncIterator[None]:
        context.set_global("settings", settings)
        if streams:
            await ensure_streams(settings.nats, streams)
        async with AsyncExitStack() as stack:
            maker = sessionmaker
            if maker is None and database:
                engine = create_engine(settings.database)
                stack.push_async_callback(engine.dispose)
                maker = make_sessionmaker(engine)
            context.set_global("sessionmaker", maker)
            if outbox and maker is not None:
                relay = OutboxRelay(maker, name, settings.nats)
                await relay.connect()
                stack.push_async_callback(relay.close)
                task = asyncio.create_task(relay.run(), name=f"{name}-outbox-relay")
                stack.push_async_callback(_cancel, task)
                context.set_global("outbox_relay", relay)
            yield

    app = FastStream(broker, lifespan=lifespan)
    jobs: list[asyncio.Task[None]] = []

    @app.after_startup
    async def start_background() -> None:
        jobs.extend(asyncio.create_task(job(app), name=f"{name}-{job.__name__}") for job in background)

    @app.on_shutdown
    async def stop_background() -> None:
        while jobs:
            await _cancel(jobs.pop())

    return app


async def _cancel(task: "asyncio.Task[None]") -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
