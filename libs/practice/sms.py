"""The practice's SMS texts: templates, their fields, GSM-7 rendering and the one-SMS length limit.

A template is checked when the practice file is loaded, with every field at its longest, so a text that
would cost two SMS (or lose characters) is a configuration error, not a surprise on a patient's phone.
"""

import datetime as dt
import string
import unicodedata
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ignis.language.spoken import WEEKDAY_NAMES

SMS_LIMIT = 160  # GSM-7 septets of one SMS; longer texts are split and billed per part

# GSM 03.38 basic character set (without ESC), and the extension table whose characters take two septets.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
_LOOKALIKES = str.maketrans(
    {
        "„": '"', "“": '"', "”": '"', "«": '"', "»": '"', "‚": "'", "‘": "'", "’": "'", "´": "'", "`": "'",
        "–": "-", "—": "-", "‐": "-", "‑": "-", "\u00a0": " ", "\u202f": " ", "\t": " ", "…": "...",
        "ç": "c", "ı": "i", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "œ": "oe", "Œ": "OE",
    }
)  # fmt: skip


def to_gsm7(text: str) -> str:
    """`text` in characters every phone shows: look-alikes replaced, accents dropped where GSM-7 lacks
    them (``Yılmaz`` → ``Yilmaz``), anything else ``?``. Without this one foreign character would switch
    the whole SMS to UCS-2, where only 70 characters fit."""
    out = []
    for char in text.translate(_LOOKALIKES):
        if char in GSM7_BASIC or char in GSM7_EXTENSION:
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        out.append(base if base and all(c in GSM7_BASIC for c in base) else "?")
    return "".join(out)


def gsm7_length(text: str) -> int:
    """Septets `text` takes in an SMS: extension characters (``€ [ ] { } ~ | ^ \\``) count twice."""
    return sum(2 if char in GSM7_EXTENSION else 1 for char in text)


class Template(StrEnum):
    confirmation = "confirmation"
    reschedule = "reschedule"
    cancellation = "cancellation"
    reminder = "reminder"
    waitlist_offer = "waitlist_offer"  # a freed slot held for a patient on the waiting list


# The fields a template may use. Never the visit type, the reason or anything medical: an SMS can be
# read by whoever holds the phone.
FIELDS = {
    "practice": "the practice as SMS name it (sms.sender_name, else name)",
    "weekday": "weekday of the appointment, e.g. Donnerstag",
    "date": "date of the appointment, e.g. 03.12.2026",
    "time": "local start time, e.g. 09:30",
    "practitioner": "the practitioner's name",
    "address": "street, postal code and city of the practice",
    "phone": "the practice's phone number",
    "old_weekday": "weekday before a reschedule",
    "old_date": "date before a reschedule",
    "old_time": "time before a reschedule",
}

# The defaults fit one SMS while sender name, address and phone number together stay within 88 characters
# (e.g. 32 + 41 + 15); a practice with longer ones sets `sms.sender_name` or its own texts.
DEFAULT_TEMPLATES = {
    Template.confirmation: "{practice}: Ihr Termin {weekday}, {date}, {time} Uhr ist gebucht. "
    "{address}. Absage: {phone}",
    Template.reschedule: "{practice}: Ihr Termin ist verlegt auf {weekday}, {date}, {time} Uhr "
    "(statt {old_date}, {old_time}). Fragen: {phone}",
    Template.cancellation: "{practice}: Ihr Termin am {weekday}, {date}, {time} Uhr ist abgesagt. "
    "Neuer Termin: {phone}",
    Template.reminder: "{practice}: Erinnerung: Ihr Termin {weekday}, {date}, {time} Uhr. "
    "{address}. Absage: {phone}",
    Template.waitlist_offer: "{practice}: Termin frei geworden: {weekday}, {date}, {time} Uhr. "
    "Wir halten ihn kurz für Sie: {phone}",
}


def message_fields(
    fixed: dict[str, str], practitioner: str, start: dt.datetime, previous: dt.datetime
) -> dict[str, str]:
    """Every field of `FIELDS` for one SMS: the practice's own (`Practice.sms_fields`), the practitioner's
    name, and the local start before and after a change (the same twice when nothing moved)."""
    return fixed | {"practitioner": practitioner} | when_fields(start) | when_fields(previous, "old_")


def when_fields(start: dt.datetime, prefix: str = "") -> dict[str, str]:
    """The date fields of a local `start`: German weekday, ``DD.MM.YYYY`` and ``HH:MM``."""
    return {
        f"{prefix}weekday": WEEKDAY_NAMES[start.weekday()],
        f"{prefix}date": start.strftime("%d.%m.%Y"),
        f"{prefix}time": start.strftime("%H:%M"),
    }


# The longest a date field gets: Donnerstag, two-digit day and month, four-digit year.
_LONGEST_WHEN = dt.datetime(2026, 12, 31, 23, 55)
assert _LONGEST_WHEN.weekday() == 3  # Donnerstag


class SmsConfig(BaseModel):
    """The `sms:` section of the practice file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sender_name: str | None = Field(default=None, min_length=1, max_length=60)
    # Reminder this long before the appointment (wall clock: 24 is the same time the day before, DST
    # or not); null: no reminders.
    reminder_hours: int | None = Field(default=24, ge=1, le=14 * 24)
    # No SMS from quiet_from to quiet_until local time: a reminder due then goes out before it.
    quiet_from: dt.time = dt.time(21, 0)
    quiet_until: dt.time = dt.time(8, 0)
    # The practice team's mobile: each urgent request left with the agent is announced there by SMS (no
    # details), outside the quiet hours. None: no such alerts.
    staff_mobile: str | None = Field(default=None, max_length=32)
    templates: dict[Template, str] = {}

    @model_validator(mode="after")
    def _known_fields(self) -> Self:
        for name, text in self.templates.items():
            try:
                used = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
            except ValueError as exc:
                raise ValueError(f"templates.{name}: {exc}") from None
            unknown = used - FIELDS.keys()
            if unknown:
                raise ValueError(
                    f"templates.{name}: unknown field {{{', '.join(sorted(unknown))}}}; "
                    f"known: {', '.join(FIELDS)}"
                )
        return self

    def template(self, name: Template) -> str:
        return self.templates.get(name, DEFAULT_TEMPLATES[name])


def render(template: str, fields: dict[str, str]) -> str:
    """The SMS text: the template filled in and converted to GSM-7."""
    return to_gsm7(template.format_map(fields))


def check_length(sms: SmsConfig, fixed: dict[str, str], practitioners: list[str]) -> None:
    """Raise if any template exceeds one SMS with the dates and the practitioner at their longest."""
    longest_name = max(practitioners, key=lambda name: gsm7_length(to_gsm7(name)), default="")
    fields = message_fields(fixed, longest_name, _LONGEST_WHEN, _LONGEST_WHEN)
    for name in Template:
        length = gsm7_length(render(sms.template(name), fields))
        if length > SMS_LIMIT:
            raise ValueError(
                f"sms.templates.{name}: {length} characters at the longest date and name, at most "
                f"{SMS_LIMIT} fit one SMS; shorten the text or set a shorter sms.sender_name"
            )
