"""ORM mapping of the `staff_app` schema (the DDL lives in `migrations/`)."""

import datetime as dt
import uuid

from sqlalchemy import DateTime
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ignis.kit.db import schema_metadata

SCHEMA = "staff_app"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)
    type_annotation_map = {dt.datetime: DateTime(timezone=True)}  # noqa: RUF012


class Account(Base):
    __tablename__ = "account"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str]
    role: Mapped[str]
    password_hash: Mapped[str | None]
    setup_token_hash: Mapped[str | None]
    setup_expires_at: Mapped[dt.datetime | None]
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]


class Session(Base):
    __tablename__ = "session"

    token_hash: Mapped[str] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID]
    csrf_token: Mapped[str]
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]


class AuditEntry(Base):
    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime]
    account_id: Mapped[uuid.UUID | None]
    account_name: Mapped[str]
    action: Mapped[str]
    patient_id: Mapped[uuid.UUID | None]
    target: Mapped[str | None]
