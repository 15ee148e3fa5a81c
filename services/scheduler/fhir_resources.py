"""An Ignis appointment as a FHIR R4 `Appointment` (gematik ISiK Terminplanung) and back; pure functions.

docs/fhir.md, "Scheduling as built", maps each field. `fhir_records` reads and writes these resources.
"""

import datetime as dt
import math
import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

from ignis.fhir import codes
from ignis.fhir.client import Resource, reference, version_of
from ignis.fhir.ids import appointment_id_of, patient_id_of
from ignis.scheduler.fhir_directory import Directory
from ignis.scheduler.models import Appointment
from ignis.scheduler.records import Busy

# Appointment statuses that do not hold time (FHIR R4 appointmentstatus).
FREE_STATUSES = frozenset({"cancelled", "noshow", "entered-in-error"})
# The statuses of an appointment that was (or is) kept: search values (FHIR R4 appointmentstatus).
HELD_STATUSES = "booked,arrived,fulfilled,checked-in"
BUSY_SLOT_STATUSES = frozenset({"busy", "busy-unavailable", "busy-tentative"})


def instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def seconds(start: str, end: str) -> tuple[int, int]:
    """[start, end) in whole seconds since the epoch, rounded outwards (as the Postgres records answer)."""
    return math.floor(moment(start).timestamp()), math.ceil(moment(end).timestamp())


def identifier(resource: Resource, system: str) -> str | None:
    return next(
        (str(i["value"]) for i in resource.get("identifier") or [] if i.get("system") == system), None
    )


def actor_id(resource: Resource, resource_type: str) -> str | None:
    for participant in resource.get("participant") or []:
        ref = str((participant.get("actor") or {}).get("reference") or "")
        if ref.startswith(f"{resource_type}/"):
            return ref.split("/", 1)[1]
    return None


def change(resource: Resource) -> int:
    """Ignis' own change counter of the Appointment (the events' version)."""
    return next(
        (
            int(e["valueInteger"])
            for e in resource.get("extension") or []
            if e.get("url") == codes.IGNIS_CHANGE
        ),
        1,
    )


def with_change(resource: Resource, count: int) -> Resource:
    others = [e for e in resource.get("extension") or [] if e.get("url") != codes.IGNIS_CHANGE]
    return resource | {"extension": [*others, {"url": codes.IGNIS_CHANGE, "valueInteger": count}]}


def as_written(resource: Resource) -> tuple[object, ...]:
    """What a caller was told of an appointment: status, practitioner, patient, visit type and time. A newer
    version of the resource that differs here was changed by someone else in a way the caller must hear."""
    return (
        resource.get("status"),
        actor_id(resource, "Practitioner"),
        actor_id(resource, "Patient"),
        visit_type_of(resource),
        resource.get("start") and moment(resource["start"]),
        resource.get("end") and moment(resource["end"]),
    )


def visit_type_of(resource: Resource) -> str:
    return str(
        next(
            (
                c.get("code")
                for concept in resource.get("serviceType") or []
                for c in concept.get("coding") or []
                if c.get("system") == codes.IGNIS_VISIT_TYPE
            ),
            "",
        )
    )


def to_appointment(resource: Resource, directory: Directory) -> Appointment | None:
    """The appointment as Ignis sees it, or None for one Ignis cannot describe (no practitioner of the
    practice file, no patient, no time). Appointments Ignis did not make get a stable id of their own."""
    practitioner = directory.practitioner_of(actor_id(resource, "Practitioner") or "")
    patient = actor_id(resource, "Patient")
    if practitioner is None or patient is None or not resource.get("start") or not resource.get("end"):
        return None
    own = identifier(resource, codes.IGNIS_APPOINTMENT)
    return Appointment(
        id=uuid.UUID(own) if own else appointment_id_of(resource["id"]),
        patient_id=patient_id_of(patient),
        practitioner_id=practitioner,
        visit_type_id=visit_type_of(resource),
        start_at=moment(resource["start"]),
        end_at=moment(resource["end"]),
        status="cancelled" if resource.get("status") in FREE_STATUSES else "booked",
        reason=resource.get("comment"),
        conversation_id="",
        idempotency_key=identifier(resource, codes.IGNIS_BOOKING),
        version=change(resource),
    )


