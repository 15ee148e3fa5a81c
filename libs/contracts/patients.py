"""Commands and replies of the patients service: identity, registration, conversation-bound refs."""

import datetime as dt
import uuid
from enum import StrEnum
from typing import Literal

from pydantic import Field

from ignis.contracts.base import Contract, Event


class Insurance(StrEnum):
    gesetzlich = "gesetzlich"
    privat = "privat"
    selbstzahler = "selbstzahler"


class Salutation(StrEnum):
    frau = "Frau"
    herr = "Herr"


class IdentifyPatient(Contract):
    conversation_id: str = Field(min_length=1, max_length=200)
    # The number the call comes from (empty or None when withheld): one of the identification budgets.
    caller_id: str | None = Field(default=None, max_length=64, repr=False)
    last_name: str = Field(min_length=1, max_length=200, repr=False)
    birth_date: dt.date = Field(repr=False)
    first_name: str | None = Field(default=None, max_length=200, repr=False)


class VerifiedPatient(Contract):
    """A caller verified by name + birth date: the ref for this conversation and how to address them."""

    patient_ref: str
    first_name: str = Field(repr=False)
    salutation: str = Field(repr=False)


class PatientIdentified(VerifiedPatient):
    kind: Literal["identified"] = "identified"


class RegisterPatient(Contract):
    conversation_id: str = Field(min_length=1, max_length=200)
    caller_id: str | None = Field(default=None, max_length=64, repr=False)
    first_name: str = Field(min_length=1, max_length=200, repr=False)
    last_name: str = Field(min_length=1, max_length=200, repr=False)
    birth_date: dt.date = Field(repr=False)
    phone: str | None = Field(default=None, max_length=64, repr=False)
    insurance: Insurance
    sms_consent: bool
    salutation: Salutation | None = None


class PatientRegistered(Contract):
    kind: Literal["registered"] = "registered"
    patient_ref: str


class PatientAlreadyRegistered(VerifiedPatient):
    """The caller passed the same checks as identify, so the existing record's ref is returned."""

    kind: Literal["already_registered"] = "already_registered"


class ResolvePatientRef(Contract):
    """Asked by acting services: is this ref valid for this conversation, and whose is it?"""

    conversation_id: str = Field(min_length=1, max_length=200)
    patient_ref: str = Field(min_length=1, max_length=200)


class PatientRefResolved(Contract):
    kind: Literal["resolved"] = "resolved"
    patient_id: str
    # FHIR record mode: the patient's logical id on the practice's server (the scheduler books for it).
    fhir_patient_id: str | None = None
    # What the practice's booking rules ask (`practice.config.Rules`): age on the visit's day, insurance,
    # and whether the patient came to the practice through a phone registration (a new patient).
    birth_date: dt.date | None = Field(default=None, repr=False)
    insurance: Insurance | None = None
    registered_by_phone: bool = False
    # Until when the ref holds: the scheduler uses the answer again for the conversation's next calls,
    # never past this (`scheduler.refs`). None says nothing, and the answer is not used again.
    expires_at: dt.datetime | None = None


class LookupCaller(Contract):
    """Whose number is this? For the greeting only: a hint, never a verification."""

    caller_id: str = Field(min_length=1, max_length=64, repr=False)


class CallerLookedUp(Contract):
    kind: Literal["caller"] = "caller"
    known: bool
    first_name: str | None = Field(default=None, repr=False)


class GetPatientNames(Contract):
    """Names for a staff view that lists other services' records (e.g. the day's appointments)."""

    patient_ids: list[str] = Field(max_length=200)


class PatientNames(Contract):
    kind: Literal["names"] = "names"
    names: dict[str, str] = Field(repr=False)


class GetFhirPatientId(Contract):
    """FHIR record mode: which Patient on the practice's server this Ignis patient id stands for (the
    scheduler asks it to list a patient's appointments for the staff app, which knows the Ignis id only)."""

    patient_id: uuid.UUID


class FhirPatientId(Contract):
    kind: Literal["fhir_patient_id"] = "fhir_patient_id"
    fhir_patient_id: str | None  # None in Ignis' own record mode, or for an id the service never linked


class PatientErased(Event):
    """GDPR Art. 17: the patients service erased this patient; every other service erases what it keeps."""

    patient_id: uuid.UUID


class ListIdentityLocks(Contract):
    """Staff: which caller numbers and names may not be verified by phone right now."""


class IdentityLock(Contract):
    scope: Literal["caller", "name"]
    # The caller's number (E.164 or "withheld"), or the name's Kölner Phonetik code (pass it to unlock).
    key: str = Field(repr=False)
    failures: int
    names_said: list[str] = Field(repr=False)  # the last names tried, normalised; never birth dates
    locked_until: dt.datetime  # when enough attempts have left the window, unless staff unlock it earlier


class IdentityLocks(Contract):
    kind: Literal["identity_locks"] = "identity_locks"
    items: list[IdentityLock]


class UnlockIdentity(Contract):
    """Staff: attempts so far no longer count for this caller number or name."""

    scope: Literal["caller", "name"]
    key: str = Field(min_length=1, max_length=64, repr=False)


class IdentityUnlocked(Contract):
    kind: Literal["identity_unlocked"] = "identity_unlocked"
    scope: Literal["caller", "name"]


class ErasePatient(Contract):
    """Erase this patient now (idempotent: a second time, or after `patient.erased`, finds nothing)."""

    patient_id: uuid.UUID


class PatientErasedHere(Contract):
    """What a service removed, per kind of record: counts only, never content."""

    counts: dict[str, int]
