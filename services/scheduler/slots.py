"""A slot (an offer of one practitioner, one visit type, one time), its opaque id for the agent, and how it
is spoken."""

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ignis.language.spoken import spoken_date, spoken_time
from ignis.practice.config import Practice
from ignis.scheduler.intervals import as_utc

if TYPE_CHECKING:
    from ignis.scheduler.calendar import Calendar

__all__ = ["Slot", "parse_slot_id", "slot_id", "spoken_slot"]


@dataclass(frozen=True, slots=True)
class Slot:
    """An offer: one practitioner, one visit type, [start, end) aware in UTC."""

    practitioner_id: str
    visit_type_id: str
    start: datetime
    end: datetime


_STAMP = "%Y%m%d%H%M"
_ID_TEXT = re.compile(r"[A-Za-z0-9_-]{1,200}")
_ID_FIELDS = re.compile(r"([a-z0-9_-]+)\|([a-z0-9_-]+)\|(\d{12})")


def slot_id(slot: Slot) -> str:
    """An opaque, URL-safe id the agent hands back to book an offered slot (minute precision, UTC)."""
    raw = f"{slot.practitioner_id}|{slot.visit_type_id}|{as_utc(slot.start).strftime(_STAMP)}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def parse_slot_id(text: str, practice: Practice) -> Slot | None:
    """The slot behind `slot_id`'s output, or None for anything malformed or unknown; never raises."""
    if not isinstance(text, str) or not _ID_TEXT.fullmatch(text):
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    fields = _ID_FIELDS.fullmatch(raw)
    if fields is None:
        return None
    practitioner, visit_type = practice.practitioner(fields[1]), practice.visit_type(fields[2])
    if practitioner is None or visit_type is None:
        return None
    try:
        start = datetime.strptime(fields[3], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    slot = Slot(practitioner.id, visit_type.id, start, start + timedelta(minutes=visit_type.minutes))
    return slot if slot_id(slot) == text else None  # one id per slot: no padding or stray-bit variants


def spoken_slot(calendar: "Calendar", slot: Slot) -> str:
    """``Dienstag, 2. Dezember, um 9:30 Uhr bei Dr. Weber`` (or in words, as the calendar's style says): local
    time, the name from the practice file."""
    local = slot.start.astimezone(calendar.zone)
    practitioner = calendar.practice.practitioner(slot.practitioner_id)
    name = practitioner.name if practitioner else slot.practitioner_id
    style = calendar.spoken_style
    return f"{spoken_date(local.date(), style)}, um {spoken_time(local.time(), style)} bei {name}"
