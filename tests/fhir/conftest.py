"""The FHIR record mode: services whose records are on Medplum's FHIR engine (tests/fhir_engine)."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from faststream import TestApp
from faststream.nats import NatsBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.fhir.client import FhirClient, Resource
from ignis.kit.bus import make_broker
from ignis.patients.main import create_app as create_patients
from ignis.patients.settings import PatientsSettings
from ignis.scheduler.main import create_app as create_scheduler
from ignis.scheduler.settings import SchedulerSettings
from tests.conftest import wait_until_serving
from tests.factories import Person


@pytest.fixture
async def fhir(fhir_url: str) -> AsyncIterator[FhirClient]:
    """A client of the engine, for the test's own reads and writes (as the practice's software would)."""
    async with FhirClient(fhir_url) as client:
        yield client


@pytest.fixture
def fhir_patients_settings(
    nats_url: str, database_url: str, tmp_path: Path, fhir_url: str
) -> PatientsSettings:
    return PatientsSettings(
        nats_url=nats_url,
        database_url=database_url,
        home=tmp_path,
        log_format="text",
        records="fhir",
        fhir_url=fhir_url,
    )


@pytest.fixture
async def patients_bus(
    fhir_patients_settings: PatientsSettings, sessionmaker: async_sessionmaker[AsyncSession], nats_url: str
) -> AsyncIterator[NatsBroker]:
    """The patients service in FHIR record mode (its Postgres rolled back after the test) and a broker to
    ask it."""
    async with TestApp(create_patients(fhir_patients_settings, sessionmaker)):
        requester = make_broker(nats_url, "test-client")
        await requester.start()
        await wait_until_serving(requester, "patients")
        yield requester
        await requester.stop()


@pytest.fixture
async def committing_patients_bus(
    fhir_patients_settings: PatientsSettings, nats_url: str, clean_database: None
) -> AsyncIterator[NatsBroker]:
    """The same with its own engine: its commits are real (concurrent handlers need their own connections)."""
    async with TestApp(create_patients(fhir_patients_settings)):
        requester = make_broker(nats_url, "test-client")
        await requester.start()
        await wait_until_serving(requester, "patients")
        yield requester
        await requester.stop()


@pytest.fixture
async def fhir_services(
    nats_url: str,
    database_url: str,
    practice_file: Path,
    tmp_path: Path,
    fhir_url: str,
    clean_database: None,
) -> AsyncIterator[None]:
    """Patients and scheduler in FHIR record mode, each with its own engine (bookings really commit)."""
    common: dict[str, Any] = {
        "nats_url": nats_url,
        "database_url": database_url,
        "home": tmp_path,
        "log_format": "text",
        "records": "fhir",
        "fhir_url": fhir_url,
        # The engine serves one request at a time: under the concurrency tests a request queues for seconds.
        "fhir_timeout_seconds": 20.0,
    }
    patients = create_patients(PatientsSettings(**common))
    scheduler = create_scheduler(SchedulerSettings(**common, practice_file=practice_file))
    async with TestApp(patients), TestApp(scheduler):
        await wait_until_serving(patients.broker, "scheduler")
        await wait_until_serving(patients.broker, "patients")
        yield


def practice_patient(person: Person, **fields: object) -> Resource:
    """A Patient as the practice's own software keeps it: no Ignis identifier, a KVNR, a formatted name."""
    resource: Resource = {
        "resourceType": "Patient",
        "identifier": [{"system": "http://fhir.de/sid/gkv/kvid-10", "value": "A123456789"}],
        "name": [{"use": "official", "family": person.last_name, "given": [person.first_name]}],
        "birthDate": person.birth_date.isoformat(),
        "gender": {"Frau": "female", "Herr": "male"}.get(person.salutation or "", "unknown"),
    }
    if person.phone:
        resource["telecom"] = [{"system": "phone", "value": person.phone, "use": "mobile"}]
    return resource | fields


async def on_server(fhir: FhirClient, *people: Person) -> list[Resource]:
    return [(await fhir.create(practice_patient(person))).resource for person in people]
