"""Scheduling in FHIR record mode, through the gateway, with the calendar on Medplum's FHIR engine: the same
tools and events as in Ignis' own record mode; appointments are `Appointment`s on the server, and what the
practice writes there itself is respected at once."""

import asyncio
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from faststream import TestApp
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.contracts import subjects
from ignis.fhir import codes
from ignis.fhir.client import FhirClient, Resource, token, version_of
from ignis.fhir.ids import patient_id_of
from ignis.gateway.replies import failure
from ignis.kit.bus import make_broker
from ignis.patients.repository import PatientRepository
from ignis.practice.config import load_practice
from ignis.scheduler.errors import AppointmentChanged
from ignis.scheduler.fhir_directory import FhirCalendar, ensure_directory
from ignis.scheduler.fhir_records import FhirAppointments
from ignis.scheduler.main import create_app as create_scheduler
from ignis.scheduler.settings import SchedulerSettings
from ignis.staff_app.backend import Backend
from tests.conftest import TEST_PRACTICE, Caller, received
from tests.factories import GROSS, MUELLER, Person
from tests.fhir.conftest import practice_patient
from tests.scheduler.test_booking import (
    in_three_days,
    offered,
    one_slot_many_callers,
    reschedule_race,
    tool,
)


@pytest.fixture
async def client(gateway: httpx.AsyncClient, fhir_services: None) -> httpx.AsyncClient:
    return gateway


@pytest.fixture
def gateway_settings(gateway_settings: Any) -> Any:
    """Every caller of the concurrency tests waits for their answer (the engine serves one request at a time,
    on a box shared by many test runs; 100 callers' answers took up to 18 s); the budget is not what these
    tests are about."""
    return gateway_settings.model_copy(
        update={"tool_budget_seconds": 60.0, "acting_tool_budget_seconds": 60.0}
    )


async def fhir_caller(engine: AsyncEngine, fhir: FhirClient, person: Person = MUELLER) -> Caller:
    """A patient of the practice (on the server) identified in a conversation of their own."""
    resource = (await fhir.create(practice_patient(person))).resource
    patient_id = patient_id_of(resource["id"])
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        repo = PatientRepository(session)
        await repo.link_fhir_patients({patient_id: resource["id"]})
        conversation = f"conv-{uuid.uuid4().hex[:8]}"
        ref = await repo.issue_ref(
            conversation, patient_id, f"pr_{uuid.uuid4().hex}", dt.datetime.now(dt.UTC).replace(year=2100)
        )
    return Caller(conversation, ref, patient_id)


@pytest.fixture
async def caller(engine: AsyncEngine, fhir: FhirClient, fhir_services: None) -> Caller:
    return await fhir_caller(engine, fhir)


async def practitioner(fhir: FhirClient, practice_id: str) -> Resource:
    [found] = await fhir.search("Practitioner", {"identifier": token(codes.IGNIS_PRACTITIONER, practice_id)})
    return found


