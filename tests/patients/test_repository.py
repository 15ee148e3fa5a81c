"""Repository against real Postgres, each test in a transaction that is rolled back."""

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.kit.clock import utcnow
from ignis.patients.repository import PatientRepository
from tests.factories import GROSS, MUELLER, patient


class TestByBirthDate:
    async def test_returns_only_that_day(self, session: AsyncSession) -> None:
        repo = PatientRepository(session)
        anna = await repo.add(patient(MUELLER))
        await repo.add(patient(GROSS))
        assert [p.id for p in await repo.by_birth_date(MUELLER.birth_date)] == [anna.id]
        assert await repo.by_birth_date(dt.date(1900, 1, 1)) == []


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


class TestRollback:
    """The unit of work: nothing a test's session wrote survives it (Cosmic Python's UoW tests)."""

    async def test_rolls_back_uncommitted_work(self, engine: AsyncEngine) -> None:
        async with AsyncSession(engine) as session:
            await PatientRepository(session).add(patient(MUELLER))
        async with AsyncSession(engine) as session:
            assert await PatientRepository(session).count() == 0
