"""ORM mapping of the `patients` schema (the DDL lives in `migrations/`)."""

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import DateTime, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ignis.kit.crypto import Encrypted
from ignis.kit.db import schema_metadata

SCHEMA = "patients"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)
    type_annotation_map = {dt.datetime: DateTime(timezone=True)}  # noqa: RUF012


class Patient(Base):
    __tablename__ = "patient"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    first_name: Mapped[str]
    last_name: Mapped[str]
    salutation: Mapped[str | None]
    birth_date: Mapped[dt.date]
    last_name_key: Mapped[str]
    last_name_phonetic: Mapped[str]
    phone: Mapped[str | None]
    insurance: Mapped[str]
    sms_consent: Mapped[bool]
    sms_consent_at: Mapped[dt.datetime | None]
    registered_by_phone: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class FhirPatient(Base):
    """FHIR record mode: which FHIR Patient (logical id on the practice's server) an Ignis id stands for."""

    __tablename__ = "fhir_patient"

    patient_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    fhir_id: Mapped[str]


class Verification(Base):
    __tablename__ = "verification"

    patient_ref: Mapped[str] = mapped_column(primary_key=True)
    conversation_id: Mapped[str]
    patient_id: Mapped[uuid.UUID]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[dt.datetime]


class IdentityAttempt(Base):
    """A failed identification or a new registration: what the identification budgets count."""

    __tablename__ = "identity_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str]
    kind: Mapped[str]
    caller_key: Mapped[str]
    name_codes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    name_said: Mapped[str]
    attempted_at: Mapped[dt.datetime]


class IdentityUnlock(Base):
    """Staff lifted a caller's or a name's lock at `unlocked_at`; earlier attempts no longer count."""

    __tablename__ = "identity_unlock"

    scope: Mapped[str] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(primary_key=True)
    unlocked_at: Mapped[dt.datetime]


class Call(Base):
    __tablename__ = "call"

    conversation_id: Mapped[str] = mapped_column(primary_key=True)
    kind: Mapped[str]
    patient_id: Mapped[uuid.UUID | None]
    caller_number: Mapped[str | None]
    started_at: Mapped[dt.datetime | None]
    duration_secs: Mapped[int | None]
    termination_reason: Mapped[str | None]
    failure_reason: Mapped[str | None]
    call_successful: Mapped[str | None]
    # Health data, encrypted at rest (kit.crypto).
    summary: Mapped[str | None] = mapped_column(Encrypted())
    transcript: Mapped[list[dict[str, Any]] | None] = mapped_column(Encrypted(as_json=True))
    analysis: Mapped[dict[str, Any] | None] = mapped_column(Encrypted(as_json=True))
    data_collection: Mapped[dict[str, Any] | None] = mapped_column(Encrypted(as_json=True))
    # The whole event, when part of it did not fit the columns above (services/patients/call_events.py).
    raw_event: Mapped[str | None] = mapped_column(Encrypted())
    received_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    retain_until: Mapped[dt.datetime]
    # FHIR record mode: the kind last written to the patient's Communication (None: not yet).
    fhir_kind: Mapped[str | None] = mapped_column(default=None)


class VendorDeletion(Base):
    """A conversation to delete at ElevenLabs too; `deleted_at` None while that is pending."""

    __tablename__ = "vendor_deletion"

    conversation_id: Mapped[str] = mapped_column(primary_key=True)
    reason: Mapped[str]
    requested_at: Mapped[dt.datetime]
    deleted_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)


class Request(Base):
    __tablename__ = "request"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str]
    details: Mapped[str] = mapped_column(Encrypted())  # the caller's words: encrypted at rest
    patient_id: Mapped[uuid.UUID | None]
    conversation_id: Mapped[str]
    callback_number: Mapped[str | None]
    urgent: Mapped[bool]
    status: Mapped[str] = mapped_column(default="open")
    idempotency_key: Mapped[str]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    claimed_by: Mapped[str | None]
    claimed_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
    completion_note: Mapped[str | None] = mapped_column(Encrypted())
    # FHIR record mode: the status last written to the request's Task (None: not yet).
    fhir_status: Mapped[str | None] = mapped_column(default=None)
