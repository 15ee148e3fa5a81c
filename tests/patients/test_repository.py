"""Repository against real Postgres, each test in a transaction that is rolled back."""

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from asyncpg.connection import LoggedQuery
from sqlalchemy import delete, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.kit.clock import utcnow
from ignis.kit.db import driver
from ignis.patients.models import Patient
from ignis.patients.repository import PatientRepository
from tests.factories import GROSS, MUELLER, patient


@contextlib.asynccontextmanager
async def statements_run(session: AsyncSession) -> AsyncIterator[list[str]]:
    """The statements the session runs meanwhile, through SQLAlchemy or the driver (`kit.db.driver`)."""
    statements: list[str] = []
    connection = (await session.connection()).sync_connection
    assert connection is not None
    raw = await driver(session)

    def through_sqlalchemy(*args: Any) -> None:
        statements.append(args[2])

    def through_driver(query: LoggedQuery) -> None:
        statements.append(query.query)

    event.listen(connection, "before_cursor_execute", through_sqlalchemy)
    raw.add_query_logger(through_driver)
    try:
        yield statements
        await asyncio.sleep(0)  # the driver calls its loggers soon after each statement
    finally:
        event.remove(connection, "before_cursor_execute", through_sqlalchemy)
        raw.remove_query_logger(through_driver)


class TestByBirthDate:
    async def test_returns_only_that_day(self, session: AsyncSession) -> None:
        repo = PatientRepository(session)
        anna = await repo.add(patient(MUELLER))
        await repo.add(patient(GROSS))
        assert [p.id for p in await repo.by_birth_date(MUELLER.birth_date)] == [anna.id]
        assert await repo.by_birth_date(dt.date(1900, 1, 1)) == []

    async def test_the_candidates_are_whole_patients_read_in_one_statement(
        self, session: AsyncSession
    ) -> None:
        repo = PatientRepository(session)
        anna = await repo.add(patient(MUELLER))
        expected = {column: getattr(anna, column) for column in Patient.__table__.columns.keys()}  # noqa: SIM118
        async with statements_run(session) as statements:
            found = await repo.by_birth_date(MUELLER.birth_date)
        assert [{column: getattr(p, column) for column in expected} for p in found] == [expected]
        assert len(statements) == 1


class TestIssueRef:
    async def test_same_conversation_and_patient_keep_their_ref(self, session: AsyncSession) -> None:
        repo = PatientRepository(session)
        anna = await repo.add(patient(MUELLER))
        first = await repo.issue_ref("conv-1", anna.id, "pr_first", utcnow() + dt.timedelta(hours=1))
        again = await repo.issue_ref("conv-1", anna.id, "pr_second", utcnow() + dt.timedelta(hours=2))
        other = await repo.issue_ref("conv-2", anna.id, "pr_third", utcnow() + dt.timedelta(hours=1))
        assert (first, again, other) == ("pr_first", "pr_first", "pr_third")
        verification = await repo.verification("pr_first")
        assert verification is not None
        assert verification.expires_at > utcnow() + dt.timedelta(minutes=90)


class TestVerifiedPatient:
    """What resolving a ref reads: every scheduler tool call with a ref asks it, so it is one statement."""

    async def test_the_ref_and_its_patient_in_one_statement(self, session: AsyncSession) -> None:
        repo = PatientRepository(session)
        anna = await repo.add(patient(MUELLER))
        await repo.issue_ref("conv-1", anna.id, "pr_anna", utcnow() + dt.timedelta(hours=1))
        session.expunge_all()  # nothing answered from the session's identity map
        async with statements_run(session) as statements:
            found = await repo.verified_patient("pr_anna")
        assert found is not None
        verification, who = found
        assert (verification.conversation_id, who is not None and who.id) == ("conv-1", anna.id)
        assert len(statements) == 1
        assert await repo.verified_patient("pr_guessed") is None

    async def test_a_patient_erased_since_is_none(self, session: AsyncSession) -> None:
        repo = PatientRepository(session)
        anna = await repo.add(patient(MUELLER))
        await repo.issue_ref("conv-1", anna.id, "pr_anna", utcnow() + dt.timedelta(hours=1))
        await session.execute(delete(Patient).where(Patient.id == anna.id))
        session.expunge_all()
        found = await repo.verified_patient("pr_anna")
        assert found is not None
        assert (found[0].patient_id, found[1]) == (anna.id, None)


class TestRollback:
    """The unit of work: nothing a test's session wrote survives it (Cosmic Python's UoW tests)."""

    async def test_rolls_back_uncommitted_work(self, engine: AsyncEngine) -> None:
        async with AsyncSession(engine) as session:
            await PatientRepository(session).add(patient(MUELLER))
        async with AsyncSession(engine) as session:
            assert await PatientRepository(session).count() == 0
