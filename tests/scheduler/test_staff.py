"""The practice team's scheduler commands over the real NATS and Postgres: a patient's appointments, and
cancelling and moving them without a conversation, with the same events (so the same SMS) as a caller's."""

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from pydantic import BaseModel, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.contracts import subjects
from ignis.contracts.base import ErrorReply
from ignis.contracts.scheduling import (
    AppointmentList,
    CancellationConfirmed,
    ListPatientAppointments,
    RescheduleConfirmed,
    SlotTaken,
    StaffCancelAppointment,
    StaffRescheduleAppointment,
)
from ignis.kit.bus import make_broker
from ignis.kit.clock import utcnow
from ignis.scheduler.models import Appointment
from tests.conftest import TEST_PRACTICE, Caller, received
from tests.scheduler.test_booking import in_three_days, offered, tool

pytestmark = pytest.mark.usefixtures("services")
LISTED: TypeAdapter[AppointmentList | ErrorReply] = TypeAdapter(AppointmentList | ErrorReply)
CANCELLED: TypeAdapter[CancellationConfirmed | ErrorReply] = TypeAdapter(CancellationConfirmed | ErrorReply)
MOVED: TypeAdapter[RescheduleConfirmed | SlotTaken | ErrorReply] = TypeAdapter(
    RescheduleConfirmed | SlotTaken | ErrorReply
)


@pytest.fixture
def practice_file(tmp_path: Path) -> Path:
    """The test practice refusing callers' late changes: what the team may still do is then plain."""
    booking = TEST_PRACTICE["booking"] | {"late_changes": "refuse"}  # type: ignore[operator]
    path = tmp_path / "practice.yaml"
    path.write_text(
        yaml.safe_dump(TEST_PRACTICE | {"booking": booking}, allow_unicode=True), encoding="utf-8"
    )
    return path


@pytest.fixture
async def staff(nats_url: str) -> AsyncIterator[NatsBroker]:
    """A plain broker asking as the staff app does."""
    broker = make_broker(nats_url, "test-staff")
    await broker.start()
    yield broker
    await broker.stop()


async def ask(broker: NatsBroker, subject: str, command: BaseModel, adapter: TypeAdapter[Any]) -> Any:
    message = await broker.request(command, subject, timeout=5)
    return adapter.validate_json(message.body)


async def appointment_at(engine: AsyncEngine, patient_id: uuid.UUID, start: dt.datetime) -> uuid.UUID:
    """An appointment booked earlier, starting at `start` (closer than a caller may book or cancel)."""
    key = uuid.uuid4()
    async with AsyncSession(engine) as session, session.begin():
        appointment = Appointment(
            id=key,
            patient_id=patient_id,
            practitioner_id="weber",
            visit_type_id="akut",
            start_at=start,
            end_at=start + dt.timedelta(minutes=10),
            conversation_id="earlier",
        )
        session.add(appointment)
    return key


async def test_staff_list_move_and_cancel_a_patients_appointment(
    client: httpx.AsyncClient, caller: Caller, staff: NatsBroker, events: JetStreamContext
) -> None:
    first, second = (await offered(client, caller, earliest=in_three_days()))[:2]
    booked = await tool(client, "book_appointment", caller.body(slot_id=first["slot_id"]))
    appointment_id = booked["appointment"]["appointment_id"]

    listed = await ask(
        staff,
        subjects.SCHEDULER_PATIENT_APPOINTMENTS,
        ListPatientAppointments(patient_id=caller.patient_id),
        LISTED,
    )
    assert [a.appointment_id for a in listed.appointments] == [appointment_id]
    nobody = ListPatientAppointments(patient_id=uuid.uuid4())
    assert (await ask(staff, subjects.SCHEDULER_PATIENT_APPOINTMENTS, nobody, LISTED)).appointments == []

    move = StaffRescheduleAppointment(appointment_id=appointment_id, new_slot_id=second["slot_id"])
    moved = await ask(staff, subjects.SCHEDULER_STAFF_RESCHEDULE, move, MOVED)
    assert isinstance(moved, RescheduleConfirmed)
    assert moved.appointment.spoken == second["spoken"]
    # The caller sees the move too: it is their appointment still.
    mine = await tool(client, "list_appointments", caller.body())
    assert [a["spoken"] for a in mine["appointments"]] == [second["spoken"]]

    cancel = StaffCancelAppointment(appointment_id=appointment_id)
    cancelled = await ask(staff, subjects.SCHEDULER_STAFF_CANCEL, cancel, CANCELLED)
    assert isinstance(cancelled, CancellationConfirmed)
    again = await ask(staff, subjects.SCHEDULER_STAFF_CANCEL, cancel, CANCELLED)  # a retried click
    assert isinstance(again, CancellationConfirmed)
    assert (await tool(client, "list_appointments", caller.body()))["appointments"] == []

    published = await received(events, 3)
    assert [m.subject for m in published] == [
        subjects.APPOINTMENT_BOOKED,
        subjects.APPOINTMENT_RESCHEDULED,
        subjects.APPOINTMENT_CANCELLED,
    ]
    assert all(str(caller.patient_id).encode() in m.data for m in published)


async def test_staff_may_cancel_where_a_caller_is_refused_as_too_late_but_not_once_it_began(
    client: httpx.AsyncClient, caller: Caller, staff: NatsBroker, engine: AsyncEngine
) -> None:
    soon = await appointment_at(engine, caller.patient_id, utcnow() + dt.timedelta(hours=2))
    refused = await tool(client, "cancel_appointment", caller.body(appointment_id=str(soon)))
    assert refused["code"] == "too_late"
    cancelled = await ask(
        staff, subjects.SCHEDULER_STAFF_CANCEL, StaffCancelAppointment(appointment_id=str(soon)), CANCELLED
    )
    assert isinstance(cancelled, CancellationConfirmed)
    assert cancelled.late is False  # the practice's own change, not the patient's late one

    begun = await appointment_at(engine, caller.patient_id, utcnow() - dt.timedelta(minutes=5))
    late = await ask(
        staff, subjects.SCHEDULER_STAFF_CANCEL, StaffCancelAppointment(appointment_id=str(begun)), CANCELLED
    )
    assert isinstance(late, ErrorReply)
    assert late.code == "too_late"


async def test_staff_commands_on_an_unknown_appointment_or_a_made_up_slot(
    client: httpx.AsyncClient, caller: Caller, staff: NatsBroker
) -> None:
    unknown = StaffCancelAppointment(appointment_id=str(uuid.uuid4()))
    missing = await ask(staff, subjects.SCHEDULER_STAFF_CANCEL, unknown, CANCELLED)
    assert isinstance(missing, ErrorReply)
    assert missing.code == "not_found"

    first = (await offered(client, caller, earliest=in_three_days()))[0]
    booked = await tool(client, "book_appointment", caller.body(slot_id=first["slot_id"]))
    forged = StaffRescheduleAppointment(
        appointment_id=booked["appointment"]["appointment_id"], new_slot_id="not-a-slot"
    )
    refused = await ask(staff, subjects.SCHEDULER_STAFF_RESCHEDULE, forged, MOVED)
    assert isinstance(refused, ErrorReply)
    assert refused.code == "invalid_slot"
