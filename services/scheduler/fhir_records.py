"""The calendar on the practice's FHIR server (IGNIS_RECORDS=fhir): appointments are `Appointment`s there.

Practitioners and visit types stay in the practice file; at start-up each gets its FHIR counterpart, found
or created idempotently by an Ignis identifier: a `Practitioner`, a `Schedule` (its calendar, ISiK
Terminplanung) and a `HealthcareService` per visit type. Opening hours stay in the practice file.

Busy time is every Appointment of the practitioner on the server that is not cancelled, a no-show or
entered in error, and every busy `Slot` of their Schedule, whoever wrote them; nothing is cached, so a
booking made at the practice's desk is avoided by the next `find_slots`.

No double booking between writers that follow the protocol: a booking reads the practitioner's Schedule,
checks the time is free, then writes one transaction that bumps the Schedule's booking lock (`ifMatch` on
the version it read) and creates the Appointment (`ifNoneExist` on the booking's identifier, so a retry
never makes two). Two concurrent bookers of one practitioner cannot both pass the `ifMatch`; the loser reads
again and either books (other time) or hears the slot is taken. A writer that does not bump the Schedule can
still overlap an Ignis booking (README "FHIR", Scheduling).
"""

import asyncio
import datetime as dt
import math
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ignis.fhir import codes
from ignis.fhir.client import (
    FhirClient,
    FhirPreconditionFailed,
    Resource,
    reference,
    token,
    version_of,
)
from ignis.fhir.ids import appointment_id_of, patient_id_of
from ignis.fhir.settings import FhirSettings
from ignis.practice.config import Practice
from ignis.scheduler.errors import DuplicateBooking, SlotAlreadyTaken
from ignis.scheduler.models import Appointment
from ignis.scheduler.repository import AppointmentRepository, Holds

# Appointment statuses that do not hold time (FHIR R4 appointmentstatus).
FREE_STATUSES = frozenset({"cancelled", "noshow", "entered-in-error"})
BUSY_SLOT_STATUSES = frozenset({"busy", "busy-unavailable", "busy-tentative"})
# Appointments are searched by start (`date`); one that started this long before a window can still reach
# into it. Longer appointments (a whole-day block) belong in a busy Slot or an absence of the practice file.
LONGEST_APPOINTMENT = dt.timedelta(hours=12)
# A booking whose `ifMatch` lost to another booking of the same practitioner checks again this often.
BOOKING_ATTEMPTS = 8


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


def _instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def _seconds(start: str, end: str) -> tuple[int, int]:
    return math.floor(_moment(start).timestamp()), math.ceil(_moment(end).timestamp())


def _identifier(resource: Resource, system: str) -> str | None:
    return next(
        (str(i["value"]) for i in resource.get("identifier") or [] if i.get("system") == system), None
    )


def _actor_id(resource: Resource, resource_type: str) -> str | None:
    for participant in resource.get("participant") or []:
        ref = str((participant.get("actor") or {}).get("reference") or "")
        if ref.startswith(f"{resource_type}/"):
            return ref.split("/", 1)[1]
    return None


def _change(resource: Resource) -> int:
    return next(
        (
            int(e["valueInteger"])
            for e in resource.get("extension") or []
            if e.get("url") == codes.IGNIS_CHANGE
        ),
        1,
    )


def _with_change(resource: Resource, change: int) -> Resource:
    others = [e for e in resource.get("extension") or [] if e.get("url") != codes.IGNIS_CHANGE]
    return resource | {"extension": [*others, {"url": codes.IGNIS_CHANGE, "valueInteger": change}]}


