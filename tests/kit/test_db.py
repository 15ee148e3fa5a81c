"""The units of work: a writing handler's statements share one transaction; a reading handler's each run on
their own (no BEGIN and COMMIT round trips), and its connection goes back to the pool as it came."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ignis.kit.db import create_engine, get_read_session, get_session, make_sessionmaker

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
        assert await transactions(get_read_session(maker)) == 2
        assert await transactions(get_session(maker, None)) == 1
        assert engine.pool.checkedin() == 1
    finally:
        await engine.dispose()
