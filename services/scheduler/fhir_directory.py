"""The practice file on the practice's FHIR server (IGNIS_RECORDS=fhir), mapped once at start-up.

Practitioners and visit types stay in the practice file; at start-up each gets its FHIR counterpart, found
or created idempotently by an Ignis identifier: a `Practitioner`, a `Schedule` (its calendar, ISiK
Terminplanung) and a `HealthcareService` per visit type. Opening hours stay in the practice file. The
appointments themselves are read and written by `fhir_records`.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from ignis.fhir import codes
from ignis.fhir.client import FhirClient, reference, token
from ignis.fhir.settings import FhirSettings
from ignis.practice.config import Practice


@dataclass(frozen=True)
class Directory:
    """The FHIR ids of the practice file's practitioners, their Schedules and the visit types' services."""

    practitioners: dict[str, str]  # practice file id -> Practitioner id
    schedules: dict[str, str]  # practice file id -> Schedule id
    services: dict[str, str]  # visit type id -> HealthcareService id

    def practitioner_of(self, fhir_id: str) -> str | None:
        return next((key for key, value in self.practitioners.items() if value == fhir_id), None)


@dataclass(frozen=True)
class FhirCalendar:
    """What a FHIR-mode scheduler process holds: the pooled client and the directory made at start-up."""

    client: FhirClient
    directory: Directory


async def ensure_directory(fhir: FhirClient, practice: Practice) -> Directory:
    """Find or create the FHIR counterparts of the practice file (conditional creates: restarts and replicas
    starting together make each once)."""
    services: dict[str, str] = {}
    for visit_type in practice.visit_types:
        service = {
            "resourceType": "HealthcareService",
            "identifier": [{"system": codes.IGNIS_VISIT_TYPE, "value": visit_type.id}],
            "active": True,
            "name": visit_type.name,
            "type": [_visit_type_concept(visit_type.id, visit_type.name)],
        }
        created = await fhir.create(
            service, if_none_exist={"identifier": token(codes.IGNIS_VISIT_TYPE, visit_type.id)}
        )
        services[visit_type.id] = created.resource["id"]
    practitioners: dict[str, str] = {}
    schedules: dict[str, str] = {}
    for practitioner in practice.practitioners:
        person = {
            "resourceType": "Practitioner",
            "identifier": [{"system": codes.IGNIS_PRACTITIONER, "value": practitioner.id}],
            "active": True,
            "name": [{"use": "official", "text": practitioner.name}],
        }
        match = {"identifier": token(codes.IGNIS_PRACTITIONER, practitioner.id)}
        fhir_id = (await fhir.create(person, if_none_exist=match)).resource["id"]
        offered = [v for v in practice.visit_types if practitioner in practice.offering(v)]
        schedule = {
            "resourceType": "Schedule",
            "identifier": [{"system": codes.IGNIS_SCHEDULE, "value": practitioner.id}],
            "active": True,
            "serviceType": [_visit_type_concept(v.id, v.name) for v in offered],
            "actor": [{**reference("Practitioner", fhir_id), "display": practitioner.name}],
            "comment": "Kalender der Praxis (Ignis); Sprechzeiten in der Praxisdatei",
        }
        match = {"identifier": token(codes.IGNIS_SCHEDULE, practitioner.id)}
        practitioners[practitioner.id] = fhir_id
        schedules[practitioner.id] = (await fhir.create(schedule, if_none_exist=match)).resource["id"]
    return Directory(practitioners, schedules, services)


@asynccontextmanager
async def open_calendar(settings: FhirSettings, practice: Practice) -> AsyncIterator[FhirCalendar]:
    async with FhirClient.from_settings(settings) as client:
        yield FhirCalendar(client, await ensure_directory(client, practice))


def _visit_type_concept(visit_type_id: str, name: str) -> dict[str, Any]:
    return {"coding": [{"system": codes.IGNIS_VISIT_TYPE, "code": visit_type_id, "display": name}]}
