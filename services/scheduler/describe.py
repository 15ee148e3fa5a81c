"""How the scheduler names what it offers: visit types and practitioners as callers say them, slots and
appointments as the agent reads them out.
"""

import datetime as dt

from ignis.contracts.scheduling import (
    AppointmentInfo,
    SlotOffer,
)
from ignis.language.text import fold
from ignis.practice.config import Practitioner, VisitType
from ignis.scheduler.calendar import Calendar
from ignis.scheduler.records import Scheduled
from ignis.scheduler.slots import Slot, slot_id, spoken_slot


def _key(text: str) -> str:
    """Folded and without spaces or punctuation, so "Erst-Gespraech" finds "Erstgespräch"."""
    return "".join(filter(str.isalnum, fold(text)))


def resolve_visit_type(calendar: Calendar, wanted: str) -> VisitType | None:
    key = _key(wanted)
    for visit_type in calendar.practice.visit_types:
        if key in (_key(visit_type.id), _key(visit_type.name)):
            return visit_type
    matches = [v for v in calendar.practice.visit_types if key and key in _key(v.name)]
    return matches[0] if len(matches) == 1 else None


def resolve_practitioner(calendar: Calendar, wanted: str) -> Practitioner | None:
    key = _key(wanted.replace("Dr.", "").replace("dr.", ""))
    matches = [p for p in calendar.practice.practitioners if key and (key == p.id or key in _key(p.name))]
    return matches[0] if len(matches) == 1 else None


def _described(calendar: Calendar, slot: Slot) -> dict[str, object]:
    """How a slot or an appointment is told to the caller: local times, names and a spoken sentence."""
    return {
        "start": slot.start.astimezone(calendar.zone),
        "end": slot.end.astimezone(calendar.zone),
        "practitioner": _practitioner_name(calendar, slot.practitioner_id),
        "visit_type": _visit_type_name(calendar, slot.visit_type_id),
        "spoken": spoken_slot(calendar, slot),
    }


def offer(calendar: Calendar, slot: Slot) -> SlotOffer:
    return SlotOffer(slot_id=slot_id(slot), **_described(calendar, slot))


def appointment_info(calendar: Calendar, appointment: Scheduled) -> AppointmentInfo:
    slot = Slot(
        appointment.practitioner_id, appointment.visit_type_id, appointment.start_at, appointment.end_at
    )
    return AppointmentInfo(appointment_id=str(appointment.id), **_described(calendar, slot))


def _practitioner_name(calendar: Calendar, practitioner_id: str) -> str:
    practitioner = calendar.practice.practitioner(practitioner_id)
    return practitioner.name if practitioner else practitioner_id


def _visit_type_name(calendar: Calendar, visit_type_id: str) -> str:
    visit_type = calendar.practice.visit_type(visit_type_id)
    return visit_type.name if visit_type else visit_type_id


def local_day_start(calendar: Calendar, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=calendar.zone).astimezone(dt.UTC)
