"""The units of work: a writing handler's statements share one transaction; a reading handler's each run on
their own (no BEGIN and COMMIT round trips), and its connection goes back to the pool as it came."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from asyncpg.exceptions import ConnectionDoesNotExistError
from sqlalchemy import TextClause, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.kit.db import (
    Repository,
    create_engine,
    driver,
    fetch,
    get_autocommit_session,
    get_session,
    make_sessionmaker,
)

XID = text("SELECT pg_current_xact_id()::text")  # assigns a transaction id: one per transaction


async def transactions(unit_of_work: AsyncIterator[AsyncSession]) -> int:
    seen = set()
    async for session in unit_of_work:
        for _ in range(2):
            seen.add(await session.scalar(XID))
    return len(seen)


@pytest.mark.usefixtures("engine")  # the database, migrated
async def test_read_and_write_units_of_work(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)  # one connection, used by each unit of work in turn
    try:
        maker = make_sessionmaker(engine)
        assert await transactions(get_session(maker, None)) == 1
        assert await transactions(get_autocommit_session(maker)) == 2
        assert await transactions(get_session(maker, None)) == 1
        assert engine.pool.checkedin() == 1
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("engine")
async def test_atomic_writes_land_together_in_an_autocommit_unit_of_work(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    async with scratch_table(engine, "test_atomic"):
        insert = text("INSERT INTO public.test_atomic VALUES (:n)")
        async for session in get_autocommit_session(make_sessionmaker(engine), None):
            repo = Repository(session)

            with pytest.raises(RuntimeError):
                await fails_halfway(repo, insert)
            async with repo.atomic():
                await session.execute(insert, {"n": 2})
                await session.execute(insert, {"n": 3})
            await session.execute(insert, {"n": 4})
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT n FROM public.test_atomic ORDER BY n"))).scalars().all()
        assert rows == [2, 3, 4]  # the failed block left nothing; the rest committed


@pytest.mark.usefixtures("engine")
async def test_a_statement_through_the_driver_is_part_of_its_unit_of_work(database_url: str) -> None:
    """A writing unit of work's first statement may run through the driver (a registration's budget check):
    it must be inside the unit of work's transaction, as if SQLAlchemy had run it."""
    engine = create_engine(database_url, pool_size=1)
    try:
        maker = make_sessionmaker(engine)
        async for session in get_session(maker, None):
            first = await (await driver(session)).fetchval("SELECT pg_current_xact_id()::text")
            assert await session.scalar(XID) == first  # one transaction, begun by the driver's statement
        async for session in get_autocommit_session(maker):
            first = await (await driver(session)).fetchval("SELECT pg_current_xact_id()::text")
            assert await session.scalar(XID) != first  # each statement its own transaction
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("engine")
async def test_a_failed_unit_of_work_takes_its_driver_statements_with_it(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    async with scratch_table(engine, "test_driver"):
        maker = make_sessionmaker(engine)
        with pytest.raises(RuntimeError):
            await fails_after_the_driver(get_session(maker, None))
        async for session in get_session(maker, None):
            await session.execute(text("INSERT INTO public.test_driver VALUES (2)"))
            assert await (await driver(session)).fetchval("SELECT count(*) FROM public.test_driver") == 1
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT n FROM public.test_driver"))).scalars().all()
        assert rows == [2]  # the failed unit of work's statement was rolled back with it


@contextlib.asynccontextmanager
async def scratch_table(engine: AsyncEngine, name: str) -> AsyncIterator[None]:
    """An empty table `public.<name> (n int)` for the block, dropped afterwards, and the engine disposed."""
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE TABLE IF NOT EXISTS public.{name} (n int)"))
            await conn.execute(text(f"TRUNCATE public.{name}"))
        yield
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE IF EXISTS public.{name}"))
        await engine.dispose()


@pytest.mark.usefixtures("engine")
async def test_a_connection_postgres_dropped_fails_one_unit_of_work_not_every_one(database_url: str) -> None:
    """Postgres ends the pooled connections (a restart): the next unit of work that uses the driver fails,
    and SQLAlchemy replaces the pool, so the ones after it succeed."""
    engine = create_engine(database_url, pool_size=2)
    try:
        maker = make_sessionmaker(engine)
        pids = set()
        for _ in range(2):
            async for session in get_autocommit_session(maker):
                pids.add(await (await driver(session)).fetchval("SELECT pg_backend_pid()"))
        other = create_engine(database_url, pool_size=1)
        async with other.connect() as conn:
            for pid in pids:
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)")
            while await conn.scalar(alive, {"pids": list(pids)}):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        await other.dispose()
        await asyncio.sleep(0.5)  # the pooled connections hear that they were closed (as after a restart)
        outcomes = [await backend_pid_or_failure(get_autocommit_session(maker)) for _ in range(4)]
        assert outcomes[0] == "failed"
        assert all(isinstance(pid, int) and pid not in pids for pid in outcomes[1:])
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("engine")
async def test_a_statement_cut_off_or_cancelled_leaves_no_broken_connection_in_the_pool(
    database_url: str,
) -> None:
    """Postgres ends the connection during a statement through the driver, or the caller is cancelled
    during one: that unit of work fails, and the next ones get a sound connection."""
    engine = create_engine(database_url, pool_size=1)
    try:
        maker = make_sessionmaker(engine)
        pid = await backend_pid_or_failure(get_autocommit_session(maker))

        async def sleeps() -> None:
            async for session in get_autocommit_session(maker):
                await fetch(session, "SELECT pg_sleep(5)")

        cut_off = asyncio.create_task(sleeps())
        await asyncio.sleep(0.3)
        other = create_engine(database_url, pool_size=1)
        async with other.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await other.dispose()
        with pytest.raises(ConnectionDoesNotExistError):
            await cut_off
        after = [await backend_pid_or_failure(get_autocommit_session(maker)) for _ in range(3)]
        assert all(isinstance(p, int) for p in after)
        assert len(set(after)) == 1  # one new connection, kept in the pool

        cancelled = asyncio.create_task(sleeps())
        await asyncio.sleep(0.3)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        again = await backend_pid_or_failure(get_autocommit_session(maker))
        assert isinstance(again, int)
        assert again != after[0]  # the interrupted connection was discarded
    finally:
        await engine.dispose()


async def backend_pid_or_failure(unit_of_work: AsyncIterator[AsyncSession]) -> int | str:
    """The backend of the unit of work's connection, or "failed"; the unit of work runs to its end."""
    pid: int | str = "failed"
    try:
        async for session in unit_of_work:
            pid = int((await fetch(session, "SELECT pg_backend_pid()"))[0][0])
    except DBAPIError:
        return "failed"
    return pid


async def fails_after_the_driver(unit_of_work: AsyncIterator[AsyncSession]) -> None:
    async for session in unit_of_work:
        await (await driver(session)).execute("INSERT INTO public.test_driver VALUES (1)")
        raise RuntimeError("the handler failed")


async def fails_halfway(repo: Repository, insert: TextClause) -> None:
    async with repo.atomic():
        await repo.session.execute(insert, {"n": 1})
        raise RuntimeError("the second write failed")
