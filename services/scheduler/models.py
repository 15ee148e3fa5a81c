"""ORM mapping of the `scheduler` schema (the DDL lives in `migrations/`)."""

import datetime as dt
import uuid

from sqlalchemy import DateTime, ForeignKey, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ignis.kit.crypto import Encrypted
from ignis.kit.db import schema_metadata

SCHEMA = "scheduler"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)
    type_annotation_map = {dt.datetime: DateTime(timezone=True)}  # noqa: RUF012


class Appointment(Base):
    __tablename__ = "appointment"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    patient_id: Mapped[uuid.UUID]
    practitioner_id: Mapped[str]
    visit_type_id: Mapped[str]
    start_at: Mapped[dt.datetime]
    end_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(default="booked")
    reason: Mapped[str | None] = mapped_column(Encrypted())  # the caller's words: encrypted at rest
    conversation_id: Mapped[str]
    idempotency_key: Mapped[str | None]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    cancelled_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    late_change: Mapped[bool] = mapped_column(default=False)


class WaitlistEntry(Base):
    __tablename__ = "waitlist_entry"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    patient_id: Mapped[uuid.UUID]
    visit_type_id: Mapped[str]
    practitioner_id: Mapped[str | None]
    earliest: Mapped[dt.date | None]
    latest: Mapped[dt.date | None]
    conversation_id: Mapped[str]
    status: Mapped[str] = mapped_column(default="waiting")
    idempotency_key: Mapped[str]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.clock_timestamp())


class SlotHold(Base):
    """A freed slot kept for one waiting patient until `expires_at`: busy for everyone else."""

    __tablename__ = "slot_hold"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(WaitlistEntry.id, ondelete="CASCADE"))
    patient_id: Mapped[uuid.UUID]
    practitioner_id: Mapped[str]
    visit_type_id: Mapped[str]
    start_at: Mapped[dt.datetime]
    end_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
