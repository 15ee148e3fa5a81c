"""The team's view of a day: every appointment, per practitioner, in time order."""

import datetime as dt
import uuid

from ignis.contracts.scheduling import (
    DayAppointment,
    DayAppointments,
    ListDayAppointments,
)
from ignis.kit.pagination import decode_cursor, encode_cursor
from ignis.scheduler.calendar import Calendar
from ignis.scheduler.describe import appointment_info, local_day_start
from ignis.scheduler.records import Records


async def day_appointments(
    records: Records, calendar: Calendar, query: ListDayAppointments
) -> DayAppointments:
    start = local_day_start(calendar, query.day)
    end = local_day_start(calendar, query.day + dt.timedelta(days=1))
    after = None
    if query.cursor:
        stamp, key = decode_cursor(query.cursor, dt.datetime.fromisoformat, uuid.UUID)
        after = (stamp, key)
    rows = await records.appointments.booked_between(start, end, query.limit + 1, after)
    page = rows[: query.limit]
    items = [
        DayAppointment(
            patient_id=str(a.patient_id),
            late=bool(a.late_change),
            **appointment_info(calendar, a).model_dump(),
        )
        for a in page
    ]
    cursor = None
    if len(rows) > query.limit:
        cursor = encode_cursor(page[-1].start_at.isoformat(), page[-1].id)
    return DayAppointments(items=items, next_cursor=cursor)
