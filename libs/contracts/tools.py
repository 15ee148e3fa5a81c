"""Bodies of the agent's webhook tools: the public HTTP contract of the gateway (DESIGN.md §2).

ElevenLabs sends the properties of each tool's `request_body_schema` as a flat JSON object. The
descriptions are German because the agent's LLM reads them; `dynamic_variable` marks fields that
ElevenLabs fills from system variables, never the LLM (used when the tools are provisioned). The agent's
own words for a choice ("GKV", "vormittags", "ja") are understood by the gateway before these types check
them (`ignis.language.answers`).
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ignis.contracts.patients import Insurance, Salutation
from ignis.contracts.requests import RequestKind


def _bound(variable: str) -> Any:
    return Field(min_length=1, max_length=200, json_schema_extra={"dynamic_variable": variable})


def refuse_nul(value: object) -> object:
    """Postgres keeps no NUL character in text (the service would fail, `internal`); in a value from speech
    it is never meant, so it is invalid input, refused at the edge."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


class WithoutNul(BaseModel):
    """A body whose strings may hold anything but NUL (422 naming the field)."""

    @field_validator("*", mode="after")
    @classmethod
    def _without_nul(cls, value: object) -> object:
        return refuse_nul(value)


class ToolBody(WithoutNul):
    """Tolerates unknown keys (the platform may add some) but never echoes input in errors."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", hide_input_in_errors=True, str_strip_whitespace=True
    )

    conversation_id: str = _bound("system__conversation_id")


class CallerToolBody(ToolBody):
    # Empty when the caller suppresses the number; the platform still sends the key.
    caller_id: str = Field(
        default="", max_length=64, repr=False, json_schema_extra={"dynamic_variable": "system__caller_id"}
    )


class IdentifyPatientBody(CallerToolBody):
    last_name: str = Field(min_length=1, max_length=200, repr=False, description="Nachname des Anrufers")
    birth_date: str = Field(
        min_length=1, max_length=100, repr=False, description="Geburtsdatum, z. B. 1980-03-12 oder 12.03.1980"
    )
    first_name: str | None = Field(
        default=None, max_length=200, repr=False, description="Vorname, nur wenn danach gefragt wurde"
    )


class RegisterPatientBody(CallerToolBody):
    first_name: str = Field(min_length=1, max_length=200, repr=False, description="Vorname")
    last_name: str = Field(min_length=1, max_length=200, repr=False, description="Nachname")
    birth_date: str = Field(min_length=1, max_length=100, repr=False, description="Geburtsdatum")
    phone: str | None = Field(
        default=None, max_length=64, repr=False, description="Rückrufnummer, falls nicht die Anrufernummer"
    )
    insurance: Insurance = Field(description="Versicherung: gesetzlich, privat oder selbstzahler")
    sms_consent: bool = Field(description="Ob der Patient SMS-Erinnerungen ausdrücklich wünscht")
    salutation: Salutation | None = Field(default=None, description="Anrede: Frau oder Herr, falls genannt")


class PatientToolBody(ToolBody):
    patient_ref: str = Field(
        min_length=1, max_length=200, description="patient_ref aus identify_patient oder register_patient"
    )


class FindSlotsBody(ToolBody):
    visit_type: str = Field(min_length=1, max_length=100, description="Terminart, z. B. Akutsprechstunde")
    # The gateway reads these as callers say them (ignis.language.phrases), in the practice's time zone.
    when: str | None = Field(
        default=None,
        max_length=200,
        description=(
            "Wunschzeitraum mit den Worten des Anrufers, z. B. nächste Woche, am Freitag, "
            "nächsten Dienstag nachmittags, in zwei Wochen nach 16 Uhr, Anfang Dezember, 3. Dezember"
        ),
    )
    earliest: str | None = Field(
        default=None,
        max_length=100,
        description="Frühester Tag, z. B. morgen, ab Montag, 3. Dezember, 2026-12-01",
    )
    latest: str | None = Field(
        default=None, max_length=100, description="Spätester Tag, z. B. Freitag, Ende des Monats"
    )
    part_of_day: str | None = Field(
        default=None,
        max_length=100,
        description="Tageszeit, z. B. früh, vormittags, mittags, nachmittags, abends, ab 16 Uhr, vor 10 Uhr",
    )
    practitioner: str | None = Field(
        default=None, max_length=100, description="Gewünschte Ärztin oder gewünschter Arzt"
    )
    patient_ref: str | None = Field(default=None, max_length=200, description="patient_ref, falls bekannt")
    limit: int = Field(default=3, description="Wie viele Vorschläge (höchstens 5)")
    referral: bool | None = Field(
        default=None, description="Ob eine Überweisung vorliegt; nur für Terminarten, die eine verlangen"
    )


class BookAppointmentBody(PatientToolBody):
    slot_id: str = Field(min_length=1, max_length=200, description="slot_id eines angebotenen Termins")
    reason: str | None = Field(
        default=None, max_length=500, repr=False, description="Anliegen in wenigen Worten"
    )
    referral: bool | None = Field(
        default=None, description="Ob eine Überweisung vorliegt; nur für Terminarten, die eine verlangen"
    )


class ListAppointmentsBody(PatientToolBody):
    pass


class CancelAppointmentBody(PatientToolBody):
    appointment_id: str = Field(min_length=1, max_length=100, description="appointment_id des Termins")
    reason: str | None = Field(
        default=None, max_length=500, repr=False, description="Grund der Absage, falls genannt"
    )


class RescheduleAppointmentBody(PatientToolBody):
    appointment_id: str = Field(
        min_length=1, max_length=100, description="appointment_id des bisherigen Termins"
    )
    new_slot_id: str = Field(min_length=1, max_length=200, description="slot_id des neuen Termins")


class JoinWaitlistBody(PatientToolBody):
    visit_type: str = Field(min_length=1, max_length=100, description="Terminart, z. B. Akutsprechstunde")
    earliest: str | None = Field(
        default=None, max_length=100, description="Frühestes Datum, z. B. 2026-12-01 oder morgen"
    )
    latest: str | None = Field(default=None, max_length=100, description="Spätestes Datum")
    practitioner: str | None = Field(
        default=None, max_length=100, description="Gewünschte Ärztin oder gewünschter Arzt, falls genannt"
    )


class PracticeInfoBody(ToolBody):
    topic: Literal["oeffnungszeiten", "adresse", "schliesstage", "notfall", "alles"] = Field(
        default="alles", description="oeffnungszeiten, adresse, schliesstage, notfall oder alles"
    )


class CreateRequestBody(CallerToolBody):
    kind: RequestKind = Field(description="rueckruf, rezept, ueberweisung, krankschreibung oder nachricht")
    details: str = Field(
        min_length=1, max_length=2000, repr=False, description="Das Anliegen in wenigen Sätzen"
    )
    patient_ref: str | None = Field(
        default=None,
        max_length=200,
        description="patient_ref, nötig für rezept, ueberweisung, krankschreibung",
    )
    urgent: bool = Field(default=False, description="Ob es dringend ist")
    callback_number: str | None = Field(
        default=None, max_length=64, repr=False, description="Rückrufnummer, falls nicht die Anrufernummer"
    )


# The agent's tools by name: each is `POST /tools/<name>` on the gateway with this body. The gateway
# serves them and `ignis provision` registers them at ElevenLabs, both from this table.
TOOL_BODIES: dict[str, type[ToolBody]] = {
    "identify_patient": IdentifyPatientBody,
    "register_patient": RegisterPatientBody,
    "find_slots": FindSlotsBody,
    "book_appointment": BookAppointmentBody,
    "list_appointments": ListAppointmentsBody,
    "cancel_appointment": CancelAppointmentBody,
    "reschedule_appointment": RescheduleAppointmentBody,
    "create_request": CreateRequestBody,
    "practice_info": PracticeInfoBody,
    "join_waitlist": JoinWaitlistBody,
}