async def ignis_appointment(fhir: FhirClient, appointment_id: str) -> Resource:
    [found] = await fhir.search("Appointment", {"identifier": token(codes.IGNIS_APPOINTMENT, appointment_id)})
    return found


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class TestTheCalendarIsOnTheServer:
    async def test_book_list_move_cancel_write_one_appointment_resource(
        self, client: httpx.AsyncClient, caller: Caller, fhir: FhirClient, events: JetStreamContext
    ) -> None:
        first, second = (await offered(client, caller, earliest=in_three_days(), practitioner="weber"))[:2]

        booked = await tool(
            client, "book_appointment", caller.body(slot_id=first["slot_id"], reason="Husten")
        )
        appointment_id = booked["appointment"]["appointment_id"]
        stored = await ignis_appointment(fhir, appointment_id)
        listed = await tool(client, "list_appointments", caller.body())
        moved = await tool(
            client,
            "reschedule_appointment",
            caller.body(appointment_id=appointment_id, new_slot_id=second["slot_id"]),
        )
        after_move = await ignis_appointment(fhir, appointment_id)
        cancelled = await tool(client, "cancel_appointment", caller.body(appointment_id=appointment_id))
        after_cancel = await ignis_appointment(fhir, appointment_id)

        assert booked["code"] == "booked"
        assert booked["appointment"]["spoken"] == first["spoken"]
        weber = await practitioner(fhir, "weber")
        patient = (await fhir.search("Patient", {"birthdate": MUELLER.birth_date.isoformat()}))[0]
        assert stored["status"] == "booked"
        assert moment(stored["start"]) == moment(first["start"])
        assert {p["actor"]["reference"] for p in stored["participant"]} == {
            f"Patient/{patient['id']}",
            f"Practitioner/{weber['id']}",
        }
        assert stored["serviceType"][0]["coding"][0]["code"] == "akut"
        assert [a["appointment_id"] for a in listed["appointments"]] == [appointment_id]
        assert moved["code"] == "rescheduled"
        assert moved["appointment"]["spoken"] == second["spoken"]
        assert after_move["id"] == stored["id"]
        assert moment(after_move["start"]) == moment(second["start"])
        assert cancelled["code"] == "cancelled"
        assert (after_cancel["id"], after_cancel["status"]) == (stored["id"], "cancelled")
        assert (await tool(client, "list_appointments", caller.body()))["appointments"] == []
        messages = await received(events, 3)
        assert [m.subject for m in messages] == [
            subjects.APPOINTMENT_BOOKED,
            subjects.APPOINTMENT_RESCHEDULED,
            subjects.APPOINTMENT_CANCELLED,
        ]

    async def test_the_staff_app_lists_a_patients_appointments(
        self, client: httpx.AsyncClient, caller: Caller, fhir: FhirClient, nats_url: str
    ) -> None:
        """The patient page asks the scheduler with the Ignis patient id only; the scheduler learns the FHIR
        Patient from the patients service. What the desk booked for the patient is listed too."""
        mine, desk_time = (await offered(client, caller, earliest=in_three_days(), practitioner="weber"))[:2]
        booked = await tool(client, "book_appointment", caller.body(slot_id=mine["slot_id"]))
        weber = await practitioner(fhir, "weber")
        [patient] = await fhir.search("Patient", {"birthdate": MUELLER.birth_date.isoformat()})
        desk = await fhir.create(
            {
                "resourceType": "Appointment",
                "status": "booked",
                "start": desk_time["start"],
                "end": desk_time["end"],
                "participant": [
                    {"actor": {"reference": f"Patient/{patient['id']}"}, "status": "accepted"},
                    {"actor": {"reference": f"Practitioner/{weber['id']}"}, "status": "accepted"},
                ],
            }
        )
        broker = make_broker(nats_url, "test-staff-app")
        await broker.start()
        try:
            listed = await Backend(broker, 10.0).appointments(caller.patient_id)
            nobody = await Backend(broker, 10.0).appointments(uuid.uuid4())
        finally:
            await broker.stop()

        assert desk.resource["id"]
        assert [a.spoken for a in listed] == [mine["spoken"], desk_time["spoken"]]
        assert listed[0].appointment_id == booked["appointment"]["appointment_id"]
        assert nobody == []

    async def test_a_retried_booking_makes_one_appointment(
        self, client: httpx.AsyncClient, caller: Caller, fhir: FhirClient
    ) -> None:
        slot = (await offered(client, caller, earliest=in_three_days()))[0]

        first, again = await asyncio.gather(
            tool(client, "book_appointment", caller.body(slot_id=slot["slot_id"])),
            tool(client, "book_appointment", caller.body(slot_id=slot["slot_id"])),
        )

        assert (first["code"], again["code"]) == ("booked", "booked")
        assert first["appointment"]["appointment_id"] == again["appointment"]["appointment_id"]
        assert len(await fhir.search("Appointment", {"status": "booked"})) == 1

    async def test_the_practice_file_is_mapped_once(
        self,
        caller: Caller,
        fhir: FhirClient,
        practice_file: Path,
        fhir_url: str,
        nats_url: str,
        tmp_path: Path,
    ) -> None:
        settings = SchedulerSettings(
            nats_url=nats_url, home=tmp_path, records="fhir", fhir_url=fhir_url, practice_file=practice_file
        )
        async with TestApp(create_scheduler(settings, outbox=False)):  # a second replica starts
            pass

        visit_types = {v["id"] for v in TEST_PRACTICE["visit_types"]}
        assert len(await fhir.search("Practitioner", {})) == 2
        assert len(await fhir.search("HealthcareService", {})) == len(visit_types)
        weber = await practitioner(fhir, "weber")
        [schedule] = await fhir.search("Schedule", {"actor": f"Practitioner/{weber['id']}"})
        assert {c["coding"][0]["code"] for c in schedule["serviceType"]} == visit_types


