"""Retention and erasure: expired call records go, and a patient can be erased with all they left here."""

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import nats
import pytest
from faststream import TestApp
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.cli.erasure import STREAMS
from ignis.contracts import subjects
from ignis.kit.bus import ensure_streams
from ignis.kit.clock import utcnow
from ignis.kit.embedded import free_port
from ignis.kit.settings import Settings
from ignis.patients.main import create_app
from ignis.patients.models import Call, IdentityAttempt, Patient, Request, Verification
from ignis.patients.repository import PatientRepository
from ignis.patients.retention import purge_expired_calls
from ignis.patients.settings import PatientsSettings
from ignis.scheduler.main import create_app as create_scheduler
from ignis.scheduler.settings import SchedulerSettings
from tests.conftest import wait_until_serving
from tests.factories import GROSS, MUELLER, patient


def call(conversation_id: str, retain_until: dt.datetime, patient_id: uuid.UUID | None = None) -> Call:
    return Call(
        conversation_id=conversation_id,
        kind="post_call_transcription",
        patient_id=patient_id,
        transcript=[{"role": "user", "message": "Ich habe Fieber."}],
        retain_until=retain_until,
    )


class TestPurge:
    async def test_only_expired_records_go(self, session: AsyncSession) -> None:
        repo = PatientRepository(session)
        await repo.add_call(call("old", utcnow() - dt.timedelta(minutes=1)))
        await repo.add_call(call("young", utcnow() + dt.timedelta(days=1)))
        assert await purge_expired_calls(repo, utcnow()) == 1
        assert [c.conversation_id for c in (await session.execute(select(Call))).scalars()] == ["young"]

    @pytest.mark.usefixtures("clean_database")
    async def test_the_service_purges_on_its_own(
        self, engine: AsyncEngine, nats_url: str, database_url: str, tmp_path: Path
    ) -> None:
        async with AsyncSession(engine) as session, session.begin():
            await PatientRepository(session).add_call(call("expired", utcnow() - dt.timedelta(days=1)))
        settings = PatientsSettings(nats_url=nats_url, database_url=database_url, home=tmp_path)
        async with TestApp(create_app(settings)):
            for _ in range(50):
                async with AsyncSession(engine) as session:
                    if not await session.scalar(select(func.count()).select_from(Call)):
                        break
                await asyncio.sleep(0.1)
        async with AsyncSession(engine) as session:
            assert await session.scalar(select(func.count()).select_from(Call)) == 0


def request(patient_id: uuid.UUID | None, conversation_id: str, callback: str | None = None) -> Request:
    return Request(
        id=uuid.uuid4(),
        kind="rueckruf" if patient_id is None else "rezept",
        details="Ramipril",
        patient_id=patient_id,
        conversation_id=conversation_id,
        callback_number=callback,
        urgent=False,
        idempotency_key=f"k-{uuid.uuid4()}",
    )


def post_call(conversation_id: str) -> bytes:
    """ElevenLabs' post-call event as the gateway stores it (shortened)."""
    return json.dumps(
        {"type": "post_call_transcription", "data": {"conversation_id": conversation_id, "transcript": []}}
    ).encode()


