"""Async engine, sessionmaker and the one-session-per-message dependency.

The unit of work is the message: `get_session` commits when the handler returns and rolls back when it
raises; `get_autocommit_session` runs each statement as its own transaction, for handlers whose statements
stand alone (`Repository.atomic` for writes among them that must land together). Repositories and services
never commit.
"""

import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, ClassVar

from asyncpg import Connection
from faststream import Depends
from sqlalchemy import MetaData, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from ignis.contracts.base import Event
from ignis.kit.context import Context
from ignis.kit.outbox import OutboxRelay, add_event, forget_events, has_new_events

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def schema_metadata(schema: str) -> MetaData:
    """Metadata of one service's own schema; a service never maps another's tables."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


# Connections beyond the handlers' for a service's background jobs (outbox relay, purge, SMS dispatcher,
# readiness checks).
BACKGROUND_CONNECTIONS = 4


def create_engine(url: str, pool_size: int = 20) -> AsyncEngine:
    """No ping per checkout (a round trip on every tool call): a connection Postgres dropped (restart,
    failover) fails its first statement, which SQLAlchemy recognises as a disconnect and answers by
    invalidating the whole pool, so that one unit of work fails (the caller hears `unavailable`, a JetStream
    delivery comes again) and the next ones connect afresh."""
    # hide_parameters keeps patient data out of SQLAlchemy's error text (asyncpg's DETAIL is
    # handled by translating expected errors and by the redacting log formatter).
    return create_async_engine(url, hide_parameters=True, pool_size=pool_size)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_session(
    sessionmaker: async_sessionmaker[AsyncSession] = Context("sessionmaker"),
    relay: OutboxRelay | None = Context("outbox_relay", default=None),
) -> AsyncIterator[AsyncSession]:
    async with _unit_of_work(sessionmaker(), relay) as session:
        yield session


async def get_autocommit_session(
    sessionmaker: async_sessionmaker[AsyncSession] = Context("sessionmaker"),
    relay: OutboxRelay | None = Context("outbox_relay", default=None),
) -> AsyncIterator[AsyncSession]:
    """The unit of work of a handler whose statements each stand alone: each is its own transaction
    (autocommit), which spares the BEGIN and COMMIT round trips (two of a lookup's three). For reads that
    need no single snapshot (a tool's answer is checked again by the writes that act on it: the database
    arbitrates a booking), for a write that is one statement, and for the rare writes that must land
    together inside `Repository.atomic`. A handler that writes more takes `Session`."""
    async with _unit_of_work(autocommit_sessionmaker(sessionmaker)(), relay) as session:  # connects lazily
        yield session


@contextlib.asynccontextmanager
async def _unit_of_work(session: AsyncSession, relay: OutboxRelay | None) -> AsyncIterator[AsyncSession]:
    """Commit when the handler returns, roll back when it raises (both free of round trips in autocommit)."""
    async with session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()
            if relay is not None and has_new_events(session):
                relay.wake.set()  # publish soon rather than at the next poll


_Makers = async_sessionmaker[AsyncSession]
_AUTOCOMMIT: "weakref.WeakKeyDictionary[_Makers, _Makers]" = weakref.WeakKeyDictionary()


def autocommit_sessionmaker(sessionmaker: _Makers) -> _Makers:
    """Sessions whose statements each commit on their own, on the same pool (the engine's autocommit twin,
    made once per sessionmaker): for work whose statements stand alone (`get_autocommit_session`, the outbox
    relay, the SMS planner and sender), without a BEGIN and a COMMIT round trip around each. Tests bind to a
    connection they roll back: theirs stays transactional."""
    bind = sessionmaker.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        return sessionmaker
    if (twin := _AUTOCOMMIT.get(sessionmaker)) is None:
        options = {key: value for key, value in sessionmaker.kw.items() if key != "bind"}
        engine = bind.execution_options(isolation_level="AUTOCOMMIT")
        twin = _AUTOCOMMIT[sessionmaker] = async_sessionmaker(engine, **options)
    return twin


async def fetch(session: AsyncSession, query: str, *args: object) -> list[Any]:
    """The rows (asyncpg `Record`s) of `query` run through the unit of work's own driver connection, for a
    tool call's hottest statements: one indexed read of five rows costs about 0.4 ms of CPU that way against
    0.9 ms through the ORM's `select` (0.6 ms through `text`), and a tool call is a few such statements."""
    return await _through_driver(session, lambda connection: connection.fetch(query, *args))  # type: ignore[no-any-return]


async def fetchrow(session: AsyncSession, query: str, *args: object) -> Any:
    """`fetch`'s first row, or None."""
    return await _through_driver(session, lambda connection: connection.fetchrow(query, *args))


async def _through_driver(session: AsyncSession, statement: Callable[[Connection], Awaitable[Any]]) -> Any:
    connection = await driver(session)
    try:
        return await statement(connection)
    except Exception:
        if connection.is_closed():  # Postgres went away meanwhile: no dead connection goes back to the pool
            with contextlib.suppress(DBAPIError):
                await _disconnected(session)
        raise


async def driver(session: AsyncSession, flush: bool = True) -> Connection:
    """The unit of work's own asyncpg connection, in its transaction (`fetch` runs statements through it).
    Changes the session holds are flushed first (`flush`), as the ORM's autoflush would before a query."""
    if flush and (session.new or session.dirty or session.deleted):
        await session.flush()
    pooled = await (await session.connection()).get_raw_connection()
    adapter: Any = pooled.dbapi_connection  # SQLAlchemy's AsyncAdapt_asyncpg_connection
    connection = pooled.driver_connection
    assert connection is not None  # a checked-out connection
    if connection.is_closed():  # Postgres went away since it was pooled (a restart, a failover)
        await _disconnected(session)
    # SQLAlchemy's asyncpg adapter sends its BEGIN with the first statement it runs itself. One run here must
    # be inside that transaction too (a registration holds the budgets' locks to its end), so begin it now.
    # (Private to SQLAlchemy's adapter: tests/kit/test_db.py fails if that changes.)
    if not adapter.autocommit and adapter._transaction is None:
        async with adapter._execute_mutex:
            if adapter._transaction is None:
                await adapter._start_transaction()
    return connection


async def _disconnected(session: AsyncSession) -> None:
    """SQLAlchemy learns of a connection Postgres dropped only from a statement of its own: it then discards
    the whole pool (its other connections went with the server) and raises, so this unit of work fails, as
    on any disconnect."""
    await session.execute(text("SELECT 1"))


Session = Annotated[AsyncSession, Depends(get_session)]
AutocommitSession = Annotated[AsyncSession, Depends(get_autocommit_session)]
Sessionmaker = Annotated[async_sessionmaker[AsyncSession], Context("sessionmaker")]
"""For handlers that open their own transactions (JetStream consumers settling after commit)."""


class Repository:
    """Base of a service's repository, the one module of a service that runs SQL: it holds the unit of
    work's session, and writes and forgets the events of its schema's outbox."""

    schema: ClassVar[str]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_event(self, subject: str, event: Event) -> None:
        """Record `event` in this unit of work; it is published only if the work commits."""
        await add_event(self.session, self.schema, subject, event)

    @contextlib.asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        """One transaction for writes that must land together (a request and its event), inside a unit of
        work whose statements otherwise stand alone (`AutocommitSession`); a `Session` already is one."""
        connection = await self.session.connection()
        if connection.sync_connection is None or (
            connection.sync_connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT"
        ):
            yield
            return
        raw = await driver(self.session, flush=False)
        async with raw.transaction():  # the driver's BEGIN and COMMIT around the ORM's statements
            yield
            await self.session.flush()

    async def forget_events(self, field: str, value: str) -> int:
        """Delete the outbox rows whose event has `field` = `value` (see `kit.outbox.forget_events`)."""
        return await forget_events(self.session, self.schema, field, value)
