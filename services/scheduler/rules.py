"""The practice's booking rules (`rules:` of the practice file) applied to a verified caller.

The facts come from the patients service with the caller's ref (`PatientRefResolved`); whether the patient
was seen here before is the scheduler's own knowledge. A refusal carries a sentence the agent can say.
"""

import datetime as dt
import uuid
from dataclasses import dataclass

from ignis.contracts.patients import Insurance, PatientRefResolved
from ignis.contracts.scheduling import NotOffered, NotOfferedReason
from ignis.practice.config import INSURED, Practice, VisitType


@dataclass(frozen=True)
class Patient:
    """A verified caller as the rules see them."""

    id: uuid.UUID
    birth_date: dt.date | None
    insurance: Insurance | None
    registered_by_phone: bool

    @classmethod
    def of(cls, resolved: PatientRefResolved) -> "Patient":
        return cls(
            uuid.UUID(resolved.patient_id),
            resolved.birth_date,
            resolved.insurance,
            resolved.registered_by_phone,
        )


def age_on(birth_date: dt.date, day: dt.date) -> int:
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - before_birthday


def refusal(
    practice: Practice,
    visit_type: VisitType,
    patient: Patient,
    day: dt.date,
    *,
    seen_before: bool,
    referral: bool | None,
) -> NotOffered | None:
    """Why `patient` may not book `visit_type` for `day`, or None. A patient who registered by phone and was
    never seen here is a new patient; one from the practice's own records never is."""
    rules = practice.rules_for(visit_type)

    def no(reason: NotOfferedReason, explanation: str) -> NotOffered:
        return NotOffered(visit_type=visit_type.name, reason=reason, explanation=explanation)

    if rules.new_patients is False and patient.registered_by_phone and not seen_before:
        return no(
            "new_patients",
            "Diese Terminart bieten wir derzeit nur Patientinnen und Patienten an, "
            "die schon bei uns in Behandlung sind.",
        )
    if rules.insurance is not None and patient.insurance not in rules.insurance:
        kinds = " und ".join(INSURED[kind] for kind in rules.insurance)
        return no("insurance", f"Diese Terminart bieten wir nur für {kinds} an.")
    age = age_on(patient.birth_date, day) if patient.birth_date else None
    if rules.min_age is not None and (age is None or age < rules.min_age):
        return no("too_young", f"Diese Terminart bieten wir erst ab {rules.min_age} Jahren an.")
    if rules.max_age is not None and (age is None or age > rules.max_age):
        return no("too_old", f"Diese Terminart bieten wir bis zum Alter von {rules.max_age} Jahren an.")
    if rules.referral and not referral:
        return no(
            "referral",
            "Für diese Terminart brauchen wir eine Überweisung. Liegt Ihnen eine Überweisung vor?",
        )
    return None
