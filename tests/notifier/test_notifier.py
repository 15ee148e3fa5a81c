"""The notifier end to end: bookings through the tools, events on real JetStream, real Postgres, and the
local sipgate fake as the only stand-in."""

import asyncio
import datetime as dt
import json
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from faststream import FastStream, TestApp
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.contracts import subjects
from ignis.contracts.scheduling import AppointmentBooked, AppointmentCancelled, AppointmentRescheduled
from ignis.gateway.settings import GatewaySettings
from ignis.kit.clock import utcnow
from ignis.notifier.dispatcher import CLAIM_LEASE, MAX_ATTEMPTS
from ignis.notifier.main import create_app as create_notifier
from ignis.notifier.repository import NotifierRepository
from ignis.notifier.settings import NotifierSettings
from ignis.patients.repository import PatientRepository
from ignis.patients.retention import erase_patient
from ignis.practice.sms import gsm7_length
from tests.conftest import HEADERS, Caller, verified_caller
from tests.factories import GROSS, MUELLER, WEIZSAECKER, Person, patient
from tests.fakes.sipgate import HANG, SMS_ID, FakeSipgate
from tests.notifier.conftest import Clock, messages, publish, settled

pytestmark = pytest.mark.usefixtures("notifier")
BERLIN = ZoneInfo("Europe/Berlin")


