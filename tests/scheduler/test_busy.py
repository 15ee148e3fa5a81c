"""The booked time the slot search reads: appointments and the slots held from the waiting list, in Ignis'
record mode in one read, as whole seconds rounded outwards and sorted per practitioner; the same answers as
the appointments' and the waiting list's repositories give each on its own (FHIR mode's path)."""

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ignis.scheduler.models import Appointment, SlotHold, WaitlistEntry
from ignis.scheduler.records import Busy, Records
from ignis.scheduler.repository import AppointmentRepository, Holds, WaitlistRepository
from ignis.scheduler.slots import Slot

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


class Both:
    """The records' answers, and the answers of its two repositories asked one after the other."""

    def __init__(self, session: AsyncSession) -> None:
        self.appointments, self.own = AppointmentRepository(session), WaitlistRepository(session)
        self.records = Records(self.appointments, self.own)

    async def busy(
        self, ids: list[str], start: dt.datetime, end: dt.datetime, holds: Holds | None = None
    ) -> Busy:
        answer = await self.records.busy(ids, start, end, holds=holds)
        apart = await self.own.with_held(
            await self.appointments.busy(ids, start, end), ids, start, end, holds
        )
        assert answer == apart
        return answer

    async def is_free(
        self,
        practitioner_id: str,
        start: dt.datetime,
        end: dt.datetime,
        ignore: uuid.UUID | None = None,
        holds: Holds | None = None,
    ) -> bool:
        answer = await self.records.is_free(practitioner_id, start, end, ignore=ignore, holds=holds)
        apart = await self.appointments.is_free(practitioner_id, start, end, ignore) and not (
            holds is not None and await self.own.held_for_others(practitioner_id, start, end, holds)
        )
        assert answer == apart
        return answer


async def test_holds_for_others_count_as_booked_in_one_read(session: AsyncSession) -> None:
    await calendar(session)
    repo = Both(session)
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


async def test_whether_a_time_is_free_of_bookings_and_of_holds_for_others(session: AsyncSession) -> None:
    await calendar(session)
    repo = Both(session)
    booked = await repo.appointments.booked_between(at(8), at(12), 10, None)
    [booking] = [a for a in booked if a.practitioner_id == "p1"]
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


async def test_the_callers_own_holds_come_with_the_booked_time(session: AsyncSession) -> None:
    await calendar(session)
    repo = Both(session)
    window = (at(8), at(12))
    ids = ["p1", "p2", "p3"]
    anna = Slot("p1", "akut", at(10), at(10, 10))
    anna_p2 = Slot("p2", "akut", at(10, 0, 500), at(10, 10, 500))
    for holder, held in ((ANNA, [anna, anna_p2]), (BEN, [Slot("p1", "akut", at(9, 5), at(9, 15))])):
        holds = Holds(NOW, holder)
        answer = await repo.records.busy_and_own_holds(ids, *window, holds)
        assert answer == (await repo.busy(ids, *window, holds=holds), held)
        assert await repo.own.holds_of(holder, NOW) == held
