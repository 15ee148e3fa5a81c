"""The scheduler's SQL that both repositories share, built once: the hot reads (busy time with the
waiting list's holds) and booking's statements are written out, since building one and its cache key per
call cost more CPU than the round trip's own work."""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    TextClause,
    and_,
    bindparam,
    func,
    text,
)

from ignis.kit.crypto import Encrypted
from ignis.scheduler.models import SCHEMA, Appointment, SlotHold


@dataclass(frozen=True)
class Holds:
    """Which held slots count as busy: those held for anyone but `holder`, until they expire."""

    now: dt.datetime
    holder: uuid.UUID | None = None

    def others(self) -> list[ColumnElement[bool]]:
        conditions = [SlotHold.expires_at > self.now]
        if self.holder is not None:
            conditions.append(SlotHold.patient_id != self.holder)
        return conditions


def held_there(
    practitioner_id: str, start: dt.datetime, end: dt.datetime, holds: Holds
) -> list[ColumnElement[bool]]:
    """A slot held from the waiting list for someone else, overlapping [start, end)."""
    return [
        SlotHold.practitioner_id == practitioner_id,
        SlotHold.start_at < end,
        SlotHold.end_at > start,
        *holds.others(),
    ]


def overlapping(start: dt.datetime, end: dt.datetime) -> ColumnElement[bool]:
    """Booked time overlapping [start, end), phrased like the exclusion constraint so its GiST index
    serves the query (a plain start/end comparison scans every past appointment)."""
    booked_range = func.tstzrange(Appointment.start_at, Appointment.end_at)
    return and_(Appointment.status != "cancelled", booked_range.op("&&")(func.tstzrange(start, end)))


BOOKING_LOCK = "hashtext('ignis.scheduler.booking'), hashtext(:practitioner)"
KEYED = "id, patient_id, practitioner_id, visit_type_id, start_at, end_at, status"

BY_KEY_LOCKING = text(
    f"""
    SELECT appointment.{KEYED.replace(", ", ", appointment.")}
      FROM (SELECT pg_advisory_xact_lock({BOOKING_LOCK})) AS locked
      LEFT JOIN {SCHEMA}.appointment ON appointment.idempotency_key = :key
    """
)

# `AppointmentRepository.place`: the look-up under the lock, `free_nor_held`, the insert, and
# `WaitlistRepository.booked_from_waitlist` and `add_event` once it is in, in one statement.
PLACE = text(
    f"""
    WITH existing AS (
        SELECT {KEYED} FROM {SCHEMA}.appointment WHERE idempotency_key = CAST(:key AS text)
    ), taken AS (
        SELECT EXISTS (SELECT FROM {SCHEMA}.appointment
                        WHERE practitioner_id = CAST(:practitioner AS text) AND status <> 'cancelled'
                          AND tstzrange(start_at, end_at) && tstzrange(:start, :end))
            OR EXISTS (SELECT FROM {SCHEMA}.slot_hold
                        WHERE practitioner_id = CAST(:practitioner AS text)
                          AND start_at < :end AND end_at > :start
                          AND expires_at > :now AND patient_id <> CAST(:patient AS uuid)) AS taken
    ), inserted AS (
        INSERT INTO {SCHEMA}.appointment (id, patient_id, practitioner_id, visit_type_id, start_at, end_at,
                                          status, reason, conversation_id, idempotency_key, version,
                                          late_change)
        SELECT CAST(:id AS uuid), CAST(:patient AS uuid), CAST(:practitioner AS text),
               CAST(:visit_type AS text), CAST(:start AS timestamptz), CAST(:end AS timestamptz), 'booked',
               CAST(:reason AS text), CAST(:conversation AS text), CAST(:key AS text), 1, false
         WHERE NOT EXISTS (SELECT FROM existing) AND NOT (SELECT taken FROM taken)
        ON CONFLICT DO NOTHING
        RETURNING id
    ), off_waitlist AS (
        UPDATE {SCHEMA}.waitlist_entry SET status = 'booked'
         WHERE patient_id = CAST(:patient AS uuid) AND visit_type_id = CAST(:visit_type AS text)
           AND status <> 'booked' AND EXISTS (SELECT FROM inserted)
    ), released AS (
        DELETE FROM {SCHEMA}.slot_hold
         WHERE patient_id = CAST(:patient AS uuid) AND visit_type_id = CAST(:visit_type AS text)
           AND EXISTS (SELECT FROM inserted)
    ), announced AS (
        INSERT INTO {SCHEMA}.outbox (event_id, subject, payload)
        SELECT CAST(:event_id AS uuid), CAST(:subject AS text), CAST(:payload AS bytea)
         WHERE EXISTS (SELECT FROM inserted)
    )
    SELECT EXISTS (SELECT FROM inserted) AS booked, (SELECT taken FROM taken) AS taken, existing.*
      FROM (SELECT) AS one LEFT JOIN existing ON true
    """
).bindparams(bindparam("reason", type_=Encrypted()))


