"""Base model, error codes and the error reply shared by every request-reply subject."""

import datetime as dt
import uuid
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """Base for every message on the bus: immutable, strict, and safe to log (input hidden in errors)."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class ErrorCode(StrEnum):
    """Stable, snake_case outcome codes; the gateway turns them into German sentences."""

    invalid_request = "invalid_request"
    internal = "internal"
    unavailable = "unavailable"
    not_found = "not_found"
    ambiguous = "ambiguous"
    invalid_birth_date = "invalid_birth_date"
    too_many_attempts = "too_many_attempts"
    already_registered = "already_registered"
    invalid_phone = "invalid_phone"
    not_verified = "not_verified"
    invalid_date = "invalid_date"
    invalid_slot = "invalid_slot"
    too_late = "too_late"
    unknown_practitioner = "unknown_practitioner"
    conflict = "conflict"


class ErrorReply(Contract):
    """A request's typed failure; `message` is technical, never carries patient data, safe to log."""

    kind: Literal["error"] = "error"
    code: ErrorCode
    message: str = ""


class Ping(Contract):
    """Readiness probe sent by the gateway to each service."""


class Pong(Contract):
    kind: Literal["pong"] = "pong"
    service: str


class Event(Contract):
    """Something that happened, published once through a service's outbox; consumers dedupe by `event_id`."""

    event_id: uuid.UUID
    occurred_at: dt.datetime
