"""Identification attempts and the budgets they count against, and staff's unlocks of them."""

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, delete, select, text
from sqlalchemy.dialects.postgresql import insert

from ignis.kit.db import fetchrow
from ignis.patients.models import IdentityAttempt, IdentityUnlock
from ignis.patients.repository.base import RepositoryBase


@dataclass
class BudgetUsage:
    """Attempts counted against each identification budget within the window."""

    conversation: int = 0
    registrations: int = 0
    caller: int = 0
    names: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Identification:
    """What the budgets had used before this attempt; `locked`: one was used up, so nothing was written;
    `locked_after`: the next failed attempt will be refused; `patient_ref`: the ref issued."""

    usage: BudgetUsage
    locked: bool
    locked_after: bool
    patient_ref: str | None


_IDENTIFICATION = "SELECT * FROM patients.identification($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"


class AttemptRows(RepositoryBase):
    """Identification attempts, budgets and unlocks."""

    async def identification(
        self,
        lock_keys: Sequence[int],
        conversation_id: str,
        caller_key: str,
        name_codes: Sequence[str],
        since: dt.datetime,
        limits: tuple[int, int, int],
        now: dt.datetime,
        issue: tuple[uuid.UUID, str, dt.datetime] | None = None,
        failed_name: str | None = None,
    ) -> Identification:
        """The budgets' check and its consequence in one statement (migration 0011): take the budgets'
        locks (sorted: no deadlock) so concurrent guesses are counted one after another, read what each
        budget has used since `since` (and since staff last unlocked it), and, when none is used up (the
        `limits` of the conversation, the caller number and each name code), issue the ref of `issue`
        (patient id, candidate ref, expiry) or count a failed attempt of `failed_name`."""
        patient_id, ref, expires_at = issue or (None, None, None)
        row = await fetchrow(  # every identify: through the driver
            self.session,
            _IDENTIFICATION,
            sorted(lock_keys),
            conversation_id,
            caller_key,
            list(name_codes),
            since,
            list(limits),
            now,
            patient_id,
            ref,
            expires_at,
            failed_name,
        )
        usage = BudgetUsage(
            conversation=row["used_conversation"],
            registrations=row["used_registrations"],
            caller=row["used_caller"],
            names=dict(zip(row["used_codes"] or [], row["used_names"] or [], strict=True)),
        )
        return Identification(usage, row["locked"], row["locked_after"], row["patient_ref"])

    async def add_attempt(self, attempt: IdentityAttempt) -> None:
        self.session.add(attempt)
        await self.session.flush()

    async def registered_in(self, conversation_id: str, name_said: str) -> bool:
        """Whether this conversation registered a new patient of this (normalised) last name."""
        query = select(IdentityAttempt.id).where(
            IdentityAttempt.conversation_id == conversation_id,
            IdentityAttempt.kind == "registered",
            IdentityAttempt.name_said == name_said,
        )
        return await self.session.scalar(query.limit(1)) is not None

    async def budget_locks(
        self, since: dt.datetime, caller_limit: int, name_limit: int
    ) -> Sequence[Row[Any]]:
        """Callers and name codes at or over their limit: (scope, key, failures, names said, and the time of
        the attempt whose leaving the window lifts the lock)."""
        return (
            await self.session.execute(
                text(
                    """
            SELECT 'caller' AS scope, a.caller_key AS key, count(*) AS failures,
                   array_agg(DISTINCT a.name_said) AS names,
                   (array_agg(a.attempted_at ORDER BY a.attempted_at))[count(*) - :caller_limit + 1]
                   AS lifting
              FROM patients.identity_attempt a
              LEFT JOIN patients.identity_unlock u ON u.scope = 'caller' AND u.key = a.caller_key
             WHERE a.attempted_at > greatest(:since, u.unlocked_at)
             GROUP BY a.caller_key HAVING count(*) >= :caller_limit
            UNION ALL
            SELECT 'name', code, count(*), array_agg(DISTINCT a.name_said),
                   (array_agg(a.attempted_at ORDER BY a.attempted_at))[count(*) - :name_limit + 1]
              FROM patients.identity_attempt a CROSS JOIN unnest(a.name_codes) AS code
              LEFT JOIN patients.identity_unlock u ON u.scope = 'name' AND u.key = code
             WHERE a.attempted_at > greatest(:since, u.unlocked_at)
             GROUP BY code HAVING count(*) >= :name_limit
             ORDER BY scope, key
            """
                ),
                {"since": since, "caller_limit": caller_limit, "name_limit": name_limit},
            )
        ).all()

    async def unlock(self, scope: str, key: str, now: dt.datetime) -> None:
        statement = (
            insert(IdentityUnlock)
            .values(scope=scope, key=key, unlocked_at=now)
            .on_conflict_do_update(
                index_elements=[IdentityUnlock.scope, IdentityUnlock.key], set_={"unlocked_at": now}
            )
        )
        await self.session.execute(statement)

    async def purge_attempts(self, before: dt.datetime) -> int:
        """Attempts and unlocks older than the budget window count for nothing: delete them."""
        statement = delete(IdentityAttempt).where(IdentityAttempt.attempted_at <= before)
        result = await self.session.execute(statement)
        await self.session.execute(delete(IdentityUnlock).where(IdentityUnlock.unlocked_at <= before))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
