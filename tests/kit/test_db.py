"""The units of work: a writing handler's statements share one transaction; a reading handler's each run on
their own (no BEGIN and COMMIT round trips), and its connection goes back to the pool as it came."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from ignis.kit.db import Repository, create_engine, get_autocommit_session, get_session, make_sessionmaker

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
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE IF NOT EXISTS public.test_atomic (n int)"))
            await conn.execute(text("TRUNCATE public.test_atomic"))
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
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE IF EXISTS public.test_atomic"))
        await engine.dispose()


async def fails_halfway(repo: Repository, insert: TextClause) -> None:
    async with repo.atomic():
        await repo.session.execute(insert, {"n": 1})
        raise RuntimeError("the second write failed")
