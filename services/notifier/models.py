"""ORM mapping of the `notifier` schema (the DDL lives in `migrations/`)."""

import datetime as dt
import uuid

from sqlalchemy import DateTime, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ignis.kit.crypto import Encrypted
from ignis.kit.db import schema_metadata

SCHEMA = "notifier"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)
    type_annotation_map = {dt.datetime: DateTime(timezone=True)}  # noqa: RUF012


class Appointment(Base):
    __tablename__ = "appointment"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    patient_id: Mapped[uuid.UUID]
    start_at: Mapped[dt.datetime]
    cancelled: Mapped[bool]
    event_id: Mapped[uuid.UUID]
    event_at: Mapped[dt.datetime]
    version: Mapped[int]


class Message(Base):
    __tablename__ = "message"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    idempotency_key: Mapped[str]
    event_id: Mapped[uuid.UUID]
    template: Mapped[str]
    appointment_id: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID]
    practitioner_id: Mapped[str]
    start_at: Mapped[dt.datetime]
    previous_start_at: Mapped[dt.datetime | None]
    status: Mapped[str]
    reason: Mapped[str | None]
    due_at: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    claim: Mapped[uuid.UUID | None]
    claimed_at: Mapped[dt.datetime | None]
    provider: Mapped[str | None]
    provider_status: Mapped[int | None]
    body: Mapped[str | None] = mapped_column(Encrypted())  # the SMS text: encrypted at rest
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.clock_timestamp())
    finished_at: Mapped[dt.datetime | None]
    fhir_patient_id: Mapped[str | None]  # FHIR record mode: whom the Communication is about
    fhir_written_at: Mapped[dt.datetime | None]  # when its Communication reached the server


class StaffAlert(Base):
    __tablename__ = "staff_alert"

    request_id: Mapped[str] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime]
    status: Mapped[str]
    reason: Mapped[str | None]
