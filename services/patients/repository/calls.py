"""Call records: one per conversation, for staff's call list."""

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert

from ignis.patients.models import Call, Patient
from ignis.patients.repository.base import RepositoryBase


class CallRows(RepositoryBase):
    """Call records."""

    async def add_call(self, call: Call) -> bool:
        """Store a call record once; a redelivered event for the same conversation changes nothing, but a
        transcription replaces the record of an initiation failure (whichever came first). Whether it
        wrote."""
        columns = [c.key for c in Call.__table__.columns if c.key not in ("conversation_id", "received_at")]
        statement = insert(Call).values(
            conversation_id=call.conversation_id, **{key: getattr(call, key) for key in columns}
        )
        statement = statement.on_conflict_do_update(
            index_elements=[Call.conversation_id],
            set_={key: statement.excluded[key] for key in columns},
            where=(Call.kind == "call_initiation_failure")
            & (statement.excluded.kind == "post_call_transcription"),
        )
        result = await self.session.execute(statement.returning(Call.conversation_id))
        return result.scalar_one_or_none() is not None

    async def get_call(self, conversation_id: str) -> Call | None:
        return await self.session.get(Call, conversation_id)

    async def recent_calls(
        self, limit: int, before: tuple[dt.datetime, str] | None
    ) -> Sequence[tuple[Call, Patient | None]]:
        """Newest first, after the keyset `before` (received_at, conversation_id) of the previous page."""
        query = select(Call)
        if before is not None:
            query = query.where(tuple_(Call.received_at, Call.conversation_id) < tuple_(*before))
        query = query.order_by(Call.received_at.desc(), Call.conversation_id.desc()).limit(limit)
        calls = (await self.session.scalars(query)).all()
        patients = await self._patients(call.patient_id for call in calls)
        return [(call, patients.get(call.patient_id) if call.patient_id else None) for call in calls]