def keyed(row: Row[Any]) -> Appointment | None:
    """The appointment of a look-up by key (`KEYED`'s columns, None where none was found), detached."""
    if row.id is None:
        return None
    return Appointment(
        id=row.id,
        patient_id=row.patient_id,
        practitioner_id=row.practitioner_id,
        visit_type_id=row.visit_type_id,
        start_at=row.start_at,
        end_at=row.end_at,
        status=row.status,
    )


UPCOMING = text(
    f"""
    SELECT id, practitioner_id, visit_type_id, start_at, end_at
      FROM {SCHEMA}.appointment
     WHERE patient_id = :patient AND status = 'booked' AND end_at > :now
     ORDER BY start_at
    """
)

# Whole seconds as `date_part` (double precision), not `extract` (numeric, a fifth dearer on the hottest
# read): exact all the same, since an epoch in microseconds fits a double's 53 bits with room to spare, so
# floor and ceil never round across a whole second.
BUSY = text(
    f"""
    SELECT practitioner_id,
           array_agg(floor(date_part('epoch', start_at))::bigint ORDER BY start_at),
           array_agg(ceil(date_part('epoch', end_at))::bigint ORDER BY start_at)
      FROM {SCHEMA}.appointment
     WHERE practitioner_id = ANY(:ids) AND status <> 'cancelled'
       AND tstzrange(start_at, end_at) && tstzrange(:start, :end)
     GROUP BY practitioner_id
    """
)


def _busy_or_held(held_for: str) -> TextClause:
    """`BUSY` and the slots held from the waiting list (unexpired; `held_for`: whom they count for), in one
    statement, each practitioner's intervals ordered by (start, end)."""
    return text(
        f"""
        SELECT practitioner_id, array_agg(lo ORDER BY lo, hi), array_agg(hi ORDER BY lo, hi)
          FROM (SELECT practitioner_id,
                       floor(date_part('epoch', start_at))::bigint AS lo,
                       ceil(date_part('epoch', end_at))::bigint AS hi
                  FROM {SCHEMA}.appointment
                 WHERE practitioner_id = ANY(:ids) AND status <> 'cancelled'
                   AND tstzrange(start_at, end_at) && tstzrange(:start, :end)
                UNION ALL
                SELECT practitioner_id,
                       floor(date_part('epoch', start_at))::bigint,
                       ceil(date_part('epoch', end_at))::bigint
                  FROM {SCHEMA}.slot_hold
                 WHERE practitioner_id = ANY(:ids) AND start_at < :end AND end_at > :start
                   AND expires_at > :now{held_for}) AS busy
         GROUP BY practitioner_id
        """
    )


BUSY_OR_HELD = _busy_or_held("")
BUSY_OR_HELD_FOR_OTHERS = _busy_or_held(" AND patient_id <> :holder")

OWN_HOLDS = f"""
    SELECT practitioner_id, visit_type_id, start_at, end_at
      FROM {SCHEMA}.slot_hold
     WHERE patient_id = :holder AND expires_at > :now
"""
HOLDS_OF = text(OWN_HOLDS + " ORDER BY start_at")


# `BUSY_OR_HELD_FOR_OTHERS` and the holder's own holds (`OWN_HOLDS`), told apart by their visit type.
BUSY_OR_HELD_FOR_OTHERS_AND_OWN = text(
    f"""
    SELECT busy.*, NULL::text, NULL::timestamptz, NULL::timestamptz
      FROM ({BUSY_OR_HELD_FOR_OTHERS.text}) AS busy
    UNION ALL
    SELECT practitioner_id, NULL::bigint[], NULL::bigint[], visit_type_id, start_at, end_at
      FROM ({OWN_HOLDS}) AS own
    """
)
