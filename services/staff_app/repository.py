"""The only module of the staff app that runs SQL (schema `staff_app`); it never commits."""

import datetime as dt
import uuid

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ignis.staff_app.models import Account, AuditEntry, Session


class StaffRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_account(self, account: Account) -> None:
        self.session.add(account)
        await self.session.flush()

    async def account_named(self, name: str) -> Account | None:
        found: Account | None = await self.session.scalar(
            select(Account).where(func.lower(Account.name) == name.lower())
        )
        return found

    async def account(self, account_id: uuid.UUID) -> Account | None:
        return await self.session.get(Account, account_id)

    async def account_by_setup_token(self, token_hash: str) -> Account | None:
        found: Account | None = await self.session.scalar(
            select(Account).where(Account.setup_token_hash == token_hash)
        )
        return found

    async def accounts(self) -> list[Account]:
        return list(await self.session.scalars(select(Account).order_by(Account.name)))

    async def add_session(self, session: Session) -> None:
        self.session.add(session)
        await self.session.flush()

    async def session_with_account(self, token_hash: str) -> tuple[Session, Account] | None:
        row = (
            await self.session.execute(
                select(Session, Account)
                .join(Account, Account.id == Session.account_id)
                .where(Session.token_hash == token_hash)
            )
        ).first()
        return (row[0], row[1]) if row else None

    async def touch_session(self, token_hash: str, now: dt.datetime) -> None:
        await self.session.execute(
            update(Session).where(Session.token_hash == token_hash).values(last_seen_at=now)
        )

    async def delete_session(self, token_hash: str) -> None:
        await self.session.execute(delete(Session).where(Session.token_hash == token_hash))

    async def delete_sessions_of(self, account_id: uuid.UUID) -> None:
        await self.session.execute(delete(Session).where(Session.account_id == account_id))

    async def delete_expired_sessions(self, now: dt.datetime) -> None:
        await self.session.execute(delete(Session).where(Session.expires_at <= now))

    async def add_audit(self, entry: AuditEntry) -> None:
        self.session.add(entry)
        await self.session.flush()

    async def audit_of_patient(self, patient_id: uuid.UUID, limit: int = 500) -> list[AuditEntry]:
        return list(
            await self.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.patient_id == patient_id)
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(limit)
            )
        )