class TestWhatThePracticeWritesCounts:
    async def test_an_appointment_made_at_the_desk_is_avoided_at_once(
        self, client: httpx.AsyncClient, caller: Caller, fhir: FhirClient
    ) -> None:
        slot = (await offered(client, caller, earliest=in_three_days(), practitioner="weber"))[0]
        weber = await practitioner(fhir, "weber")
        walk_in = (await fhir.create(practice_patient(GROSS))).resource
        await fhir.create(
            {
                "resourceType": "Appointment",
                "status": "booked",
                "start": slot["start"],
                "end": (moment(slot["start"]) + dt.timedelta(minutes=30)).isoformat(),
                "participant": [
                    {"actor": {"reference": f"Patient/{walk_in['id']}"}, "status": "accepted"},
                    {"actor": {"reference": f"Practitioner/{weber['id']}"}, "status": "accepted"},
                ],
            }
        )

        again = await offered(client, caller, earliest=in_three_days(), practitioner="weber")
        booked = await tool(client, "book_appointment", caller.body(slot_id=slot["slot_id"]))

        desk_end = moment(slot["start"]) + dt.timedelta(minutes=30)
        assert all(moment(s["end"]) <= moment(slot["start"]) or moment(s["start"]) >= desk_end for s in again)
        assert booked["code"] == "slot_taken"
        assert len(await fhir.search("Appointment", {})) == 1

    async def test_a_busy_slot_blocks_and_a_cancelled_appointment_frees(
        self, client: httpx.AsyncClient, caller: Caller, fhir: FhirClient
    ) -> None:
        slot = (await offered(client, caller, earliest=in_three_days(), practitioner="weber"))[0]
        [schedule] = await fhir.search("Schedule", {"identifier": token(codes.IGNIS_SCHEDULE, "weber")})
        busy = (
            await fhir.create(
                {
                    "resourceType": "Slot",
                    "schedule": {"reference": f"Schedule/{schedule['id']}"},
                    "status": "busy-unavailable",
                    "start": slot["start"],
                    "end": slot["end"],
                }
            )
        ).resource

        blocked = await offered(client, caller, earliest=in_three_days(), practitioner="weber")
        await fhir.update(busy | {"status": "free"})
        freed = await offered(client, caller, earliest=in_three_days(), practitioner="weber")

        assert slot["slot_id"] not in [s["slot_id"] for s in blocked]
        assert freed[0]["slot_id"] == slot["slot_id"]


async def test_busy_time_with_more_appointments_than_one_search_takes(
    fhir: FhirClient, fhir_services: None, practice_file: Path
) -> None:
    """A busy week of a large practice: more Appointments in the window than the client takes from one search
    (1,000) are read in halves, none missed (before, the caller heard a technical error)."""
    calendar = FhirCalendar(fhir, await ensure_directory(fhir, load_practice(practice_file)))
    weber = calendar.directory.practitioners["weber"]
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=3)
    entries = []
    for i in range(1100):
        begins = start + dt.timedelta(minutes=10 * i)
        appointment = {
            "resourceType": "Appointment",
            "status": "booked",
            "start": begins.isoformat(),
            "end": (begins + dt.timedelta(minutes=10)).isoformat(),
            "participant": [{"actor": {"reference": f"Practitioner/{weber}"}, "status": "accepted"}],
        }
        entries.append({"resource": appointment, "request": {"method": "POST", "url": "Appointment"}})
    async with FhirClient(fhir.base_url, timeout_seconds=60) as desk:  # a large bundle takes a while
        await desk.transaction(entries)

    busy = await FhirAppointments(calendar).busy(["weber"], start, start + dt.timedelta(days=8))

    assert len(busy["weber"]) == 1100


