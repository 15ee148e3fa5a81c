"""The anatomy every FastStream service shares: logging, broker with error replies and ping, DB lifespan,
and its own HTTP endpoint (kit.health) served by uvicorn."""

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import uvicorn
from faststream import ContextRepo
from faststream.asgi import AsgiFastStream
from faststream.nats import NatsBroker, NatsRouter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.contracts import subjects
from ignis.kit.bus import align_consumers, drain_requests, ensure_streams, make_broker
from ignis.kit.crypto import use_data_keys
from ignis.kit.db import BACKGROUND_CONNECTIONS, autocommit_sessionmaker, create_engine, make_sessionmaker
from ignis.kit.health import CONSUMER_ACK_PENDING, CONSUMER_PENDING, health_routes
from ignis.kit.logging import configure_logging
from ignis.kit.memory import freeze_startup_objects
from ignis.kit.outbox import OutboxRelay
from ignis.kit.settings import DataSettings, Settings
from ignis.kit.tracing import flush, trace_sql, tracer_provider

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Service(AsgiFastStream):
    """A service app: FastStream's, with its HTTP endpoint as ASGI routes (FastStream's ASGI support).

    `run` serves it with uvicorn on `host`:`port` (`IGNIS_SERVICE_HOST`/`IGNIS_SERVICE_PORT`); uvicorn then
    runs the service's lifespan and, on SIGTERM, stops answering probes before the broker drains. Without a
    port it runs the broker alone until SIGTERM or Ctrl-C, as `FastStream.run` does.
    """

    def __init__(self, broker: NatsBroker, *, host: str, port: int | None, **options: Any) -> None:
        super().__init__(broker, **options)
        self.nats = broker  # typed as NATS: FastStream types `broker` as any broker or None
        self.host, self.port = host, port

    async def run(self, log_level: int = logging.INFO, run_extra_options: Any = None) -> None:
        if self.port is None:
            with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
                async with self.start_lifespan_context(run_extra_options):
                    async for _ in signals:
                        return
            return
        config = uvicorn.Config(
            self,
            host=self.host,
            port=self.port,
            log_level=log_level,
            log_config=None,  # create_service installed the PII-safe logging
            access_log=False,  # a line per probe says nothing
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        # uvicorn hands a signal it shut down on back to the handler it found, for an outer server to act
        # on; there is none, so the process ends normally (exit 0), as under FastStream.run.
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
        try:
            await uvicorn.Server(config).serve()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def create_service(
    name: str,
    settings: Settings,
    *routers: NatsRouter,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    database: bool = True,
    outbox: bool = False,
    background: Sequence[Callable[[Service], Coroutine[Any, Any, None]]] = (),
    consumers: dict[str, str] | None = None,
    resources: Mapping[str, Callable[[], AbstractAsyncContextManager[Any]]] | None = None,
) -> Service:
    """Build service `name`; handlers read `settings` and `sessionmaker` from the context.

    Tests pass a `sessionmaker` bound to a connection they roll back afterwards. `background` jobs run
    beside the handlers from the moment the broker is connected until shutdown begins (each gets the app:
    its broker, and settings and sessionmaker in its context). `consumers` (durable name → stream) are the
    service's JetStream consumers: their streams and the dead-letter stream exist before they bind, and
    they are reported on `/metrics` of the service's own HTTP endpoint (on when `IGNIS_SERVICE_PORT` is set).
    `resources` (name → async context manager factory) are opened in the lifespan, closed at shutdown, and
    put into the context under their name (a client with a connection pool, one per process).
    """
    configure_logging(name, settings.log_level, settings.log_format == "json")
    if isinstance(settings, DataSettings):
        use_data_keys(settings.data_keys.get_secret_value())
    broker = make_broker(settings.nats, name, settings.concurrency)
    for router in routers:
        broker.include_router(router)

    @asynccontextmanager
    async def lifespan(context: ContextRepo) -> AsyncIterator[None]:
        context.set_global("settings", settings)
        if consumers:
            await ensure_streams(settings, {*consumers.values(), subjects.DEAD_LETTER_STREAM})
            await align_consumers(settings.nats, consumers)
        async with AsyncExitStack() as stack:
            maker = sessionmaker
            if maker is None and database:
                engine = create_engine(settings.database, settings.concurrency + BACKGROUND_CONNECTIONS)
                trace_sql(engine, tracer_provider(name))
                stack.push_async_callback(engine.dispose)
                maker = make_sessionmaker(engine)
            context.set_global("sessionmaker", maker)
            for resource, open_resource in (resources or {}).items():
                context.set_global(resource, await stack.enter_async_context(open_resource()))
            if outbox and maker is not None:
                relay = OutboxRelay(autocommit_sessionmaker(maker), name, settings)
                await relay.connect()
                stack.push_async_callback(relay.close)
                task = asyncio.create_task(relay.run(), name=f"{name}-outbox-relay")
                stack.push_async_callback(_cancel, task)
                context.set_global("outbox_relay", relay)
            yield

    app = Service(
        broker,
        host=settings.service_host,
        port=settings.service_port,
        lifespan=lifespan,
        asgi_routes=health_routes(lambda: _readiness(app), lambda: _consumer_metrics(app, consumers or {})),
    )
    jobs: list[asyncio.Task[None]] = []

    @app.after_startup
    async def start_background() -> None:
        jobs.extend(asyncio.create_task(job(app), name=f"{name}-{job.__name__}") for job in background)
        freeze_startup_objects()

    @app.on_shutdown
    async def shut_down() -> None:
        await drain_requests(broker)
        while jobs:
            await _cancel(jobs.pop())
        flush()

    return app


async def _cancel(task: "asyncio.Task[None]") -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _readiness(app: Service) -> str | None:
    """None when this replica can serve: connected to NATS and (if it has one) its database answers."""
    if not await app.nats.ping(timeout=1.0):
        return "NATS not connected"
    maker = app.context.get("sessionmaker")
    if maker is not None:
        try:
            async with maker() as session:
                await asyncio.wait_for(session.execute(text("SELECT 1")), 2.0)
        except Exception as exc:
            return f"database not answering ({type(exc).__name__})"
    return None


async def _consumer_metrics(app: Service, consumers: dict[str, str]) -> None:
    js = app.nats.connection.jetstream()
    for durable, stream in consumers.items():
        info = await js.consumer_info(stream, durable, timeout=2.0)
        CONSUMER_PENDING.labels(durable).set(info.num_pending or 0)
        CONSUMER_ACK_PENDING.labels(durable).set(info.num_ack_pending or 0)
