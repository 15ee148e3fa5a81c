"""The only module of the notifier that runs SQL. It flushes, never commits."""

import datetime as dt
import functools
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal_column,
    not_,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import aliased
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.selectable import Select, TableValuedAlias
from sqlalchemy.types import TypeEngine

from ignis.contracts.notifications import MessageStatus
from ignis.kit.db import Repository
from ignis.notifier.models import SCHEMA, Appointment, Message, StaffAlert

Status = MessageStatus
_MESSAGE: Table = Message.__table__  # type: ignore[assignment]
_APPOINTMENT: Table = Appointment.__table__  # type: ignore[assignment]
_APPOINTMENT_COLUMNS = tuple(column.name for column in _APPOINTMENT.c)
# The columns a planned message sets (`save_and_record`); the others take their defaults.
PLANNED = (
    "idempotency_key",
    "event_id",
    "template",
    "appointment_id",
    "patient_id",
    "practitioner_id",
    "start_at",
    "previous_start_at",
    "status",
    "reason",
    "due_at",
    "finished_at",
)
# The statuses a sender holding a message's claim may move it on from.
_HELD = (Status.claimed, Status.sending, Status.unknown)


class NotifierRepository(Repository):
    schema = SCHEMA

    async def current_appointments(self, appointment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        """Of these appointments, those not cancelled, with the id of the event that last set them."""
        rows = await self.session.execute(
            select(Appointment.id, Appointment.event_id).where(
                Appointment.id.in_(appointment_ids), Appointment.cancelled.is_(False)
            )
        )
        return dict(rows.all())

    async def save_and_record(
        self, states: Sequence[dict[str, Any]], messages: Sequence[dict[str, Any]]
    ) -> dict[uuid.UUID, bool]:
        """Keep each appointment's state from an event unless a newer version is known, and record the
        messages that outcome calls for, in one statement (one round trip, a transaction of its own in
        autocommit). Returns the appointments kept (the same event again counts as kept), each with whether
        it was new.

        Keeping is atomic: concurrent events of one appointment cannot both win, whichever commits first.
        Each message has `when_kept`: recorded if its appointment was kept (True), if it was not (False), or
        either way (None). A message is recorded unless its idempotency key exists. Each appointment at most
        once (a row cannot be updated twice by one statement); each state sets every column of the
        appointment, each message the columns of `PLANNED`."""
        if not states and not messages:
            return {}
        values = {
            f"state_{column}": [state[column] for state in states] for column in _APPOINTMENT_COLUMNS
        } | {f"planned_{column}": [message[column] for message in messages] for column in PLANNED}
        values["planned_id"] = [uuid.uuid4() for _ in messages]
        values["planned_when_kept"] = [message["when_kept"] for message in messages]
        result = await self.session.execute(_record_statement(), values)
        return dict(result.all())

    async def add_staff_alert(self, request_id: str, now: dt.datetime) -> bool:
        """Record the alert of a request before it is sent, unless it exists; whether it was new."""
        result = await self.session.execute(
            insert(StaffAlert)
            .values(request_id=request_id, created_at=now, status="sending")
            .on_conflict_do_nothing(index_elements=[StaffAlert.request_id])
            .returning(StaffAlert.request_id)
        )
        return result.scalar() is not None

    async def finish_staff_alert(self, request_id: str, status: str, reason: str | None) -> None:
        await self.session.execute(
            update(StaffAlert).where(StaffAlert.request_id == request_id).values(status=status, reason=reason)
        )

    async def withdraw_reminders_of(self, withdrawals: Sequence[tuple[uuid.UUID, uuid.UUID, str]]) -> int:
        """Withdraw the pending reminders of each (appointment, keep_event, reason) but the one planned by
        its `keep_event`, in one statement; only while `keep_event` is the appointment's latest, so that a
        withdrawal made in a transaction of its own (after `save_and_record` committed) never withdraws the
        reminder of a newer event committed meanwhile."""
        if not withdrawals:
            return 0
        appointment_ids, keep_events, reasons = zip(*withdrawals, strict=True)
        given = _rows(
            "withdrawn",
            appointment_id=(_MESSAGE.c.appointment_id.type, appointment_ids),
            keep_event=(_MESSAGE.c.event_id.type, keep_events),
            reason=(_MESSAGE.c.reason.type, reasons),
        )
        result = await self.session.execute(
            update(_MESSAGE)
            .where(
                _MESSAGE.c.appointment_id == given.c.appointment_id,
                _APPOINTMENT.c.id == given.c.appointment_id,
                _APPOINTMENT.c.event_id == given.c.keep_event,
                _MESSAGE.c.template == "reminder",
                _MESSAGE.c.status == Status.pending,
                _MESSAGE.c.event_id != given.c.keep_event,
            )
            .values(status=Status.withdrawn, reason=given.c.reason)
        )
        return result.rowcount  # type: ignore[attr-defined, no-any-return]

    async def claim_due(self, now: dt.datetime, limit: int, claim: uuid.UUID) -> Sequence[Message]:
        """Take up to `limit` due messages for this sender; other senders skip them (SKIP LOCKED). Of a
        patient's messages, one at a time, in the order they were planned (`_claim_statement`)."""
        result = await self.session.scalars(
            _claim_statement(limit),
            {"now": now, "claim": claim},
            execution_options={"synchronize_session": False},
        )
        return result.all()

    async def finish(self, message_id: uuid.UUID, holder: uuid.UUID, **fields: Any) -> bool:
        """Move a message this sender holds on; False if it lost the claim (it was recovered meanwhile)."""
        result = await self.session.execute(
            update(Message)
            .where(
                Message.id == message_id,
                Message.claim == holder,
                Message.status.in_(_HELD),
            )
            .values(**fields)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def finish_many(
        self, holder: uuid.UUID, steps: Sequence[tuple[uuid.UUID, dict[str, Any]]]
    ) -> set[uuid.UUID]:
        """`finish` for several messages: one statement for each set of fields written (its values per
        message), landing together (`atomic`, when they are more than one); the ids of those this sender
        still held."""
        groups: dict[tuple[str, ...], list[tuple[uuid.UUID, dict[str, Any]]]] = {}
        for message_id, fields in steps:
            groups.setdefault(tuple(sorted(fields)), []).append((message_id, fields))
        if len(groups) > 1:
            async with self.atomic():
                return await self._finish_groups(holder, groups)
        return await self._finish_groups(holder, groups)

    async def _finish_groups(
        self, holder: uuid.UUID, groups: dict[tuple[str, ...], list[tuple[uuid.UUID, dict[str, Any]]]]
    ) -> set[uuid.UUID]:
        held: set[uuid.UUID] = set()
        for keys, group in groups.items():
            values = {f"step_{key}": [fields[key] for _, fields in group] for key in keys}
            result = await self.session.execute(
                _finish_statement(keys),
                {"holder": holder, "step_id": [message_id for message_id, _ in group], **values},
            )
            held.update(result.scalars())
        return held

    async def recover(
        self, now: dt.datetime, claimed_before: dt.datetime, sending_before: dt.datetime, max_attempts: int
    ) -> tuple[int, int]:
        """Messages of a sender that stopped: a claimed one goes back to pending (nothing left), one that
        was sending becomes unknown (the request may have left). Returns (released, unknown). One
        statement: the two kinds are different rows.

        A claimed one already taken `max_attempts` times fails instead: whatever stops its sender each
        time, it must not hold back the patient's later SMS (`_claim_statement`) for ever."""
        spent = _MESSAGE.c.attempts >= max_attempts
        released = (
            update(_MESSAGE)
            .where(_MESSAGE.c.status == Status.claimed, _MESSAGE.c.claimed_at < claimed_before)
            .values(
                status=case((spent, Status.failed), else_=Status.pending),
                reason=case(
                    (spent, "taken by senders that stopped each time: see the notifier's log"),
                    else_=_MESSAGE.c.reason,
                ),
                finished_at=case((spent, now), else_=None),
                claim=None,
            )
            .returning(_MESSAGE.c.id)
            .cte("released")
        )
        lost = (
            update(_MESSAGE)
            .where(_MESSAGE.c.status == Status.sending, _MESSAGE.c.claimed_at < sending_before)
            .values(
                status=Status.unknown,
                reason="the notifier stopped while sending: whether the SMS went out is unknown",
            )
            .returning(_MESSAGE.c.id)
            .cte("lost")
        )
        counts = await self.session.execute(
            select(
                select(func.count()).select_from(released).scalar_subquery(),
                select(func.count()).select_from(lost).scalar_subquery(),
            )
        )
        released_count, unknown_count = counts.one()
        return released_count, unknown_count

    async def erase_patient(self, patient_id: uuid.UUID) -> dict[str, int]:
        counts = {}
        for name, model in (("messages", Message), ("appointments", Appointment)):
            result = await self.session.execute(delete(model).where(model.patient_id == patient_id))
            counts[name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
        return counts

    async def get(self, message_id: uuid.UUID) -> Message | None:
        return await self.session.get(Message, message_id)

    async def retry(self, message_id: uuid.UUID, now: dt.datetime) -> Message | None:
        """A failed message back to pending, due now, with fresh attempts; None if it is not failed."""
        return await self.session.scalar(
            update(Message)
            .where(Message.id == message_id, Message.status == Status.failed)
            # Its reason stays: it marks the message tried before (`dispatcher._only_as_it_stands`).
            .values(
                status=Status.pending,
                due_at=now,
                attempts=0,
                claim=None,
                finished_at=None,
                reason=func.coalesce(Message.reason, "sent again by staff"),
            )
            .returning(Message),
            execution_options={"synchronize_session": False},
        )

    async def messages(
        self,
        *,
        appointment_id: uuid.UUID | None,
        patient_id: uuid.UUID | None,
        status: MessageStatus | None,
        after: tuple[dt.datetime, uuid.UUID] | None,
        limit: int,
    ) -> Sequence[Message]:
        """Newest first."""
        query = select(Message)
        if appointment_id is not None:
            query = query.where(Message.appointment_id == appointment_id)
        if patient_id is not None:
            query = query.where(Message.patient_id == patient_id)
        if status is not None:
            query = query.where(Message.status == status)
        if after is not None:
            query = query.where(tuple_(Message.created_at, Message.id) < tuple_(*after))
        return (
            await self.session.scalars(
                query.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)
            )
        ).all()

    async def behind_fhir(self, limit: int) -> Sequence[Message]:
        """Sent messages whose Communication the FHIR server does not have yet, oldest first."""
        return (
            await self.session.scalars(
                select(Message)
                .where(
                    Message.status == Status.sent,
                    Message.fhir_patient_id.is_not(None),
                    Message.fhir_written_at.is_(None),
                )
                .order_by(Message.finished_at)
                .limit(limit)
            )
        ).all()

    async def in_fhir(self, message_id: uuid.UUID, now: dt.datetime) -> None:
        await self.session.execute(
            update(Message).where(Message.id == message_id).values(fhir_written_at=now)
        )


def _rows(name: str, **columns: tuple[TypeEngine[Any], Sequence[Any]]) -> TableValuedAlias:
    """Rows given as one array parameter per column, `unnest(...) AS name(columns)`: the statement stays the
    same for any number of rows, so SQLAlchemy compiles it once (VALUES would be compiled for each)."""
    arrays = [
        bindparam(f"{name}_{column}", list(values), type_=ARRAY(type_))
        for column, (type_, values) in columns.items()
    ]
    return func.unnest(*arrays).table_valued(*columns).render_derived(name=name)


# The statements run for every event, on every round and for every step, built once: building one and its
# cache key costs more CPU than the round trip's own work. Their parameters come with each execution.


@functools.cache
def _record_statement() -> Select[uuid.UUID, bool]:
    """`save_and_record`'s statement (parameters `state_<column>`, `planned_<column>`)."""
    given = _rows("state", **{column: (_APPOINTMENT.c[column].type, []) for column in _APPOINTMENT_COLUMNS})
    upsert = insert(_APPOINTMENT).from_select(_APPOINTMENT_COLUMNS, select(given), include_defaults=False)
    upsert = upsert.on_conflict_do_update(
        index_elements=[_APPOINTMENT.c.id],
        set_={column: upsert.excluded[column] for column in _APPOINTMENT_COLUMNS if column != "id"},
        where=(_APPOINTMENT.c.version < upsert.excluded.version)
        | (_APPOINTMENT.c.event_id == upsert.excluded.event_id),
    )
    # xmax is 0 on a row this statement inserted, and set on one it updated (the conflict locked it).
    kept = upsert.returning(_APPOINTMENT.c.id, literal_column("xmax = 0", Boolean).label("new")).cte("kept")
    rows = _rows(
        "planned",
        id=(_MESSAGE.c.id.type, []),
        when_kept=(Boolean(), []),
        **{column: (_MESSAGE.c[column].type, []) for column in PLANNED},
    )
    was_kept = rows.c.appointment_id.in_(select(kept.c.id))
    added = (
        insert(_MESSAGE)
        .from_select(
            ["id", *PLANNED],
            select(rows.c.id, *(rows.c[column] for column in PLANNED)).where(
                or_(
                    rows.c.when_kept.is_(None),
                    and_(rows.c.when_kept, was_kept),
                    and_(not_(rows.c.when_kept), not_(was_kept)),
                )
            ),
            include_defaults=False,  # the columns' server defaults (attempts 0, created_at)
        )
        .on_conflict_do_nothing(index_elements=[_MESSAGE.c.idempotency_key])
        .cte("added")
    )
    return select(kept.c.id, kept.c.new).add_cte(added)


@functools.cache
def _claim_statement(limit: int) -> Update:
    """Due messages, but none while an earlier one of the same patient is due or on its way (with this or
    another sender): a patient's SMS reach the phone in the order they were planned, so a booking's
    confirmation never comes after the note of its move. Planned is `created_at`, the database's clock."""
    now = bindparam("now", type_=_MESSAGE.c.due_at.type)
    earlier = aliased(Message)
    in_line = (
        select(literal_column("1"))
        .where(
            earlier.patient_id == Message.patient_id,
            tuple_(earlier.created_at, earlier.id) < tuple_(Message.created_at, Message.id),
            or_(
                earlier.status.in_((Status.claimed, Status.sending)),
                and_(earlier.status == Status.pending, earlier.due_at <= now),
            ),
        )
        # A probe of the patient's index per candidate, taken in due order until the batch is full, never a
        # join of every due message with every one in flight: OFFSET keeps Postgres from planning one.
        .offset(literal_column("0"))
        .exists()
    )
    due = (
        select(Message.id)
        .where(Message.status == Status.pending, Message.due_at <= now, not_(in_line))
        .order_by(Message.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (
        update(Message)
        .where(Message.id.in_(due.scalar_subquery()))
        .values(
            status=Status.claimed,
            claim=bindparam("claim", type_=_MESSAGE.c.claim.type),
            claimed_at=now,
            attempts=Message.attempts + 1,
        )
        .returning(Message)
    )


@functools.cache
def _finish_statement(keys: tuple[str, ...]) -> Update:
    """`finish_many`'s statement for one set of fields (parameters `holder`, `step_id`, `step_<field>`)."""
    given = _rows("step", **{key: (_MESSAGE.c[key].type, []) for key in ("id", *keys)})
    return (
        update(_MESSAGE)
        .where(
            _MESSAGE.c.id == given.c.id,
            _MESSAGE.c.claim == bindparam("holder", type_=_MESSAGE.c.claim.type),
            _MESSAGE.c.status.in_(_HELD),
        )
        .values({key: given.c[key] for key in keys})
        .returning(_MESSAGE.c.id)
    )