async def tool(client: httpx.AsyncClient, name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/tools/{name}", json=body, headers=HEADERS)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def book(client: httpx.AsyncClient, caller: Caller, **wish: Any) -> dict[str, Any]:
    """Book the first offered slot in three days as the agent would: find_slots, then book_appointment."""
    earliest = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    offer = await tool(
        client,
        "find_slots",
        {"conversation_id": caller.conversation_id, "visit_type": "akut", "earliest": earliest, **wish},
    )
    assert offer["code"] == "slots", offer
    booked = await tool(client, "book_appointment", caller.body(slot_id=offer["slots"][0]["slot_id"]))
    assert booked["code"] == "booked", booked
    return dict(booked["appointment"])


def staff(settings: GatewaySettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.staff_token.get_secret_value()}"}


async def caller_without_consent(engine: AsyncEngine, person: Person) -> Caller:
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        added = await PatientRepository(session).add(patient(person, sms_consent=False))
    return Caller("conv-none", "unused", added.id)


def booked_event(patient_id: uuid.UUID, start: dt.datetime, **fields: Any) -> AppointmentBooked:
    return AppointmentBooked(
        event_id=uuid.uuid4(),
        occurred_at=utcnow(),
        appointment_id=uuid.uuid4(),
        patient_id=patient_id,
        practitioner_id="weber",
        visit_type_id="akut",
        start=start,
        end=start + dt.timedelta(minutes=10),
        **fields,
    )


def moved_event(booked: AppointmentBooked, start: dt.datetime, at: dt.datetime) -> AppointmentRescheduled:
    """`booked`'s appointment moved to `start` (its second version), the event stamped `at`."""
    return AppointmentRescheduled(
        **booked.model_dump(exclude={"event_id", "occurred_at", "start", "end", "version"}),
        event_id=uuid.uuid4(),
        occurred_at=at,
        start=start,
        end=start + dt.timedelta(minutes=10),
        version=2,
        previous_start=booked.start,
        previous_end=booked.end,
        previous_practitioner_id="weber",
    )


class TestConfirmation:
    async def test_booking_sends_one_correct_german_sms(
        self, client: httpx.AsyncClient, engine: AsyncEngine, sipgate: FakeSipgate
    ) -> None:
        caller = await verified_caller(engine, MUELLER)
        appointment = await book(client, caller)

        rows = await settled(engine, 1, template="confirmation")
        assert [r["status"] for r in rows] == ["sent"]
        assert len(sipgate.sent) == 1
        request = sipgate.requests[0]
        assert request.headers["content-type"] == "application/json"
        assert request.body["smsId"] == SMS_ID
        assert request.body["recipient"] == MUELLER.phone
        start = dt.datetime.fromisoformat(appointment["start"]).astimezone(BERLIN)
        weekday = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"]
        assert request.body["message"] == (
            f"Testpraxis: Ihr Termin {weekday[start.weekday()]}, {start:%d.%m.%Y}, {start:%H:%M} Uhr "
            "ist gebucht. Teststraße 1, 10115 Berlin. Absage: +49 30 1234567"
        )
        assert gsm7_length(request.body["message"]) <= 160
        assert rows[0]["body"] == request.body["message"]

        await asyncio.sleep(0.3)  # more dispatch rounds change nothing
        assert len(sipgate.requests) == 1

    async def test_reason_and_visit_type_never_reach_the_sms(
        self, client: httpx.AsyncClient, engine: AsyncEngine, sipgate: FakeSipgate
    ) -> None:
        caller = await verified_caller(engine, MUELLER)
        earliest = (dt.date.today() + dt.timedelta(days=3)).isoformat()
        offer = await tool(
            client,
            "find_slots",
            {"conversation_id": caller.conversation_id, "visit_type": "vorsorge", "earliest": earliest},
        )
        slot_id = offer["slots"][0]["slot_id"]
        await tool(client, "book_appointment", caller.body(slot_id=slot_id, reason="Verdacht auf Diabetes"))
        await settled(engine, 1, template="confirmation")
        text = sipgate.sent[0]["message"]
        assert "Diabetes" not in text
        assert "Vorsorge" not in text

    async def test_duplicate_event_still_one_sms(
        self, client: httpx.AsyncClient, engine: AsyncEngine, sipgate: FakeSipgate, js: JetStreamContext
    ) -> None:
        caller = await verified_caller(engine, MUELLER)
        start = utcnow() + dt.timedelta(days=3)
        event = booked_event(caller.patient_id, start)
        await publish(js, subjects.APPOINTMENT_BOOKED, event)
        await settled(engine, 1, template="confirmation")
        # Beyond JetStream's duplicate window the same event arrives again (a new message id).
        await publish(js, subjects.APPOINTMENT_BOOKED, event, msg_id=str(uuid.uuid4()))
        await asyncio.sleep(0.5)
        assert len(sipgate.requests) == 1
        assert len(await messages(engine, template="confirmation")) == 1
        assert len(await messages(engine, template="reminder")) == 1

    async def test_no_consent_no_sms_and_the_reason_is_recorded(
        self, client: httpx.AsyncClient, engine: AsyncEngine, sipgate: FakeSipgate, js: JetStreamContext
    ) -> None:
        caller = await caller_without_consent(engine, GROSS)
        await publish(js, subjects.APPOINTMENT_BOOKED, booked_event(caller.patient_id, in_days(3)))
        rows = await settled(engine, 1, template="confirmation")
        assert (rows[0]["status"], rows[0]["reason"]) == ("skipped", "no SMS consent")
        assert sipgate.requests == []

    async def test_landline_no_sms(
        self, engine: AsyncEngine, sipgate: FakeSipgate, js: JetStreamContext
    ) -> None:
        caller = await verified_caller(engine, WEIZSAECKER)  # consented, but a Berlin landline
        await publish(js, subjects.APPOINTMENT_BOOKED, booked_event(caller.patient_id, in_days(3)))
        rows = await settled(engine, 1, template="confirmation")
        assert (rows[0]["status"], rows[0]["reason"]) == ("skipped", "no mobile number")
        assert sipgate.requests == []


def in_days(days: int) -> dt.datetime:
    return (utcnow() + dt.timedelta(days=days)).replace(microsecond=0)


class TestProviderFailures:
    @pytest.mark.parametrize(
        ("status", "reason"),
        [
            (402, "sipgate balance insufficient (402): top up the sipgate account"),
            (401, "sipgate refused the token (401): check IGNIS_SIPGATE_TOKEN_ID and IGNIS_SIPGATE_TOKEN"),
            (403, "sipgate does not allow this SMS extension (403)"),
        ],
    )
    async def test_refusal_is_recorded_not_retried_and_staff_see_it(
        self,
        gateway: httpx.AsyncClient,
        gateway_settings: GatewaySettings,
        engine: AsyncEngine,
        sipgate: FakeSipgate,
        js: JetStreamContext,
        status: int,
        reason: str,
    ) -> None:
        sipgate.answers.append(status)
        caller = await verified_caller(engine, MUELLER)
        event = booked_event(caller.patient_id, in_days(3))
        await publish(js, subjects.APPOINTMENT_BOOKED, event)
        rows = await settled(engine, 1, template="confirmation")
        assert rows[0]["status"] == "failed"
        assert rows[0]["reason"].startswith(reason)
        assert rows[0]["provider_status"] == status
        await asyncio.sleep(0.3)
        assert len(sipgate.requests) == 1

        response = await gateway.get(
            "/staff/messages",
            params={"appointment_id": str(event.appointment_id)},
            headers=staff(gateway_settings),
        )
        assert response.status_code == 200, response.text
        items = {item["template"]: item for item in response.json()["items"]}
        assert items["confirmation"]["status"] == "failed"
        assert items["confirmation"]["reason"].startswith(reason)
        assert items["reminder"]["status"] == "pending"

    async def test_staff_send_a_failed_sms_again_once_the_credit_is_back(
        self,
        gateway: httpx.AsyncClient,
        gateway_settings: GatewaySettings,
        engine: AsyncEngine,
        sipgate: FakeSipgate,
        js: JetStreamContext,
    ) -> None:
        _, failed = await failed_confirmation(engine, sipgate, js, in_days(3))

        retry = f"/staff/messages/{failed['id']}/retry"
        response = await gateway.post(retry, headers=staff(gateway_settings))
        assert response.status_code == 200, response.text
        assert response.json()["message"]["status"] == "pending"
        [sent] = await settled(engine, 1, template="confirmation")
        assert sent["status"] == "sent"
        assert [r.status for r in sipgate.requests] == [402, 204]

        again = await gateway.post(retry, headers=staff(gateway_settings))
        assert again.status_code == 409
        unknown = await gateway.post(f"/staff/messages/{uuid.uuid4()}/retry", headers=staff(gateway_settings))
        assert unknown.status_code == 404
        assert len(sipgate.requests) == 2

    async def test_provider_hangs_unknown_and_never_sent_twice(
        self,
        gateway: httpx.AsyncClient,
        gateway_settings: GatewaySettings,
        engine: AsyncEngine,
        sipgate: FakeSipgate,
        js: JetStreamContext,
    ) -> None:
        sipgate.answers.append(HANG)
        caller = await verified_caller(engine, MUELLER)
        await publish(js, subjects.APPOINTMENT_BOOKED, booked_event(caller.patient_id, in_days(3)))
        rows = await settled(engine, 1, template="confirmation")
        assert rows[0]["status"] == "unknown"
        assert "no answer from sipgate" in rows[0]["reason"]
        await asyncio.sleep(1.0)  # two timeouts' worth of dispatch rounds
        assert len(sipgate.requests) == 1

        response = await gateway.get(
            "/staff/messages", params={"status": "unknown"}, headers=staff(gateway_settings)
        )
        assert [item["patient_id"] for item in response.json()["items"]] == [str(caller.patient_id)]

    async def test_server_error_retried_later_then_sent_once(
        self, engine: AsyncEngine, sipgate: FakeSipgate, js: JetStreamContext, clock: Clock
    ) -> None:
        sipgate.answers.append(500)
        caller = await verified_caller(engine, MUELLER)
        await publish(js, subjects.APPOINTMENT_BOOKED, booked_event(caller.patient_id, in_days(3)))
        for _ in range(100):
            rows = await messages(engine, template="confirmation")
            if rows and rows[0]["attempts"] == 1 and rows[0]["status"] == "pending":
                break
            await asyncio.sleep(0.05)
        assert rows[0]["reason"] == "sipgate answered 500, nothing sent"
        clock.fixed = utcnow() + dt.timedelta(minutes=1)  # past the first backoff
        rows = await settled(engine, 1, template="confirmation")
        assert (rows[0]["status"], rows[0]["attempts"]) == ("sent", 2)
        assert [r.status for r in sipgate.requests] == [500, 204]


async def failed_confirmation(
    engine: AsyncEngine, sipgate: FakeSipgate, js: JetStreamContext, start: dt.datetime
) -> tuple[AppointmentBooked, dict[str, Any]]:
    """A booking of Anna Müller's whose confirmation sipgate refused (402: no credit left)."""
    sipgate.answers.append(402)
    caller = await verified_caller(engine, MUELLER)
    booked = booked_event(caller.patient_id, start)
    await publish(js, subjects.APPOINTMENT_BOOKED, booked)
    [failed] = await settled(engine, 1, template="confirmation")
    assert failed["status"] == "failed"
    return booked, failed


class TestChanges:
    async def test_cancel_withdraws_the_reminder_and_texts_the_cancellation(
        self, client: httpx.AsyncClient, engine: AsyncEngine, sipgate: FakeSipgate, clock: Clock
    ) -> None:
        caller = await verified_caller(engine, MUELLER)
        appointment = await book(client, caller)
        await settled(engine, 1, template="confirmation")
        cancelled = await tool(
            client, "cancel_appointment", caller.body(appointment_id=appointment["appointment_id"])
        )
        assert cancelled["code"] == "cancelled", cancelled
        rows = await settled(engine, 1, template="cancellation")
        assert rows[0]["status"] == "sent"
        assert "ist abgesagt" in sipgate.sent[-1]["message"]
        [reminder] = await messages(engine, template="reminder")
        assert (reminder["status"], reminder["reason"]) == ("withdrawn", "appointment cancelled")

        clock.fixed = dt.datetime.fromisoformat(appointment["start"]) - dt.timedelta(hours=2)
        await asyncio.sleep(0.3)  # the reminder's time has come: still nothing more
        assert len(sipgate.requests) == 2
        assert not any("Erinnerung" in sms["message"] for sms in sipgate.sent)

    async def test_reschedule_moves_the_reminder(
        self, client: httpx.AsyncClient, engine: AsyncEngine, sipgate: FakeSipgate
    ) -> None:
        caller = await verified_caller(engine, MUELLER)
        appointment = await book(client, caller)
        later = (dt.date.today() + dt.timedelta(days=6)).isoformat()
        offer = await tool(
            client,
            "find_slots",
            {"conversation_id": caller.conversation_id, "visit_type": "akut", "earliest": later},
        )
        moved = await tool(
            client,
            "reschedule_appointment",
            caller.body(
                appointment_id=appointment["appointment_id"], new_slot_id=offer["slots"][0]["slot_id"]
            ),
        )
        assert moved["code"] == "rescheduled", moved
        await settled(engine, 1, template="reschedule")
        assert "ist verlegt auf" in sipgate.sent[-1]["message"]
        reminders = await messages(engine, template="reminder")
        assert [r["status"] for r in reminders] == ["withdrawn", "pending"]
        new_start = dt.datetime.fromisoformat(moved["appointment"]["start"])
        assert reminders[1]["start_at"] == new_start
        assert reminders[1]["due_at"] == _wall_clock_day_before(new_start)

    async def test_a_confirmation_held_up_until_after_its_move_is_withdrawn(
        self, engine: AsyncEngine, sipgate: FakeSipgate, js: JetStreamContext, clock: Clock
    ) -> None:
        """sipgate fails the confirmation; the caller moves the appointment meanwhile. When the confirmation's
        retry comes, after the move's SMS, it would name the old time as booked: it is withdrawn."""
        sipgate.answers.append(500)
        caller = await verified_caller(engine, MUELLER)
        booked = booked_event(caller.patient_id, in_days(5))
        await publish(js, subjects.APPOINTMENT_BOOKED, booked)
        await sipgate.wait_for_requests(1)
        await publish(js, subjects.APPOINTMENT_RESCHEDULED, moved_event(booked, in_days(6), utcnow()))
        [move] = await settled(engine, 1, template="reschedule")
        clock.fixed = utcnow() + dt.timedelta(minutes=1)  # past the confirmation's first backoff
        [confirmation] = await settled(engine, 1, template="confirmation")
        assert (confirmation["status"], confirmation["reason"]) == (
            "withdrawn",
            "appointment cancelled or moved",
        )
        assert move["status"] == "sent"
        assert [r.status for r in sipgate.requests] == [500, 204]
        assert "ist verlegt auf" in sipgate.sent[0]["message"]

    async def test_a_failed_confirmation_sent_again_by_staff_after_a_move_is_withdrawn(
        self,
        gateway: httpx.AsyncClient,
        gateway_settings: GatewaySettings,
        engine: AsyncEngine,
        sipgate: FakeSipgate,
        js: JetStreamContext,
    ) -> None:
        booked, failed = await failed_confirmation(engine, sipgate, js, in_days(5))
        await publish(js, subjects.APPOINTMENT_RESCHEDULED, moved_event(booked, in_days(6), utcnow()))
        await settled(engine, 1, template="reschedule")
        retry = f"/staff/messages/{failed['id']}/retry"
        assert (await gateway.post(retry, headers=staff(gateway_settings))).status_code == 200
        [confirmation] = await settled(engine, 1, template="confirmation")
        assert (confirmation["status"], confirmation["reason"]) == (
            "withdrawn",
            "appointment cancelled or moved",
        )
        assert [r.status for r in sipgate.requests] == [402, 204]  # the move's note only

    async def test_a_booking_and_its_move_reach_the_phone_in_order(
        self, engine: AsyncEngine, sipgate: FakeSipgate, js: JetStreamContext
    ) -> None:
        """Booked and moved at once: the confirmation's request is slow on the way, and the move's SMS still
        follows it rather than overtaking it."""
        sipgate.lags["ist gebucht"] = 0.2
        caller = await verified_caller(engine, MUELLER)
        booked = booked_event(caller.patient_id, in_days(5))
        await publish(js, subjects.APPOINTMENT_BOOKED, booked)
        await publish(js, subjects.APPOINTMENT_RESCHEDULED, moved_event(booked, in_days(6), utcnow()))
        [confirmation] = await settled(engine, 1, template="confirmation")
        [move] = await settled(engine, 1, template="reschedule")
        assert (confirmation["status"], move["status"]) == ("sent", "sent")
        texts = [sms["message"] for sms in sipgate.sent]
        assert len(texts) == 2
        assert "ist gebucht" in texts[0]
        assert "ist verlegt auf" in texts[1]

    async def test_two_senders_never_hold_one_patients_sms_at_once(self, engine: AsyncEngine) -> None:
        """Of a patient's due SMS a sender takes the first planned, and no sender takes the next while it is
        on its way; another patient's are taken meanwhile."""
        later = utcnow() + dt.timedelta(hours=1)  # not yet due for the running notifier
        patient, other = uuid.uuid4(), uuid.uuid4()
        for template, whom in (("confirmation", patient), ("reschedule", patient), ("confirmation", other)):
            await due_message(engine, template, whom, later)
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            first = await NotifierRepository(session).claim_due(later, 50, uuid.uuid4())
        assert sorted((m.patient_id == patient, m.template) for m in first) == [
            (False, "confirmation"),
            (True, "confirmation"),
        ]
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            assert await NotifierRepository(session).claim_due(later, 50, uuid.uuid4()) == []
            mine = next(m for m in first if m.patient_id == patient)
            await session.execute(
                text("UPDATE notifier.message SET status = 'sent' WHERE id = :id"), {"id": mine.id}
            )
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            [then] = await NotifierRepository(session).claim_due(later, 50, uuid.uuid4())
        assert (then.patient_id, then.template) == (patient, "reschedule")


async def test_an_sms_that_stops_every_sender_fails_rather_than_hold_back_the_patients_next(
    engine: AsyncEngine,
) -> None:
    later = utcnow() + dt.timedelta(hours=1)  # not yet due for the running notifier
    patient = uuid.uuid4()
    stuck = await due_message(
        engine, "confirmation", patient, later, status="claimed", claimed_at=later, attempts=MAX_ATTEMPTS
    )
    await due_message(engine, "reschedule", patient, later)
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        repo = NotifierRepository(session)
        assert await repo.claim_due(later, 50, uuid.uuid4()) == []  # the earlier one is on its way
        after_the_lease = later + CLAIM_LEASE + dt.timedelta(seconds=1)
        assert await repo.recover(after_the_lease, later + dt.timedelta(seconds=1), later, MAX_ATTEMPTS) == (
            1,
            0,
        )
    [failed] = [m for m in await messages(engine) if m["id"] == stuck]
    assert failed["status"] == "failed"
    assert failed["reason"].startswith("taken by senders that stopped each time")
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        [then] = await NotifierRepository(session).claim_due(later, 50, uuid.uuid4())
    assert then.template == "reschedule"


async def due_message(
    engine: AsyncEngine, template: str, patient_id: uuid.UUID, due: dt.datetime, **columns: Any
) -> uuid.UUID:
    """A pending SMS as the planner records it (each in a statement of its own: planned one after another),
    with other `columns` where given."""
    row = {
        "id": uuid.uuid4(),
        "idempotency_key": str(uuid.uuid4()),
        "event_id": uuid.uuid4(),
        "template": template,
        "appointment_id": uuid.uuid4(),
        "patient_id": patient_id,
        "practitioner_id": "weber",
        "start_at": due + dt.timedelta(days=2),
        "status": "pending",
        "due_at": due,
        **columns,
    }
    async with engine.begin() as conn:
        await conn.execute(
            text(
                f"INSERT INTO notifier.message ({', '.join(row)}) VALUES ({', '.join(f':{c}' for c in row)})"
            ),
            row,
        )
    return row["id"]


def _wall_clock_day_before(start: dt.datetime) -> dt.datetime:
    local = start.astimezone(BERLIN)
    due = (local.replace(tzinfo=None) - dt.timedelta(days=1)).replace(tzinfo=BERLIN)
    if due.hour >= 21 or due.hour < 8:
        due = due.replace(hour=20, minute=30) - dt.timedelta(days=1 if due.hour < 8 else 0)
    return due.astimezone(dt.UTC)


class TestReminders:
    async def test_reminder_at_the_same_local_time_the_day_before_across_dst(
        self, engine: AsyncEngine, sipgate: FakeSipgate, js: JetStreamContext, clock: Clock
    ) -> None:
        """Sunday 28 March 2027, 10:00 CEST: the clocks went forward that night. The reminder goes out on
        Saturday at 10:00 CET (09:00 UTC), not 24 elapsed hours earlier (08:00 UTC, 09:00 local)."""
        caller = await verified_caller(engine, MUELLER)
        start = dt.datetime(2027, 3, 28, 10, 0, tzinfo=BERLIN)
        await publish(js, subjects.APPOINTMENT_BOOKED, booked_event(caller.patient_id, start))
        await settled(engine, 1, template="confirmation")
        [reminder] = await messages(engine, template="reminder")
        assert reminder["due_at"] == dt.datetime(2027, 3, 27, 9, 0, tzinfo=dt.UTC)

        clock.fixed = dt.datetime(2027, 3, 27, 8, 59, tzinfo=dt.UTC)
        await asyncio.sleep(0.3)
        assert len(sipgate.requests) == 1  # the confirmation only

        clock.fixed = dt.datetime(2027, 3, 27, 9, 0, 1, tzinfo=dt.UTC)
        rows = await settled(engine, 1, template="reminder")
        assert rows[0]["status"] == "sent"
        assert sipgate.sent[-1]["message"].startswith(
            "Testpraxis: Erinnerung: Ihr Termin Sonntag, 28.03.2027, 10:00 Uhr."
        )
        await asyncio.sleep(0.3)
        assert len(sipgate.requests) == 2

    async def test_reminder_never_in_the_quiet_hours(self, engine: AsyncEngine, js: JetStreamContext) -> None:
        caller = await verified_caller(engine, MUELLER)
        start = dt.datetime(2027, 5, 4, 7, 30, tzinfo=BERLIN)  # the day before at 07:30 is too early
        await publish(js, subjects.APPOINTMENT_BOOKED, booked_event(caller.patient_id, start))
        await settled(engine, 1, template="confirmation")
        [reminder] = await messages(engine, template="reminder")
        assert reminder["due_at"].astimezone(BERLIN) == dt.datetime(2027, 5, 2, 20, 30, tzinfo=BERLIN)

    async def test_booked_too_late_for_a_reminder(self, engine: AsyncEngine, js: JetStreamContext) -> None:
        caller = await verified_caller(engine, MUELLER)
        start = utcnow() + dt.timedelta(hours=3)
        await publish(js, subjects.APPOINTMENT_BOOKED, booked_event(caller.patient_id, start))
        [reminder] = await settled(engine, 1, template="reminder")
        assert (reminder["status"], reminder["reason"]) == ("skipped", "booked less than 24 hours ahead")

    async def test_stale_event_cannot_undo_a_cancellation(
        self, engine: AsyncEngine, sipgate: FakeSipgate, js: JetStreamContext
    ) -> None:
        caller = await verified_caller(engine, MUELLER)
        booked = booked_event(caller.patient_id, in_days(5))
        cancelled = AppointmentCancelled(
            **(
                booked.model_dump()
                | {
                    "event_id": uuid.uuid4(),
                    "occurred_at": booked.occurred_at + dt.timedelta(seconds=1),
                    "version": 2,
                }
            )
        )
        await publish(js, subjects.APPOINTMENT_CANCELLED, cancelled)
        await settled(engine, 1, template="cancellation")
        await publish(js, subjects.APPOINTMENT_BOOKED, booked)  # arrives late, e.g. after redeliveries
        [confirmation] = await settled(engine, 1, template="confirmation")
        assert confirmation["status"] == "skipped"
        assert await messages(engine, template="reminder") == []

    async def test_events_are_ordered_by_version_not_by_clock(
        self, engine: AsyncEngine, sipgate: FakeSipgate, js: JetStreamContext
    ) -> None:
        """A cancellation that committed after a move, stamped earlier (its handler started first, or its
        replica's clock is behind), still cancels: no reminder for a cancelled appointment."""
        caller = await verified_caller(engine, MUELLER)
        booked = booked_event(caller.patient_id, in_days(5))
        start = booked.occurred_at
        moved = moved_event(booked, in_days(6), start + dt.timedelta(seconds=2))
        cancelled = AppointmentCancelled(
            **moved.model_dump(
                exclude={"event_id", "occurred_at", "version", "previous_start", "previous_end",
                         "previous_practitioner_id"}
            ),
            event_id=uuid.uuid4(),
            occurred_at=start + dt.timedelta(seconds=1),
            version=3,
        )  # fmt: skip
        for subject, event in (
            (subjects.APPOINTMENT_BOOKED, booked),
            (subjects.APPOINTMENT_RESCHEDULED, moved),
            (subjects.APPOINTMENT_CANCELLED, cancelled),
        ):
            await publish(js, subject, event)
        [cancellation] = await settled(engine, 1, template="cancellation")
        assert cancellation["status"] != "skipped"
        reminders = await messages(engine, template="reminder")
        assert {r["status"] for r in reminders} == {"withdrawn"}


async def test_staff_messages_require_the_token_and_page(
    gateway: httpx.AsyncClient, gateway_settings: GatewaySettings, engine: AsyncEngine, js: JetStreamContext
) -> None:
    assert (await gateway.get("/staff/messages")).status_code == 401
    caller = await verified_caller(engine, MUELLER)
    for days in (3, 4, 5):
        await publish(js, subjects.APPOINTMENT_BOOKED, booked_event(caller.patient_id, in_days(days)))
    await settled(engine, 3, template="confirmation")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"patient_id": str(caller.patient_id), "limit": 4} | ({"cursor": cursor} if cursor else {})
        page = (await gateway.get("/staff/messages", params=params, headers=staff(gateway_settings))).json()
        seen += [item["message_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 6  # three confirmations, three reminders
    bad = await gateway.get("/staff/messages", params={"cursor": "x"}, headers=staff(gateway_settings))
    assert bad.status_code == 400
    assert (
        await gateway.get("/staff/messages", params={"status": "lost"}, headers=staff(gateway_settings))
    ).status_code == 422
    json.dumps(page)  # plain JSON all the way


async def test_a_restart_loses_no_reminder_and_sends_none_twice(
    notifier: FastStream,
    notifier_settings: NotifierSettings,
    engine: AsyncEngine,
    sipgate: FakeSipgate,
    js: JetStreamContext,
    clock: Clock,
) -> None:
    caller = await verified_caller(engine, MUELLER)
    start = dt.datetime(2027, 6, 15, 10, 0, tzinfo=BERLIN)
    await publish(js, subjects.APPOINTMENT_BOOKED, booked_event(caller.patient_id, start))
    await settled(engine, 1, template="confirmation")
    await notifier.stop()  # the reminder is planned; the notifier goes away

    clock.fixed = dt.datetime(2027, 6, 14, 10, 0, 30, tzinfo=BERLIN)
    for _ in range(2):  # started again (twice, as after a crash loop): one reminder
        async with TestApp(create_notifier(notifier_settings, clock=clock, poll_seconds=0.05)):
            await settled(engine, 1, template="reminder")
            await asyncio.sleep(0.2)
    assert [r.body["message"][:32] for r in sipgate.requests] == [
        "Testpraxis: Ihr Termin Dienstag,",
        "Testpraxis: Erinnerung: Ihr Term",
    ]


async def test_erasing_a_patient_erases_their_appointments_and_sms_everywhere(
    client: httpx.AsyncClient, engine: AsyncEngine, sipgate: FakeSipgate
) -> None:
    """`ignis erase-patient` in the patients schema; `patient.erased` makes the scheduler and the notifier
    delete theirs, while they run (the patients service's outbox relay sends the event)."""
    anna = await verified_caller(engine, MUELLER)
    juergen = await verified_caller(engine, GROSS)
    for caller in (anna, juergen):
        await book(client, caller)
    await settled(engine, 2, template="confirmation")

    async with AsyncSession(engine) as session, session.begin():
        counts = await erase_patient(PatientRepository(session), anna.patient_id)
    assert counts["patient"] == 1

    async def left(patient_id: uuid.UUID) -> list[int]:
        tables = ("scheduler.appointment", "notifier.message", "notifier.appointment")
        async with engine.connect() as conn:
            return [
                int(
                    await conn.scalar(
                        text(f"SELECT count(*) FROM {t} WHERE patient_id = :id"), {"id": patient_id}
                    )
                )
                for t in tables
            ]

    deadline = asyncio.get_running_loop().time() + 10
    while await left(anna.patient_id) != [0, 0, 0]:
        assert asyncio.get_running_loop().time() < deadline, await left(anna.patient_id)
        await asyncio.sleep(0.1)
    assert await left(juergen.patient_id) == [1, 2, 1]  # the other patient keeps everything


async def test_staff_withdraw_and_give_sms_consent(
    client: httpx.AsyncClient,
    gateway_settings: GatewaySettings,
    engine: AsyncEngine,
    sipgate: FakeSipgate,
    js: JetStreamContext,
) -> None:
    anna = await verified_caller(engine, MUELLER)
    consent = f"/staff/patients/{anna.patient_id}/sms-consent"
    withdrawn = await client.put(consent, json={"sms_consent": False}, headers=staff(gateway_settings))
    assert withdrawn.status_code == 200, withdrawn.text
    assert (withdrawn.json()["sms_consent"], withdrawn.json()["sms_consent_at"]) == (False, None)
    await publish(js, subjects.APPOINTMENT_BOOKED, booked_event(anna.patient_id, in_days(3)))
    [first] = await settled(engine, 1, template="confirmation")
    assert (first["status"], first["reason"]) == ("skipped", "no SMS consent")

    given = await client.put(consent, json={"sms_consent": True}, headers=staff(gateway_settings))
    assert given.json()["sms_consent"] is True
    assert given.json()["sms_consent_at"] is not None
    await publish(js, subjects.APPOINTMENT_BOOKED, booked_event(anna.patient_id, in_days(4)))
    rows = await settled(engine, 2, template="confirmation")
    assert sorted(r["status"] for r in rows) == ["sent", "skipped"]
    assert len(sipgate.sent) == 1

    nobody = await client.put(
        f"/staff/patients/{uuid.uuid4()}/sms-consent",
        json={"sms_consent": True},
        headers=staff(gateway_settings),
    )
    assert nobody.status_code == 404
    assert (await client.put(consent, json={}, headers=staff(gateway_settings))).status_code == 422