class FhirAppointments(AppointmentRepository):
    """The scheduler's records on the FHIR server; the outbox (Ignis' business) stays in `session`.

    One per unit of work, like the repository it stands in for. It remembers the resources it read, so a
    change writes back the version it saw (`ifMatch`)."""

    def __init__(self, session: AsyncSession, calendar: FhirCalendar) -> None:
        super().__init__(session)
        self.fhir = calendar.client
        self.directory = calendar.directory
        self._read: dict[uuid.UUID, Resource] = {}  # Ignis id -> the Appointment as read
        self._patients: dict[uuid.UUID, str] = {}  # Ignis patient id -> FHIR Patient id
        self._schedules: dict[str, Resource] = {}  # practitioner -> Schedule as read by lock_practitioner

    def know_patient(self, patient_id: uuid.UUID, fhir_patient_id: str | None) -> None:
        if fhir_patient_id:
            self._patients[patient_id] = fhir_patient_id

    # Reads

    async def _appointments(
        self, start: dt.datetime, end: dt.datetime, **params: str | list[str]
    ) -> list[Resource]:
        """Appointments holding time that overlaps [start, end)."""
        query = {"date": [f"gt{_instant(start - LONGEST_APPOINTMENT)}", f"lt{_instant(end)}"], **params}
        found = await self.fhir.search("Appointment", query, count=1000)
        return [
            a
            for a in found
            if a.get("status") not in FREE_STATUSES
            and a.get("start")
            and a.get("end")
            and _moment(a["end"]) > start
            and _moment(a["start"]) < end
        ]

    def _to_appointment(self, resource: Resource) -> Appointment | None:
        practitioner = self.directory.practitioner_of(_actor_id(resource, "Practitioner") or "")
        patient = _actor_id(resource, "Patient")
        if practitioner is None or patient is None or not resource.get("start") or not resource.get("end"):
            return None
        own = _identifier(resource, codes.IGNIS_APPOINTMENT)
        key = uuid.UUID(own) if own else appointment_id_of(resource["id"])
        visit_type = next(
            (
                c.get("code")
                for concept in resource.get("serviceType") or []
                for c in concept.get("coding") or []
                if c.get("system") == codes.IGNIS_VISIT_TYPE
            ),
            "",
        )
        self._read[key] = resource
        self._patients[patient_id_of(patient)] = patient
        return Appointment(
            id=key,
            patient_id=patient_id_of(patient),
            practitioner_id=practitioner,
            visit_type_id=str(visit_type),
            start_at=_moment(resource["start"]),
            end_at=_moment(resource["end"]),
            status="cancelled" if resource.get("status") in FREE_STATUSES else "booked",
            reason=resource.get("comment"),
            conversation_id="",
            idempotency_key=_identifier(resource, codes.IGNIS_BOOKING),
            version=_change(resource),
        )

    async def busy(
        self,
        practitioner_ids: Collection[str],
        start: dt.datetime,
        end: dt.datetime,
        holds: Holds | None = None,
    ) -> dict[str, list[tuple[int, int]]]:
        """Appointments and busy Slots on the server, one search of each, run together; as the Postgres
        repository answers: [start, end) in whole seconds since the epoch, rounded outwards."""
        known = [p for p in practitioner_ids if p in self.directory.practitioners]
        if not known:
            return {}
        actors = ",".join(f"Practitioner/{self.directory.practitioners[p]}" for p in known)
        schedules = ",".join(f"Schedule/{self.directory.schedules[p]}" for p in known)
        appointments, slots = await asyncio.gather(
            self._appointments(start, end, actor=actors),
            self.fhir.search(
                "Slot",
                {
                    "schedule": schedules,
                    "start": [f"gt{_instant(start - LONGEST_APPOINTMENT)}", f"lt{_instant(end)}"],
                },
                count=1000,
            ),
        )
        busy: dict[str, list[tuple[int, int]]] = defaultdict(list)
        by_actor = {fhir_id: key for key, fhir_id in self.directory.practitioners.items()}
        for resource in appointments:
            for participant in resource.get("participant") or []:
                ref = str((participant.get("actor") or {}).get("reference") or "")
                practitioner = by_actor.get(ref.removeprefix("Practitioner/"))
                if ref.startswith("Practitioner/") and practitioner in known:
                    busy[practitioner].append(_seconds(resource["start"], resource["end"]))
        by_schedule = {fhir_id: key for key, fhir_id in self.directory.schedules.items()}
        for slot in slots:
            owner = by_schedule.get(
                str((slot.get("schedule") or {}).get("reference") or "").removeprefix("Schedule/")
            )
            if owner and slot.get("status") in BUSY_SLOT_STATUSES:
                slot_start, slot_end = _moment(slot["start"]), _moment(slot["end"])
                if slot_end > start and slot_start < end:
                    busy[owner].append(_seconds(slot["start"], slot["end"]))
        for intervals in busy.values():
            intervals.sort()
        return await self.with_held(dict(busy), practitioner_ids, start, end, holds)

    async def is_free(
        self,
        practitioner_id: str,
        start: dt.datetime,
        end: dt.datetime,
        ignore: uuid.UUID | None = None,
        holds: Holds | None = None,
    ) -> bool:
        own = self._read.get(ignore) if ignore else None
        busy = await self.busy([practitioner_id], start, end, holds)
        if own is not None:  # the appointment being moved does not block its own new time
            held = _seconds(own["start"], own["end"])
            intervals = list(busy.get(practitioner_id, []))
            if held in intervals:
                intervals.remove(held)
            return not intervals
        return not busy.get(practitioner_id)

    async def by_idempotency_key(self, key: str) -> Appointment | None:
        found = await self.fhir.search("Appointment", {"identifier": token(codes.IGNIS_BOOKING, key)})
        appointments = [a for a in (self._to_appointment(r) for r in found) if a is not None]
        return appointments[0] if appointments else None

    async def get_for_update(self, appointment_id: uuid.UUID) -> Appointment | None:
        """The appointment Ignis made with this id; its version is kept for the `ifMatch` of a change."""
        found = await self.fhir.search(
            "Appointment", {"identifier": token(codes.IGNIS_APPOINTMENT, str(appointment_id))}
        )
        appointments = [a for a in (self._to_appointment(r) for r in found) if a is not None]
        return appointments[0] if appointments else None

    async def upcoming_for_patient(self, patient_id: uuid.UUID, now: dt.datetime) -> Sequence[Appointment]:
        fhir_patient = self._patients.get(patient_id)
        if fhir_patient is None:
            return []
        found = await self.fhir.search(
            "Appointment",
            {"patient": f"Patient/{fhir_patient}", "date": f"gt{_instant(now - LONGEST_APPOINTMENT)}"},
        )
        appointments = [a for a in (self._to_appointment(r) for r in found) if a is not None]
        return sorted(
            (a for a in appointments if a.status == "booked" and a.end_at > now), key=lambda a: a.start_at
        )

    async def booked_between(
        self, start: dt.datetime, end: dt.datetime, limit: int, after: tuple[dt.datetime, uuid.UUID] | None
    ) -> Sequence[Appointment]:
        found = await self.fhir.search(
            "Appointment", {"date": [f"ge{_instant(start)}", f"lt{_instant(end)}"]}, count=1000
        )
        appointments = [
            a for a in (self._to_appointment(r) for r in found) if a is not None and a.status == "booked"
        ]
        ordered = sorted(appointments, key=lambda a: (a.start_at, a.id))
        if after is not None:
            ordered = [a for a in ordered if (a.start_at, a.id) > after]
        return ordered[:limit]

    async def count_booked(self) -> int:
        return await self.fhir.count("Appointment", {"status": "booked"})

    async def erase_patient(self, patient_id: uuid.UUID) -> int:
        """The practice's records are the practice's: an erasure by phone does not delete them there."""
        return 0

    # Writes

    async def lock_practitioner(self, practitioner_id: str) -> None:
        """Read the practitioner's Schedule: its version is the `ifMatch` of the booking that follows, so
        the check of free time in between cannot be overtaken by another booking."""
        schedule_id = self.directory.schedules[practitioner_id]
        self._schedules[practitioner_id] = await self.fhir.read("Schedule", schedule_id)

    def _bumped(self, practitioner_id: str) -> Resource:
        """The transaction entry that bumps the Schedule's booking lock, valid only on the version read."""
        schedule = self._schedules[practitioner_id]
        others = [e for e in schedule.get("extension") or [] if e.get("url") != codes.IGNIS_BOOKING_LOCK]
        lock = {"url": codes.IGNIS_BOOKING_LOCK, "valueString": uuid.uuid4().hex}
        body = {k: v for k, v in schedule.items() if k != "meta"} | {"extension": [*others, lock]}
        return {
            "resource": body,
            "request": {
                "method": "PUT",
                "url": f"Schedule/{schedule['id']}",
                "ifMatch": f'W/"{version_of(schedule)}"',
            },
        }

    async def _locked_write(
        self,
        practitioner_id: str,
        entry: Resource,
        start: dt.datetime,
        end: dt.datetime,
        ignore: uuid.UUID | None = None,
    ) -> list[Resource]:
        """`entry` with the Schedule's bump in one transaction; a lost `ifMatch` reads again and, if the
        time is still free, tries again."""
        for _ in range(BOOKING_ATTEMPTS):
            try:
                return await self.fhir.transaction([self._bumped(practitioner_id), entry])
            except FhirPreconditionFailed:
                await self.lock_practitioner(practitioner_id)
                if not await self.is_free(practitioner_id, start, end, ignore=ignore):
                    raise SlotAlreadyTaken() from None
        raise SlotAlreadyTaken()  # this practitioner's calendar is too busy to get a write in now

    async def add(self, appointment: Appointment) -> Appointment:
        fhir_patient = self._patients[appointment.patient_id]
        resource: Resource = {
            "resourceType": "Appointment",
            "identifier": [
                {"system": codes.IGNIS_APPOINTMENT, "value": str(appointment.id)},
                {"system": codes.IGNIS_BOOKING, "value": appointment.idempotency_key},
            ],
            "status": "booked",
            "serviceType": [self._service_type(appointment.visit_type_id)],
            "start": _instant(appointment.start_at),
            "end": _instant(appointment.end_at),
            "minutesDuration": int((appointment.end_at - appointment.start_at).total_seconds() // 60),
            "created": _instant(dt.datetime.now(dt.UTC)),
            "participant": [
                {"actor": reference("Patient", fhir_patient), "status": "accepted", "required": "required"},
                {
                    "actor": reference(
                        "Practitioner", self.directory.practitioners[appointment.practitioner_id]
                    ),
                    "status": "accepted",
                    "required": "required",
                },
            ],
            "extension": [{"url": codes.IGNIS_CHANGE, "valueInteger": 1}],
        }
        if appointment.reason:
            resource["comment"] = appointment.reason
        entry = {
            "fullUrl": f"urn:uuid:{appointment.id}",
            "resource": resource,
            "request": {
                "method": "POST",
                "url": "Appointment",
                "ifNoneExist": f"identifier={token(codes.IGNIS_BOOKING, str(appointment.idempotency_key))}",
            },
        }
        try:
            answers = await self._locked_write(
                appointment.practitioner_id, entry, appointment.start_at, appointment.end_at
            )
        except SlotAlreadyTaken:
            if await self.by_idempotency_key(str(appointment.idempotency_key)) is not None:
                raise DuplicateBooking() from None  # taken by the identical call (a retry that raced it)
            raise
        if not str((answers[1].get("response") or {}).get("status", "")).startswith("201"):
            raise DuplicateBooking()  # the identical call made it first
        appointment.version = 1
        return appointment

    def _service_type(self, visit_type_id: str) -> dict[str, Any]:
        return {"coding": [{"system": codes.IGNIS_VISIT_TYPE, "code": visit_type_id}]}

    async def move(
        self,
        appointment: Appointment,
        practitioner_id: str,
        visit_type_id: str,
        start: dt.datetime,
        end: dt.datetime,
        late: bool = False,
    ) -> None:
        """The same Appointment resource, new time (`ifMatch` on the version read, with the Schedule bump)."""
        appointment.late_change = late  # told in the reply and the event; the resource carries no such flag
        read = self._read[appointment.id]
        change = _change(read) + 1
        participants = [
            p
            for p in read.get("participant") or []
            if not str((p.get("actor") or {}).get("reference") or "").startswith("Practitioner/")
        ]
        participants.append(
            {
                "actor": reference("Practitioner", self.directory.practitioners[practitioner_id]),
                "status": "accepted",
                "required": "required",
            }
        )
        body = {k: v for k, v in read.items() if k != "meta"} | {
            "start": _instant(start),
            "end": _instant(end),
            "minutesDuration": int((end - start).total_seconds() // 60),
            "serviceType": [self._service_type(visit_type_id)],
            "participant": participants,
        }
        entry = {
            "resource": _with_change(body, change),
            "request": {
                "method": "PUT",
                "url": f"Appointment/{read['id']}",
                "ifMatch": f'W/"{version_of(read)}"',
            },
        }
        await self._locked_write(practitioner_id, entry, start, end, ignore=appointment.id)
        appointment.practitioner_id, appointment.visit_type_id = practitioner_id, visit_type_id
        appointment.start_at, appointment.end_at = start, end
        appointment.version = change

    async def cancel(self, appointment: Appointment, now: dt.datetime) -> None:
        """Status cancelled on the same resource (`ifMatch`); the booking identifier goes, so the slot may be
        booked again, by this caller too. Freeing time needs no Schedule bump."""
        read = self._read[appointment.id]
        change = _change(read) + 1
        body = {k: v for k, v in read.items() if k != "meta"} | {
            "status": "cancelled",
            "cancelationReason": {"text": "Abgesagt am Telefon (Ignis)"},
            "identifier": [i for i in read.get("identifier") or [] if i.get("system") != codes.IGNIS_BOOKING],
        }
        await self.fhir.update(_with_change(body, change), if_match=version_of(read))
        appointment.status = "cancelled"
        appointment.version = change
        appointment.cancelled_at = appointment.updated_at = now
        appointment.idempotency_key = None


def repository(session: AsyncSession, calendar: FhirCalendar | None) -> AppointmentRepository:
    """The unit of work's records: on the FHIR server when the service runs with one."""
    return AppointmentRepository(session) if calendar is None else FhirAppointments(session, calendar)
