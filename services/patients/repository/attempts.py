"""Identification attempts and the budgets they count against, and staff's unlocks of them."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, delete, select, text
from sqlalchemy.dialects.postgresql import insert

from ignis.patients.models import IdentityAttempt, IdentityUnlock
from ignis.patients.repository.base import RepositoryBase

# Set in a unit of work (`session.info`) whose commit does not wait for the WAL flush.
_RELAXED = "ignis.patients.commit_relaxed"


@dataclass
class BudgetUsage:
    """Attempts counted against each identification budget within the window."""

    conversation: int = 0
    registrations: int = 0
    caller: int = 0
    names: dict[str, int] = field(default_factory=dict)


class AttemptRows(RepositoryBase):
    """Identification attempts, budgets and unlocks."""

    async def lock_budgets(self, keys: Sequence[int], durable: bool = True) -> None:
        """Serialise every attempt that shares a budget (taken in the given, sorted order: no deadlock), so
        concurrent guesses are counted one after another and cannot exceed it.

        `durable=False`: the transaction commits without waiting for its WAL to reach the disk (until
        `add_attempt` makes it durable again), so an identification that only issues a ref does not hold the
        budgets' locks through a disk flush. Postgres stays consistent; a crash of Postgres in that moment
        loses the ref, and the caller is asked again. A counted attempt is never committed that way."""
        relax = "" if durable else ", set_config('synchronous_commit', 'off', true)"
        await self.session.execute(
            text(f"SELECT count(pg_advisory_xact_lock(k)){relax} FROM unnest(CAST(:keys AS bigint[])) AS k"),
            {"keys": list(keys)},
        )
        self.session.info[_RELAXED] = not durable

    async def budget_usage(
        self, conversation_id: str, caller_key: str, name_codes: Sequence[str], since: dt.datetime
    ) -> BudgetUsage:
        """What the conversation, the caller number and each name code have used since `since` (and since
        staff last unlocked it), in one round trip."""
        rows = (
            await self.session.execute(
                text(
                    """
            SELECT 'conversation', '', count(*), count(*) FILTER (WHERE kind = 'registered')
              FROM patients.identity_attempt WHERE conversation_id = :conversation AND attempted_at > :since
            UNION ALL
            SELECT 'caller', :caller, count(*), 0 FROM patients.identity_attempt
             WHERE caller_key = :caller AND attempted_at > greatest(:since, (
                   SELECT unlocked_at FROM patients.identity_unlock WHERE scope = 'caller' AND key = :caller))
            UNION ALL
            SELECT 'name', code, count(a.id), 0 FROM unnest(CAST(:codes AS text[])) AS code
              LEFT JOIN patients.identity_attempt a ON code = ANY(a.name_codes) AND a.attempted_at > greatest(
                   :since, (SELECT unlocked_at FROM patients.identity_unlock u
                             WHERE u.scope = 'name' AND u.key = code))
             GROUP BY code
            """
                ),
                {
                    "conversation": conversation_id,
                    "caller": caller_key,
                    "codes": list(name_codes),
                    "since": since,
                },
            )
        ).all()
        usage = BudgetUsage()
        for scope, key, count, registered in rows:
            if scope == "conversation":
                usage.conversation, usage.registrations = int(count), int(registered)
            elif scope == "caller":
                usage.caller = int(count)
            else:
                usage.names[key] = int(count)
        return usage

    async def add_attempt(self, attempt: IdentityAttempt) -> None:
        if self.session.info.pop(_RELAXED, False):  # a counted attempt waits for the disk again
            await self.session.execute(text("RESET synchronous_commit"))
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