class TestAVisitTheServerRecordsMakesAPatientKnown:
    """A practice that takes no new patients: a caller registered by phone is new until the practice's server
    has an appointment of theirs that has begun, whoever wrote it."""

    @pytest.fixture
    def practice_file(self, tmp_path: Path) -> Path:
        path = tmp_path / "practice.yaml"
        text = yaml.safe_dump(TEST_PRACTICE | {"rules": {"new_patients": False}}, allow_unicode=True)
        path.write_text(text, encoding="utf-8")
        return path

    async def test_a_past_visit_at_the_desk_counts(self, client: httpx.AsyncClient, fhir: FhirClient) -> None:
        body = {
            "conversation_id": "conv-new",
            "first_name": GROSS.first_name,
            "last_name": GROSS.last_name,
            "birth_date": GROSS.birth_date.isoformat(),
            "insurance": "gesetzlich",
            "sms_consent": False,
        }
        registered = await tool(client, "register_patient", body)
        caller = Caller("conv-new", registered["patient_ref"], uuid.uuid4())
        new = await tool(client, "find_slots", caller.body(visit_type="akut"))
        [patient] = await fhir.search("Patient", {"birthdate": GROSS.birth_date.isoformat()})
        weber = await practitioner(fhir, "weber")
        last_week = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
        await fhir.create(
            {
                "resourceType": "Appointment",
                "status": "fulfilled",
                "start": last_week.isoformat(),
                "end": (last_week + dt.timedelta(minutes=20)).isoformat(),
                "participant": [
                    {"actor": {"reference": f"Patient/{patient['id']}"}, "status": "accepted"},
                    {"actor": {"reference": f"Practitioner/{weber['id']}"}, "status": "accepted"},
                ],
            }
        )

        known = await tool(client, "find_slots", caller.body(visit_type="akut"))

        assert registered["code"] == "registered"
        assert (new["code"], new["reason"]) == ("not_offered", "new_patients")
        assert known["code"] == "slots"


class TestTheAppointmentChangedOnTheServerMeanwhile:
    """The scheduler read the Appointment, then the practice wrote it before the scheduler's `ifMatch` write:
    the engine answers 412. A change the caller was not told of is written over; a change of what the caller
    knows (time, status) is not, and the caller hears that the appointment changed."""

    @pytest.fixture
    async def booked(
        self, client: httpx.AsyncClient, caller: Caller, fhir: FhirClient, practice_file: Path
    ) -> tuple[FhirAppointments, uuid.UUID, list[dict[str, Any]]]:
        """An appointment the caller booked, as a scheduler's unit of work has read it for a change."""
        slots = (await offered(client, caller, earliest=in_three_days(), practitioner="weber"))[:3]
        booked = await tool(client, "book_appointment", caller.body(slot_id=slots[0]["slot_id"]))
        records = FhirAppointments(
            FhirCalendar(fhir, await ensure_directory(fhir, load_practice(practice_file)))
        )
        appointment_id = uuid.UUID(booked["appointment"]["appointment_id"])
        return records, appointment_id, slots

    async def test_a_note_added_at_the_desk_is_kept_and_the_move_goes_through(
        self, booked: tuple[FhirAppointments, uuid.UUID, list[dict[str, Any]]], fhir: FhirClient
    ) -> None:
        records, appointment_id, slots = booked
        appointment = await records.get_for_update(appointment_id)
        assert appointment is not None
        read = await ignis_appointment(fhir, str(appointment_id))
        noted = await fhir.update(read | {"comment": "Bitte Befunde mitbringen"})  # the desk, meanwhile

        await records.lock_practitioner("weber")
        await records.move(appointment, "weber", "akut", moment(slots[1]["start"]), moment(slots[1]["end"]))

        after = await ignis_appointment(fhir, str(appointment_id))
        assert version_of(noted) != version_of(read)  # the scheduler's `ifMatch` was stale
        assert moment(after["start"]) == moment(slots[1]["start"])
        assert after["comment"] == "Bitte Befunde mitbringen"
        assert appointment.version == 2

    async def test_a_move_at_the_desk_is_not_overwritten(
        self, booked: tuple[FhirAppointments, uuid.UUID, list[dict[str, Any]]], fhir: FhirClient
    ) -> None:
        records, appointment_id, slots = booked
        appointment = await records.get_for_update(appointment_id)
        assert appointment is not None
        read = await ignis_appointment(fhir, str(appointment_id))
        await fhir.update(read | {"start": slots[2]["start"], "end": slots[2]["end"]})  # the desk, meanwhile

        await records.lock_practitioner("weber")
        with pytest.raises(AppointmentChanged):
            await records.move(
                appointment, "weber", "akut", moment(slots[1]["start"]), moment(slots[1]["end"])
            )

        after = await ignis_appointment(fhir, str(appointment_id))
        assert moment(after["start"]) == moment(slots[2]["start"])

    async def test_a_cancellation_at_the_desk_is_not_undone(
        self, booked: tuple[FhirAppointments, uuid.UUID, list[dict[str, Any]]], fhir: FhirClient
    ) -> None:
        records, appointment_id, slots = booked
        appointment = await records.get_for_update(appointment_id)
        assert appointment is not None
        read = await ignis_appointment(fhir, str(appointment_id))
        await fhir.update(read | {"status": "cancelled"})  # the desk, meanwhile

        await records.lock_practitioner("weber")
        with pytest.raises(AppointmentChanged):
            await records.move(
                appointment, "weber", "akut", moment(slots[1]["start"]), moment(slots[1]["end"])
            )
        with pytest.raises(AppointmentChanged):
            await records.cancel(appointment, dt.datetime.now(dt.UTC))

        after = await ignis_appointment(fhir, str(appointment_id))
        assert (after["status"], moment(after["start"])) == ("cancelled", moment(slots[0]["start"]))

    async def test_the_caller_hears_that_it_changed(self) -> None:
        heard = failure(AppointmentChanged.code, "reschedule_appointment")

        assert (heard["ok"], heard["code"]) == (False, "conflict")
        assert "in der Praxis geändert" in heard["message"]
        assert "list_appointments" in heard["hint"]


