"""Typed model of the practice YAML; a config error names the file, the key and what is wrong."""

import datetime as dt
import itertools
import re
from pathlib import Path
from typing import Annotated, Literal, Self

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from ignis.contracts.patients import Insurance, Salutation
from ignis.kit.phones import to_e164
from ignis.practice.sms import SmsConfig, check_length

DEMO_PRACTICE = Path(__file__).with_name("demo.yaml")


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Address(ConfigModel):
    street: str
    postal_code: str
    city: str


class SeedPatient(ConfigModel):
    """A fictitious patient loaded into an empty database so the demo can be tried at once."""

    first_name: str
    last_name: str
    birth_date: dt.date
    phone: str | None = None
    insurance: Insurance = Insurance.gesetzlich
    sms_consent: bool = False
    salutation: Salutation | None = None


Weekday = Literal["mo", "di", "mi", "do", "fr", "sa", "so"]
WEEKDAYS: tuple[Weekday, ...] = ("mo", "di", "mi", "do", "fr", "sa", "so")  # index = date.weekday()
_RANGE = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


def _time_range(value: object) -> object:
    """`"08:00-12:00"` → `(08:00, 12:00)`; several ranges a day leave the breaks between them."""
    if not isinstance(value, str):
        return value
    match = _RANGE.fullmatch(value)
    if not match:
        raise ValueError("expected a time range like 08:00-12:00")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60):
        raise ValueError("hour or minute out of range")
    start, end = dt.time(h1, m1), dt.time(0, 0) if h2 == 24 else dt.time(h2, m2)
    if h2 != 24 and end <= start:
        raise ValueError("a range must end after it starts")
    return (start, end)


TimeRange = Annotated[tuple[dt.time, dt.time], BeforeValidator(_time_range)]
WeeklyHours = dict[Weekday, list[TimeRange]]


def _check_weekly(hours: WeeklyHours, where: str) -> None:
    for day, ranges in hours.items():
        ordered = sorted(ranges)
        for (_, end), (start, _) in itertools.pairwise(ordered):
            if start < end:
                raise ValueError(f"{where}.{day}: time ranges overlap")


