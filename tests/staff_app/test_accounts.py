"""Accounts of the staff app against real Postgres: set-up links, argon2, lock-out, session expiry."""

import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from ignis.staff_app import accounts
from ignis.staff_app.accounts import Policy, Role, SignInRefused
from ignis.staff_app.repository import StaffRepository

NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
POLICY = Policy(
    session_idle=dt.timedelta(minutes=30),
    session_max=dt.timedelta(hours=8),
    lockout_failures=3,
    lockout=dt.timedelta(minutes=15),
    setup_valid=dt.timedelta(hours=72),
)


@pytest.fixture
def repo(session: AsyncSession) -> StaffRepository:
    return StaffRepository(session)


async def ready_account(repo: StaffRepository, name: str = "Sabine", password: str = "richtig-1234") -> None:
    _, token = await accounts.add_account(repo, name, Role.staff, NOW, POLICY)
    assert await accounts.set_password(repo, token, password, NOW) is not None


class TestSetUp:
    async def test_the_link_sets_a_password_once_keeping_hashes_only(self, repo: StaffRepository) -> None:
        account, token = await accounts.add_account(repo, "Sabine", Role.admin, NOW, POLICY)
        assert account.setup_token_hash != token
        assert token not in (account.setup_token_hash or "")
        assert await accounts.set_password(repo, token, "richtig-1234", NOW) is not None
        assert account.password_hash is not None
        assert account.password_hash.startswith("$argon2id$")
        assert "richtig-1234" not in account.password_hash
        assert await accounts.set_password(repo, token, "noch-ein-anderes", NOW) is None  # spent

    async def test_an_expired_link_is_refused(self, repo: StaffRepository) -> None:
        _, token = await accounts.add_account(repo, "Tom", Role.staff, NOW, POLICY)
        assert await accounts.account_to_set_up(repo, token, NOW + dt.timedelta(hours=73)) is None

    async def test_names_are_unique_regardless_of_case(self, repo: StaffRepository) -> None:
        await accounts.add_account(repo, "Sabine", Role.staff, NOW, POLICY)
        with pytest.raises(accounts.AccountExists):
            await accounts.add_account(repo, "sabine", Role.staff, NOW, POLICY)


class TestSignIn:
    async def test_only_the_right_name_and_password_sign_in(self, repo: StaffRepository) -> None:
        await ready_account(repo)
        assert (await accounts.sign_in(repo, "sabine", "richtig-1234", NOW, POLICY)).name == "Sabine"
        for name, password in (("Sabine", "falsch-falsch"), ("Niemand", "richtig-1234")):
            with pytest.raises(SignInRefused) as refused:
                await accounts.sign_in(repo, name, password, NOW, POLICY)
            assert not refused.value.locked

    async def test_repeated_failures_lock_the_account_for_a_while(self, repo: StaffRepository) -> None:
        await ready_account(repo)
        for _ in range(POLICY.lockout_failures):
            with pytest.raises(SignInRefused):
                await accounts.sign_in(repo, "Sabine", "falsch-falsch", NOW, POLICY)
        with pytest.raises(SignInRefused) as refused:  # even the right password, while locked
            await accounts.sign_in(repo, "Sabine", "richtig-1234", NOW + dt.timedelta(minutes=14), POLICY)
        assert refused.value.locked
        later = NOW + dt.timedelta(minutes=16)
        assert await accounts.sign_in(repo, "Sabine", "richtig-1234", later, POLICY)


class TestSessions:
    async def test_a_session_ends_when_idle_too_long_or_too_old(self, repo: StaffRepository) -> None:
        await ready_account(repo)
        account = await accounts.sign_in(repo, "Sabine", "richtig-1234", NOW, POLICY)
        token, _ = await accounts.open_session(repo, account, NOW, POLICY)
        step = dt.timedelta(minutes=29)
        moment = NOW
        while moment + step < NOW + POLICY.session_max:  # kept alive by use, until its maximum age
            moment += step
            assert await accounts.current_session(repo, token, moment, POLICY) is not None
        assert await accounts.current_session(repo, token, NOW + POLICY.session_max, POLICY) is None

        token, _ = await accounts.open_session(repo, account, NOW, POLICY)
        assert await accounts.current_session(repo, token, NOW + dt.timedelta(minutes=31), POLICY) is None
        assert await accounts.current_session(repo, token, NOW + dt.timedelta(minutes=1), POLICY) is None

    async def test_signing_out_ends_the_session(self, repo: StaffRepository) -> None:
        await ready_account(repo)
        account = await accounts.sign_in(repo, "Sabine", "richtig-1234", NOW, POLICY)
        token, _ = await accounts.open_session(repo, account, NOW, POLICY)
        await accounts.sign_out(repo, token)
        assert await accounts.current_session(repo, token, NOW, POLICY) is None
