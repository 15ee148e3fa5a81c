"""Retention and erasure: expired call records go, and a patient can be erased with all they left here."""

import asyncio
import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from faststream import TestApp
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.patients.main import create_app
from ignis.patients.models import Call, Patient, Request, Verification
from ignis.patients.repository import PatientRepository
from ignis.patients.service import purge_expired_calls, utcnow
from ignis.patients.settings import PatientsSettings
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


@pytest.mark.usefixtures("clean_database")
class TestErasePatient:
    def ignis(self, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IGNIS_")} | {
            "IGNIS_DATABASE_URL": database_url
        }
        return subprocess.run(
            [sys.executable, "-m", "ignis.cli.main", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    async def test_erases_everything_of_that_patient_and_nothing_else(
        self, engine: AsyncEngine, database_url: str
    ) -> None:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            repo = PatientRepository(session)
            anna, juergen = await repo.add(patient(MUELLER)), await repo.add(patient(GROSS))
            for who in (anna, juergen):
                await repo.issue_ref(
                    f"conv-{who.id}", who.id, f"pr-{who.id}", utcnow() + dt.timedelta(hours=1)
                )
                await repo.add_call(call(f"conv-{who.id}", utcnow() + dt.timedelta(days=9), who.id))
                await repo.add_request(
                    Request(
                        id=uuid.uuid4(),
                        kind="rezept",
                        details="Ramipril",
                        patient_id=who.id,
                        conversation_id=f"conv-{who.id}",
                        urgent=False,
                        idempotency_key=f"k-{who.id}",
                    )
                )
        done = await asyncio.to_thread(self.ignis, database_url, "erase-patient", str(anna.id), "--yes")
        assert done.returncode == 0, done.stderr
        assert "'calls': 1, 'requests': 1, 'verifications': 1, 'patient': 1" in done.stdout
        async with AsyncSession(engine) as session:
            for model in (Patient, Call, Request, Verification):
                assert await session.scalar(select(func.count()).select_from(model)) == 1, model.__name__
            assert await session.get(Patient, juergen.id) is not None

        again = await asyncio.to_thread(self.ignis, database_url, "erase-patient", str(anna.id), "--yes")
        assert again.returncode == 1
        assert "No patient" in again.stderr
        bad = await asyncio.to_thread(self.ignis, database_url, "erase-patient", "not-an-id", "--yes")
        assert bad.returncode == 2