def service_type(visit_type_id: str) -> dict[str, Any]:
    return {"coding": [{"system": codes.IGNIS_VISIT_TYPE, "code": visit_type_id}]}


def _practitioner(fhir_id: str) -> Resource:
    return {"actor": reference("Practitioner", fhir_id), "status": "accepted", "required": "required"}


def new_appointment(appointment: Appointment, fhir_patient: str, practitioner: str) -> Resource:
    """The Appointment a booking writes: Ignis' id and the booking call's identifier, status booked."""
    resource: Resource = {
        "resourceType": "Appointment",
        "identifier": [
            {"system": codes.IGNIS_APPOINTMENT, "value": str(appointment.id)},
            {"system": codes.IGNIS_BOOKING, "value": appointment.idempotency_key},
        ],
        "status": "booked",
        "serviceType": [service_type(appointment.visit_type_id)],
        "start": instant(appointment.start_at),
        "end": instant(appointment.end_at),
        "minutesDuration": int((appointment.end_at - appointment.start_at).total_seconds() // 60),
        "created": instant(dt.datetime.now(dt.UTC)),
        "participant": [
            {"actor": reference("Patient", fhir_patient), "status": "accepted", "required": "required"},
            _practitioner(practitioner),
        ],
        "extension": [{"url": codes.IGNIS_CHANGE, "valueInteger": 1}],
    }
    if appointment.reason:
        resource["comment"] = appointment.reason
    return resource


def moved(
    read: Resource, practitioner: str, visit_type_id: str, start: dt.datetime, end: dt.datetime
) -> Resource:
    """`read` at its new time, with its practitioner and visit type, Ignis' change counter counted on."""
    participants = [
        p
        for p in read.get("participant") or []
        if not str((p.get("actor") or {}).get("reference") or "").startswith("Practitioner/")
    ]
    body = {k: v for k, v in read.items() if k != "meta"} | {
        "start": instant(start),
        "end": instant(end),
        "minutesDuration": int((end - start).total_seconds() // 60),
        "serviceType": [service_type(visit_type_id)],
        "participant": [*participants, _practitioner(practitioner)],
    }
    return with_change(body, change(read) + 1)


def cancelled(read: Resource) -> Resource:
    """`read` cancelled; the booking identifier goes, so the slot may be booked again, by this caller too."""
    body = {k: v for k, v in read.items() if k != "meta"} | {
        "status": "cancelled",
        "cancelationReason": {"text": "Abgesagt am Telefon (Ignis)"},
        "identifier": [i for i in read.get("identifier") or [] if i.get("system") != codes.IGNIS_BOOKING],
    }
    return with_change(body, change(read) + 1)


def busy_time(
    directory: Directory,
    known: Collection[str],
    appointments: Sequence[Resource],
    slots: Sequence[Resource],
    start: dt.datetime,
    end: dt.datetime,
) -> Busy:
    """The practitioners' (`known`) busy time from Appointments holding time and their Schedules' Slots, as
    the Postgres records answer: [start, end) in whole seconds, sorted."""
    busy: Busy = defaultdict(list)
    by_actor = {fhir_id: key for key, fhir_id in directory.practitioners.items()}
    for resource in appointments:
        for participant in resource.get("participant") or []:
            ref = str((participant.get("actor") or {}).get("reference") or "")
            practitioner = by_actor.get(ref.removeprefix("Practitioner/"))
            if ref.startswith("Practitioner/") and practitioner is not None and practitioner in known:
                busy[practitioner].append(seconds(resource["start"], resource["end"]))
    by_schedule = {fhir_id: key for key, fhir_id in directory.schedules.items()}
    for slot in slots:
        owner = by_schedule.get(
            str((slot.get("schedule") or {}).get("reference") or "").removeprefix("Schedule/")
        )
        overlaps = moment(slot["end"]) > start and moment(slot["start"]) < end
        if owner and slot.get("status") in BUSY_SLOT_STATUSES and overlaps:
            busy[owner].append(seconds(slot["start"], slot["end"]))
    for intervals in busy.values():
        intervals.sort()
    return dict(busy)


def schedule_bumped(schedule: Resource) -> Resource:
    """The transaction entry that bumps a Schedule's booking lock, valid only on the version read."""
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