# As many as in Ignis' own record mode. Every loser makes about a dozen round trips to the one-at-a-time
# engine (the lost ifMatch, the check again, the alternatives' search): the 100 answers took 12-18 s on a
# 2-core box at load 5-6 (measured 26 Nov 2026), hence the module's generous budget.
CALLERS = 100


class TestConcurrency:
    async def test_many_callers_one_slot_one_winner(
        self, client: httpx.AsyncClient, caller: Caller, engine: AsyncEngine, fhir: FhirClient
    ) -> None:
        callers = [
            await fhir_caller(
                engine, fhir, Person("Test", f"Person{i}", dt.date(1970, 1, 1) + dt.timedelta(days=i))
            )
            for i in range(CALLERS)
        ]
        slot = await one_slot_many_callers(client, caller, callers)

        booked = await fhir.search("Appointment", {"status": "booked"})
        assert [moment(a["start"]) for a in booked] == [moment(slot["start"])]

    async def test_reschedule_race_keeps_the_loser_where_it_was(
        self, client: httpx.AsyncClient, caller: Caller, engine: AsyncEngine, fhir: FhirClient
    ) -> None:
        other = await fhir_caller(engine, fhir, GROSS)

        await reschedule_race(client, caller, other)

        assert len(await fhir.search("Appointment", {"status": "booked"})) == 2


async def test_the_whole_call_through_the_gateway(
    client: httpx.AsyncClient, fhir: FhirClient, fhir_services: None
) -> None:
    """Register a new caller, identify them in a later call, then find, book, move and cancel: every record on
    the practice's server."""
    registered = await tool(
        client,
        "register_patient",
        {
            "conversation_id": "conv-register",
            "first_name": GROSS.first_name,
            "last_name": GROSS.last_name,
            "birth_date": GROSS.birth_date.isoformat(),
            "phone": "0160 9876543",
            "insurance": "privat",
            "sms_consent": True,
        },
    )
    identified = await tool(
        client,
        "identify_patient",
        {"conversation_id": "conv-later", "last_name": "Gross", "birth_date": GROSS.birth_date.isoformat()},
    )
    caller = Caller("conv-later", str(identified["patient_ref"]), uuid.uuid4())
    first, second = (await offered(client, caller, earliest=in_three_days()))[:2]
    booked = await tool(client, "book_appointment", caller.body(slot_id=first["slot_id"]))
    appointment_id = booked["appointment"]["appointment_id"]
    moved = await tool(
        client,
        "reschedule_appointment",
        caller.body(appointment_id=appointment_id, new_slot_id=second["slot_id"]),
    )
    on_server = await ignis_appointment(fhir, appointment_id)
    cancelled = await tool(client, "cancel_appointment", caller.body(appointment_id=appointment_id))

    assert (registered["code"], identified["code"]) == ("registered", "identified")
    assert (booked["code"], moved["code"], cancelled["code"]) == ("booked", "rescheduled", "cancelled")
    [patient] = await fhir.search("Patient", {"birthdate": GROSS.birth_date.isoformat()})
    assert {p["actor"]["reference"] for p in on_server["participant"]} >= {f"Patient/{patient['id']}"}
    assert moment(on_server["start"]) == moment(second["start"])
    assert (await ignis_appointment(fhir, appointment_id))["status"] == "cancelled"
