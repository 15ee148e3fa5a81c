"""Conversations at ElevenLabs: which to reconcile into call records, and which to delete there."""

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import select, union, update
from sqlalchemy.dialects.postgresql import insert

from ignis.patients.models import Call, VendorDeletion
from ignis.patients.repository.base import RepositoryBase


class VendorRows(RepositoryBase):
    """Reconciliation with, and deletions at, ElevenLabs."""

    async def conversations_without_call(self, conversation_ids: Sequence[str]) -> list[str]:
        """Of these conversations, those with neither a call record nor a deletion recorded (an erased or
        expired one must not come back), in the order given."""
        if not conversation_ids:
            return []
        known = union(
            select(Call.conversation_id).where(Call.conversation_id.in_(conversation_ids)),
            select(VendorDeletion.conversation_id).where(
                VendorDeletion.conversation_id.in_(conversation_ids)
            ),
        )
        have = set((await self.session.scalars(known)).all())
        return [c for c in dict.fromkeys(conversation_ids) if c not in have]

    async def expired_conversations(self, now: dt.datetime) -> list[str]:
        return list(
            (await self.session.scalars(select(Call.conversation_id).where(Call.retain_until <= now))).all()
        )

    async def record_vendor_deletions(
        self, conversation_ids: Iterable[str], reason: str, now: dt.datetime
    ) -> None:
        rows = [{"conversation_id": c, "reason": reason, "requested_at": now} for c in conversation_ids]
        if rows:
            await self.session.execute(insert(VendorDeletion).values(rows).on_conflict_do_nothing())

    async def pending_vendor_deletions(self, conversation_ids: Sequence[str] | None = None) -> list[str]:
        """Conversations not yet deleted at ElevenLabs (of `conversation_ids`, or all), oldest first."""
        query = select(VendorDeletion.conversation_id).where(VendorDeletion.deleted_at.is_(None))
        if conversation_ids is not None:
            query = query.where(VendorDeletion.conversation_id.in_(conversation_ids))
        return list((await self.session.scalars(query.order_by(VendorDeletion.requested_at))).all())

    async def vendor_deletion_done(self, conversation_id: str, deleted: bool, now: dt.datetime) -> None:
        values: dict[str, object] = {"attempts": VendorDeletion.attempts + 1}
        if deleted:
            values["deleted_at"] = now
        await self.session.execute(
            update(VendorDeletion).where(VendorDeletion.conversation_id == conversation_id).values(**values)
        )
