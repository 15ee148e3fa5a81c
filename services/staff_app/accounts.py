"""Personal accounts of the practice team: set-up links, argon2 passwords, lock-out, sessions, audit.

Only hashes of secrets are stored: argon2id for passwords (memory-hard, argon2-cffi's defaults), SHA-256
for the random set-up and session tokens (they carry 256 bits of entropy; a fast hash is enough there).
"""

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ignis.staff_app.models import Account, AuditEntry, Session
from ignis.staff_app.repository import StaffRepository

MIN_PASSWORD_LENGTH = 10
_HASHER = PasswordHasher()
# Verified against when the name is unknown, so that a wrong name takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class Role(StrEnum):
    staff = "staff"
    admin = "admin"


@dataclass(frozen=True)
class Policy:
    session_idle: dt.timedelta
    session_max: dt.timedelta
    lockout_failures: int
    lockout: dt.timedelta
    setup_valid: dt.timedelta


class AccountExists(Exception):
    """An account of that name exists already (names are unique regardless of case)."""


class SignInRefused(Exception):
    """Wrong name or password, or the account is locked; the page says the same for both (no oracle)."""

    def __init__(self, locked: bool) -> None:
        super().__init__("locked" if locked else "wrong")
        self.locked = locked


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def add_account(
    repo: StaffRepository, name: str, role: Role, now: dt.datetime, policy: Policy
) -> tuple[Account, str]:
    """A new account without a password, and its one-time set-up token (shown once, stored hashed)."""
    if await repo.account_named(name) is not None:
        raise AccountExists(name)
    token = secrets.token_urlsafe(32)
    account = Account(
        id=uuid.uuid4(),
        name=name,
        role=role.value,
        setup_token_hash=digest(token),
        setup_expires_at=now + policy.setup_valid,
        failed_attempts=0,
        created_at=now,
    )
    await repo.add_account(account)
    return account, token


async def account_to_set_up(repo: StaffRepository, token: str, now: dt.datetime) -> Account | None:
    account = await repo.account_by_setup_token(digest(token))
    if account is None or account.setup_expires_at is None or account.setup_expires_at <= now:
        return None
    return account


async def set_password(repo: StaffRepository, token: str, password: str, now: dt.datetime) -> Account | None:
    """Use a set-up link: the password is set, the link is spent, earlier sessions end. None: link invalid."""
    account = await account_to_set_up(repo, token, now)
    if account is None:
        return None
    account.password_hash = _HASHER.hash(password)
    account.setup_token_hash = None
    account.setup_expires_at = None
    account.failed_attempts = 0
    account.locked_until = None
    await repo.delete_sessions_of(account.id)
    return account


async def sign_in(
    repo: StaffRepository, name: str, password: str, now: dt.datetime, policy: Policy
) -> Account:
    account = await repo.account_named(name)
    if account is None or account.password_hash is None:
        _verify(_DUMMY_HASH, password)
        raise SignInRefused(locked=False)
    if account.locked_until is not None and account.locked_until > now:
        raise SignInRefused(locked=True)
    if not _verify(account.password_hash, password):
        account.failed_attempts += 1
        if account.failed_attempts >= policy.lockout_failures:
            account.locked_until = now + policy.lockout
            account.failed_attempts = 0
        raise SignInRefused(locked=account.locked_until is not None and account.locked_until > now)
    account.failed_attempts = 0
    account.locked_until = None
    if _HASHER.check_needs_rehash(account.password_hash):
        account.password_hash = _HASHER.hash(password)
    return account


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def open_session(
    repo: StaffRepository, account: Account, now: dt.datetime, policy: Policy
) -> tuple[str, Session]:
    """A new session for a signed-in account: the cookie's token (returned once) and its row."""
    await repo.delete_expired_sessions(now)
    token = secrets.token_urlsafe(32)
    session = Session(
        token_hash=digest(token),
        account_id=account.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.session_max,
    )
    await repo.add_session(session)
    return token, session


async def current_session(
    repo: StaffRepository, token: str, now: dt.datetime, policy: Policy
) -> tuple[Session, Account] | None:
    """The live session of a cookie's token (its idle time renewed), or None if absent, idle or expired."""
    found = await repo.session_with_account(digest(token))
    if found is None:
        return None
    session, account = found
    if session.expires_at <= now or session.last_seen_at + policy.session_idle <= now:
        await repo.delete_session(session.token_hash)
        return None
    await repo.touch_session(session.token_hash, now)
    return session, account


async def sign_out(repo: StaffRepository, token: str) -> None:
    await repo.delete_session(digest(token))


async def record(
    repo: StaffRepository,
    account: Account,
    action: str,
    now: dt.datetime,
    patient_id: uuid.UUID | str | None = None,
    target: str | None = None,
) -> None:
    """One line of the audit trail: who, when, what (the kind of action and ids, never the content)."""
    await repo.add_audit(
        AuditEntry(
            at=now,
            account_id=account.id,
            account_name=account.name,
            action=action,
            patient_id=uuid.UUID(str(patient_id)) if patient_id else None,
            target=target,
        )
    )
