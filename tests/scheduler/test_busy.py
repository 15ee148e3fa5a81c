"""The booked time the slot search reads: appointments and the slots held from the waiting list, in one
read, as whole seconds rounded outwards and sorted per practitioner."""

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ignis.scheduler.models import Appointment, SlotHold, WaitlistEntry
from ignis.scheduler.repository import AppointmentRepository, Holds

NOW = dt.datetime(2030, 3, 4, 8, 0, tzinfo=dt.UTC)
ANNA, BEN = uuid.uuid4(), uuid.uuid4()


def at(hour: int, minute: int = 0, microsecond: int = 0) -> dt.datetime:
    return NOW.replace(hour=hour, minute=minute, microsecond=microsecond)


def seconds(moment: dt.datetime) -> int:
    return int(moment.timestamp())


async def calendar(session: AsyncSession) -> None:
    """p1: booked 9:00–9:10 (ending a microsecond late), a cancelled 9:30, a hold for Anna at 10:00, one
    for Ben at 9:05 (overlapping the booking) and one for Ben that has expired; p2: a hold for Anna only;
    p3: a booking outside the window read."""
    for patient, start, end, status, practitioner in (
        (uuid.uuid4(), at(9), at(9, 10, 1), "booked", "p1"),
        (uuid.uuid4(), at(9, 30), at(9, 40), "cancelled", "p1"),
        (uuid.uuid4(), at(15), at(15, 10), "booked", "p3"),
    ):
        session.add(
            Appointment(
                patient_id=patient,
                practitioner_id=practitioner,
                visit_type_id="akut",
                start_at=start,
                end_at=end,
                status=status,
                conversation_id="c",
            )
        )
    for patient, practitioner, start, expires in (
        (ANNA, "p1", at(10), NOW + dt.timedelta(hours=1)),
        (BEN, "p1", at(9, 5), NOW + dt.timedelta(hours=1)),
        (BEN, "p1", at(11), NOW - dt.timedelta(seconds=1)),
        (ANNA, "p2", at(10, 0, 500), NOW + dt.timedelta(hours=1)),
    ):
        entry = WaitlistEntry(
            patient_id=patient,
            visit_type_id="akut",
            conversation_id="c",
            idempotency_key=f"{uuid.uuid4()}",
        )
        session.add(entry)
        await session.flush()
        session.add(
            SlotHold(
                entry_id=entry.id,
                patient_id=patient,
                practitioner_id=practitioner,
                visit_type_id="akut",
                start_at=start,
                end_at=start + dt.timedelta(minutes=10),
                expires_at=expires,
            )
        )
    await session.flush()


async def test_holds_for_others_count_as_booked_in_one_read(session: AsyncSession) -> None:
    await calendar(session)
    repo = AppointmentRepository(session)
    window = (at(8), at(12))
    booked = (seconds(at(9)), seconds(at(9, 10)) + 1)  # rounded outwards
    ben_s = (seconds(at(9, 5)), seconds(at(9, 15)))
    anna_s = (seconds(at(10)), seconds(at(10, 10)))
    anna_p2 = (seconds(at(10)), seconds(at(10, 10)) + 1)

    ids = ["p1", "p2", "p3"]
    assert await repo.busy(ids, *window) == {"p1": [booked]}
    assert await repo.busy(ids, *window, holds=Holds(NOW)) == {
        "p1": [booked, ben_s, anna_s],
        "p2": [anna_p2],
    }
    assert await repo.busy(ids, *window, holds=Holds(NOW, ANNA)) == {"p1": [booked, ben_s]}
    assert await repo.busy(ids, *window, holds=Holds(NOW, BEN)) == {"p1": [booked, anna_s], "p2": [anna_p2]}
    # A window that only touches an interval's end does not overlap it; one asked for p2 alone sees p2 only.
    assert await repo.busy(ids, at(9, 15), at(10), holds=Holds(NOW)) == {}
    assert await repo.busy(["p2"], *window, holds=Holds(NOW, BEN)) == {"p2": [anna_p2]}


async def test_whether_seen_before_and_the_holds_of_a_caller_in_one_read(session: AsyncSession) -> None:
    await calendar(session)
    carl = uuid.uuid4()  # seen before (an appointment begun), no holds
    session.add(
        Appointment(
            patient_id=carl,
            practitioner_id="p1",
            visit_type_id="akut",
            start_at=NOW - dt.timedelta(days=1),
            end_at=NOW - dt.timedelta(days=1) + dt.timedelta(minutes=10),
            conversation_id="c",
        )
    )
    await session.flush()
    repo = AppointmentRepository(session)
    for patient in (ANNA, BEN, carl, uuid.uuid4()):
        seen, holds = await repo.seen_before_and_holds(patient, NOW)
        assert (seen, holds) == (await repo.seen_before(patient, NOW), await repo.holds_of(patient, NOW))
    seen, holds = await repo.seen_before_and_holds(ANNA, NOW)
    assert (seen, [(h.practitioner_id, h.start_at) for h in holds]) == (
        False,
        [("p1", at(10)), ("p2", at(10, 0, 500))],
    )
    assert await repo.seen_before_and_holds(carl, NOW) == (True, [])
    seen, holds = await repo.seen_before_and_holds(BEN, NOW)  # the expired hold is not his any more
    assert (seen, [h.start_at for h in holds]) == (False, [at(9, 5)])


async def test_whether_a_time_is_free_of_bookings_and_of_holds_for_others(session: AsyncSession) -> None:
    await calendar(session)
    repo = AppointmentRepository(session)
    [booking] = [a for a in await repo.booked_between(at(8), at(12), 10, None) if a.practitioner_id == "p1"]
    anna_s = (at(10), at(10, 10))
    assert not await repo.is_free("p1", at(9, 10), at(9, 20))  # the booking's last microsecond
    assert await repo.is_free("p1", at(9, 15), at(9, 30), holds=Holds(NOW))  # Ben's hold ends at 9:15
    assert not await repo.is_free("p1", *anna_s, holds=Holds(NOW))
    assert not await repo.is_free("p1", *anna_s, holds=Holds(NOW, BEN))
    assert await repo.is_free("p1", *anna_s, holds=Holds(NOW, ANNA))
    assert await repo.is_free("p1", *anna_s)
    assert await repo.is_free("p1", at(11), at(11, 10), holds=Holds(NOW))  # Ben's expired hold
    assert await repo.is_free("p1", at(9, 30), at(9, 40), holds=Holds(NOW))  # the cancelled booking
    assert not await repo.is_free("p1", at(9), at(9, 6), holds=Holds(NOW, BEN))
    assert not await repo.is_free("p1", at(9), at(9, 6), ignore=booking.id, holds=Holds(NOW))  # Ben's
    assert await repo.is_free("p1", at(9), at(9, 6), ignore=booking.id, holds=Holds(NOW, BEN))
    assert await repo.is_free("p1", at(9), at(9, 6), ignore=booking.id)