@pytest.mark.usefixtures("clean_database")
class TestErasePatient:
    def ignis(self, database_url: str, nats_url: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IGNIS_")} | {
            "IGNIS_DATABASE_URL": database_url,
            "IGNIS_NATS_URL": nats_url,
        }
        return subprocess.run(
            [sys.executable, "-m", "ignis.cli.main", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    async def test_erases_everything_of_that_patient_everywhere_and_nothing_else(
        self, engine: AsyncEngine, database_url: str, nats_url: str, practice_file: Path, tmp_path: Path
    ) -> None:
        """Her verified call, an unverified call and a callback request from her number, the copies of those
        calls in NATS (raw and dead-lettered) and events naming her go; the scheduler (running) says what it
        erased, the notifier (down) erases on `patient.erased` later. Jürgen and a stranger keep theirs."""
        tag = uuid.uuid4().hex[:8]
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            repo = PatientRepository(session)
            anna, juergen = await repo.add(patient(MUELLER)), await repo.add(patient(GROSS))
            for who in (anna, juergen):
                await repo.issue_ref(
                    f"conv-{who.id}", who.id, f"pr-{who.id}", utcnow() + dt.timedelta(hours=1)
                )
                await repo.add_call(call(f"conv-{who.id}", utcnow() + dt.timedelta(days=9), who.id))
                await repo.add_request(request(who.id, f"conv-{who.id}"))
            later = utcnow() + dt.timedelta(days=9)
            await repo.add_call(
                Call(
                    conversation_id=f"unverified-{tag}",
                    kind="call_initiation_failure",
                    caller_number=MUELLER.phone,
                    retain_until=later,
                )
            )
            await repo.add_call(
                Call(
                    conversation_id=f"stranger-{tag}",
                    kind="call_initiation_failure",
                    caller_number="+4930999999",
                    retain_until=later,
                )
            )
            await repo.add_request(request(None, f"callback-{tag}", callback=MUELLER.phone))
            await repo.add_attempt(  # a failed identification from her number: its caller key is her phone
                IdentityAttempt(
                    conversation_id=f"guess-{tag}",
                    kind="failed",
                    caller_key=MUELLER.phone,
                    name_codes=["657"],
                    name_said="muller",
                    attempted_at=utcnow(),
                )
            )
            await repo.add_request(request(None, f"other-{tag}", callback="+4930999999"))
        async with engine.begin() as conn:
            for who, practitioner in ((anna, "weber"), (juergen, "yilmaz")):
                await conn.execute(
                    text(
                        "INSERT INTO scheduler.appointment (id, patient_id, practitioner_id, visit_type_id, "
                        "start_at, end_at, reason, conversation_id) VALUES (:id, :patient, :who, 'akut', "
                        "now() + interval '3 days', now() + interval '3 days 10 minutes', 'Husten', :conv)"
                    ),
                    {"id": uuid.uuid4(), "patient": who.id, "who": practitioner, "conv": f"conv-{who.id}"},
                )
                await conn.execute(  # the booking's event, kept in the scheduler's outbox
                    text(
                        "INSERT INTO scheduler.outbox (event_id, subject, payload, published_at) "
                        "VALUES (:id, :subject, :body, now())"
                    ),
                    {
                        "id": uuid.uuid4(),
                        "subject": subjects.APPOINTMENT_BOOKED,
                        "body": json.dumps({"patient_id": str(who.id)}).encode(),
                    },
                )

        await ensure_streams(Settings(nats_url=nats_url), STREAMS)
        connection = await nats.connect(nats_url)
        js = connection.jetstream()
        webhook = subjects.elevenlabs_webhook("post_call_transcription")

        async def put(subject: str, stream: str, body: bytes) -> int:
            return (await js.publish(subject, body, stream=stream)).seq

        def event(who: uuid.UUID) -> bytes:
            return json.dumps({"event_id": str(uuid.uuid4()), "patient_id": str(who)}).encode()

        gone = [
            (
                subjects.WEBHOOKS_STREAM,
                await put(webhook, subjects.WEBHOOKS_STREAM, post_call(f"conv-{anna.id}")),
            ),
            (
                subjects.WEBHOOKS_STREAM,
                await put(webhook, subjects.WEBHOOKS_STREAM, post_call(f"unverified-{tag}")),
            ),
            (
                subjects.DEAD_LETTER_STREAM,
                await put(
                    subjects.dead_letter(webhook), subjects.DEAD_LETTER_STREAM, post_call(f"callback-{tag}")
                ),
            ),
            (
                subjects.EVENTS_STREAM,
                await put(subjects.APPOINTMENT_BOOKED, subjects.EVENTS_STREAM, event(anna.id)),
            ),
        ]
        kept = [
            (
                subjects.WEBHOOKS_STREAM,
                await put(webhook, subjects.WEBHOOKS_STREAM, post_call(f"conv-{juergen.id}")),
            ),
            (
                subjects.WEBHOOKS_STREAM,
                await put(webhook, subjects.WEBHOOKS_STREAM, post_call(f"stranger-{tag}")),
            ),
            (
                subjects.EVENTS_STREAM,
                await put(subjects.APPOINTMENT_BOOKED, subjects.EVENTS_STREAM, event(juergen.id)),
            ),
        ]

        settings = SchedulerSettings(
            nats_url=nats_url, database_url=database_url, home=tmp_path, practice_file=practice_file
        )
        try:
            async with TestApp(create_scheduler(settings)) as scheduler:
                await wait_until_serving(scheduler.broker, "scheduler")
                done = await asyncio.to_thread(
                    self.ignis, database_url, nats_url, "erase-patient", str(anna.id), "--yes"
                )
            assert done.returncode == 0, done.stderr
            assert done.stdout.splitlines()[1:] == [
                "  patients: calls 2, requests 2, verifications 1, identity_attempts 1, patient 1",
                "  nats: IGNIS_WEBHOOKS 2, IGNIS_DEAD_LETTERS 1, IGNIS_EVENTS 1",
                "  scheduler: appointments 1, waitlist 0, events 1",
                "  notifier: pending: notifier erases when it is back",
                "  elevenlabs: not configured",
            ]
            for stream, sequence in gone:
                with pytest.raises(nats.js.errors.NotFoundError):
                    await js.get_msg(stream, sequence)
            for stream, sequence in kept:
                assert (await js.get_msg(stream, sequence)).data
        finally:
            await connection.close()
        async with AsyncSession(engine) as session:
            for model, left in ((Patient, 1), (Call, 2), (Request, 2), (Verification, 1)):
                assert await session.scalar(select(func.count()).select_from(model)) == left, model.__name__
            assert await session.get(Patient, juergen.id) is not None
            assert await session.get(Call, f"stranger-{tag}") is not None
            appointments = await session.scalar(
                text("SELECT array_agg(patient_id) FROM scheduler.appointment")
            )
            assert appointments == [juergen.id]
            assert await session.scalar(text("SELECT count(*) FROM scheduler.outbox")) == 1

        again = await asyncio.to_thread(
            self.ignis, database_url, nats_url, "erase-patient", str(anna.id), "--yes"
        )
        assert again.returncode == 1
        assert "No patient" in again.stderr
        bad = await asyncio.to_thread(
            self.ignis, database_url, nats_url, "erase-patient", "not-an-id", "--yes"
        )
        assert bad.returncode == 2

    async def test_without_nats_nothing_is_erased(self, engine: AsyncEngine, database_url: str) -> None:
        """The copies in the streams would be unfindable once the records that name them are gone."""
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            anna = await PatientRepository(session).add(patient(MUELLER))
        nowhere = f"nats://127.0.0.1:{free_port()}"
        done = await asyncio.to_thread(
            self.ignis, database_url, nowhere, "erase-patient", str(anna.id), "--yes"
        )
        assert done.returncode == 1
        assert "nothing erased" in done.stderr
        async with AsyncSession(engine) as session:
            assert await session.get(Patient, anna.id) is not None