class Closure(ConfigModel):
    """Days off, inclusive: a vacation, training, a bridge day."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: dt.date = Field(alias="from")
    end: dt.date = Field(alias="to")
    reason: str = "Praxis geschlossen"

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError("'to' is before 'from'")
        return self


class Practitioner(ConfigModel):
    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str
    hours: WeeklyHours
    absences: list[Closure] = []


# How a rule names who is insured how (the agent's prompt, and what the caller hears when refused).
INSURED = {
    Insurance.gesetzlich: "gesetzlich Versicherte",
    Insurance.privat: "privat Versicherte",
    Insurance.selbstzahler: "Selbstzahler",
}


class Rules(ConfigModel):
    """Who may book: the practice's `rules:`, and a visit type's own `rules:` (a key it sets wins over the
    practice's). Checked for a verified caller by `find_slots` and `book_appointment`."""

    new_patients: bool | None = None  # whether people not yet patients of the practice are taken
    insurance: list[Insurance] | None = Field(default=None, min_length=1)  # None: every kind
    min_age: int | None = Field(default=None, ge=0, le=120)  # in years on the day of the visit
    max_age: int | None = Field(default=None, ge=0, le=120)
    referral: bool | None = None  # a referral (Überweisung) is needed

    @model_validator(mode="after")
    def _ages_ordered(self) -> Self:
        if self.min_age is not None and self.max_age is not None and self.max_age < self.min_age:
            raise ValueError("max_age is below min_age")
        if self.insurance is not None and len(set(self.insurance)) != len(self.insurance):
            raise ValueError("insurance: each kind once")
        return self

    def over(self, base: "Rules") -> "Rules":
        """These rules where set, `base` elsewhere."""
        return Rules.model_validate(base.model_dump() | self.model_dump(exclude_none=True))

    def described(self) -> str:
        """The rules in German words for the agent's prompt; empty when they take everybody."""
        parts = []
        if self.new_patients is False:
            parts.append("keine neuen Patienten")
        if self.insurance is not None and set(self.insurance) != set(Insurance):
            parts.append("nur " + " und ".join(INSURED[kind] for kind in self.insurance))
        if self.min_age is not None:
            parts.append(f"ab {self.min_age} Jahren")
        if self.max_age is not None:
            parts.append(f"bis {self.max_age} Jahre")
        if self.referral:
            parts.append("nur mit Überweisung")
        return ", ".join(parts)


class VisitType(ConfigModel):
    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str
    minutes: int = Field(ge=5, le=240)
    # None: every practitioner offers it.
    practitioners: list[str] | None = None
    rules: Rules = Rules()


# What a cancellation or move inside `cancel_until_hours` does: `cancel` does it (flagged `late` for the
# team: a freed slot is worth more than a no-show), `request` leaves the appointment and puts the wish in
# the team's request queue, `refuse` says no (without sending the caller to the number they are calling).
LateChanges = Literal["cancel", "request", "refuse"]


class BookingPolicy(ConfigModel):
    min_notice_minutes: int = Field(default=60, ge=0)
    horizon_days: int = Field(default=90, ge=1, le=366)
    grid_minutes: int = Field(default=5, ge=5, le=60)
    cancel_until_hours: int = Field(default=24, ge=0)
    late_changes: LateChanges = "cancel"
    # How long a slot freed by a cancellation or move is kept for the first patient on the waiting list
    # (offered by SMS, and first when they call) before anyone may book it.
    waitlist_hold_minutes: int = Field(default=120, ge=5, le=7 * 24 * 60)

    @model_validator(mode="after")
    def _grid_divides_the_hour(self) -> Self:
        if 60 % self.grid_minutes:
            raise ValueError("grid_minutes must divide 60 (5, 10, 15, 20, 30 or 60)")
        return self


# The practice's state at the time of a call (`routing:`): within the opening hours, between two ranges of
# a day, outside them, or on one of the practice's closures (`closures:`). German: as the agent hears it.
OpeningState = Literal["open", "lunch_break", "closed", "vacation"]
OPENING_STATES: dict[OpeningState, str] = {
    "open": "geöffnet",
    "lunch_break": "Mittagspause",
    "closed": "geschlossen",
    "vacation": "Betriebsferien",
}


def _phone(value: object) -> object:
    if isinstance(value, str):
        normal = to_e164(value)
        if normal is None:
            raise ValueError("not a phone number")
        return normal
    return value


class Transfer(ConfigModel):
    """Where the agent may transfer a caller (`transfer_to_number`); never the number it answers."""

    phone: Annotated[str, BeforeValidator(_phone)]
    urgent_only: bool = False  # only for urgent cases (e.g. the practice's mobile during the break)


class Routing(ConfigModel):
    """The transfer targets in each state of the practice; a state without one gets the emergency numbers
    (112, 116117) and a callback request."""

    open: list[Transfer] = []
    lunch_break: list[Transfer] = []
    closed: list[Transfer] = []
    vacation: list[Transfer] = []

    def targets(self) -> dict[str, dict[OpeningState, bool]]:
        """Each number (E.164) with the states it serves in, and whether only for urgent cases there."""
        found: dict[str, dict[OpeningState, bool]] = {}
        for state in OPENING_STATES:
            for transfer in getattr(self, state):
                found.setdefault(transfer.phone, {})[state] = transfer.urgent_only
        return found


# The languages ElevenLabs' agents speak besides German (ISO 639-1, as its docs list them), with their
# German names for the agent's prompt.
LANGUAGES: dict[str, str] = {
    "en": "Englisch", "tr": "Türkisch", "ar": "Arabisch", "ru": "Russisch", "pl": "Polnisch",
    "uk": "Ukrainisch", "fr": "Französisch", "es": "Spanisch", "it": "Italienisch", "pt": "Portugiesisch",
    "nl": "Niederländisch", "ro": "Rumänisch", "bg": "Bulgarisch", "hr": "Kroatisch", "cs": "Tschechisch",
    "sk": "Slowakisch", "hu": "Ungarisch", "el": "Griechisch", "sv": "Schwedisch", "da": "Dänisch",
    "no": "Norwegisch", "fi": "Finnisch", "zh": "Chinesisch", "ja": "Japanisch", "ko": "Koreanisch",
    "hi": "Hindi", "id": "Indonesisch", "ms": "Malaiisch", "fil": "Filipino", "ta": "Tamil",
    "vi": "Vietnamesisch",
}  # fmt: skip
Language = Literal[
    "en", "tr", "ar", "ru", "pl", "uk", "fr", "es", "it", "pt", "nl", "ro", "bg", "hr", "cs", "sk", "hu",
    "el", "sv", "da", "no", "fi", "zh", "ja", "ko", "hi", "id", "ms", "fil", "ta", "vi",
]  # fmt: skip


class VendorPrivacy(ConfigModel):
    """What ElevenLabs keeps of a call: `ignis provision` sets these as the agent's privacy settings."""

    # Days ElevenLabs keeps a conversation; None: as long as Ignis keeps the call record
    # (IGNIS_CALL_RETENTION_DAYS), and never longer than that.
    retention_days: int | None = Field(default=None, ge=1)
    # Whether ElevenLabs records the call's audio, and keeps it with the conversation (else deletes it).
    # Off: a recording is health data too (GDPR Art. 9) and §201 StGB asks for the caller's consent.
    record_audio: bool = False
    keep_audio: bool = False


class Practice(ConfigModel):
    name: str
    address: Address
    phone: str
    # Where the agent transfers a caller who asks for the team (`transfer_to_number`); not the number the
    # agent answers, or the call would loop. None: no transfers.
    staff_phone: str | None = None
    # Transfer targets by the practice's state (open, lunch_break, closed, vacation); when not given,
    # `staff_phone` while open.
    routing: Routing | None = None
    bundesland: str = Field(min_length=2, max_length=2, description="ISO 3166-2:DE subdivision, e.g. BE")
    timezone: str = "Europe/Berlin"
    opening_hours: WeeklyHours = {}
    practitioners: list[Practitioner] = []
    visit_types: list[VisitType] = []
    closures: list[Closure] = []
    booking: BookingPolicy = BookingPolicy()
    # Who the practice takes at all (new patients, insurance kinds, ages); each visit type may say otherwise.
    rules: Rules = Rules()
    # Greet a caller whose number belongs to exactly one patient by first name (a hint, never a
    # verification). Off unless the practice decides so: the number may be shared or passed on.
    greet_known_callers: bool = False
    sms: SmsConfig = SmsConfig()
    privacy: VendorPrivacy = VendorPrivacy()
    # Languages the agent switches to when a caller speaks one (ElevenLabs' language detection); each needs
    # its first message (`first_message.<code>.txt` beside the German one). The tools answer in German.
    languages: list[Language] = ["en", "tr", "ar", "ru", "pl", "uk"]
    demo_patients: list[SeedPatient] = []

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_weekly(self.opening_hours, "opening_hours")
        known = [p.id for p in self.practitioners]
        if len(set(known)) != len(known):
            raise ValueError("practitioners: ids must be unique")
        for index, practitioner in enumerate(self.practitioners):
            _check_weekly(practitioner.hours, f"practitioners[{index}].hours")
        if len({v.id for v in self.visit_types}) != len(self.visit_types):
            raise ValueError("visit_types: ids must be unique")
        for index, visit_type in enumerate(self.visit_types):
            unknown = set(visit_type.practitioners or ()) - set(known)
            if unknown:
                raise ValueError(f"visit_types[{index}].practitioners: unknown {', '.join(sorted(unknown))}")
        check_length(self.sms, self.sms_fields(), [p.name for p in self.practitioners])
        if len(set(self.languages)) != len(self.languages):
            raise ValueError("languages: each once")
        answered = to_e164(self.phone)
        if answered and answered in self.transfer_routing().targets():
            raise ValueError("routing: a transfer to the practice's own phone would loop back to the agent")
        return self

    def sms_fields(self) -> dict[str, str]:
        """The fields every SMS of this practice shares (see `ignis.practice.sms.FIELDS`)."""
        address = f"{self.address.street}, {self.address.postal_code} {self.address.city}"
        return {"practice": self.sms.sender_name or self.name, "address": address, "phone": self.phone}

    def transfer_routing(self) -> Routing:
        if self.routing is not None:
            return self.routing
        if self.staff_phone and (phone := to_e164(self.staff_phone)):
            return Routing(open=[Transfer(phone=phone)])
        return Routing()

    def practitioner(self, practitioner_id: str) -> Practitioner | None:
        return next((p for p in self.practitioners if p.id == practitioner_id), None)

    def visit_type(self, visit_type_id: str) -> VisitType | None:
        return next((v for v in self.visit_types if v.id == visit_type_id), None)

    def rules_for(self, visit_type: VisitType) -> Rules:
        """The rules that hold for `visit_type`: its own over the practice's, over taking everybody."""
        return visit_type.rules.over(self.rules.over(Rules(new_patients=True, referral=False)))

    def offering(self, visit_type: VisitType) -> list[Practitioner]:
        """The practitioners who offer `visit_type`, in file order."""
        wanted = visit_type.practitioners
        return [p for p in self.practitioners if wanted is None or p.id in wanted]


class PracticeConfigError(ValueError):
    pass


def load_practice(path: Path | None = None) -> Practice:
    path = path or DEMO_PRACTICE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PracticeConfigError(f"{path}: cannot read practice file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise PracticeConfigError(f"{path}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    try:
        return Practice.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise PracticeConfigError(f"{path}: {problems}") from None
