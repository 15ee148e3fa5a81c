"""The staff request queue: what a caller asks the practice to do (callback, prescription, referral, ...)."""

import datetime as dt
from enum import StrEnum
from typing import Literal

from pydantic import Field

from ignis.contracts.base import Contract, Event
from ignis.contracts.calls import PatientLink


class RequestKind(StrEnum):
    rueckruf = "rueckruf"
    rezept = "rezept"
    ueberweisung = "ueberweisung"
    krankschreibung = "krankschreibung"
    nachricht = "nachricht"


# Issuing these acts on a patient's record, so only a caller verified in the conversation may ask.
NEEDS_VERIFIED_PATIENT = {RequestKind.rezept, RequestKind.ueberweisung, RequestKind.krankschreibung}


class CreateRequest(Contract):
    conversation_id: str = Field(min_length=1, max_length=200)
    caller_id: str | None = Field(default=None, max_length=64, repr=False)
    kind: RequestKind
    details: str = Field(min_length=1, max_length=2000, repr=False)
    patient_ref: str | None = Field(default=None, max_length=200)
    urgent: bool = False
    callback_number: str | None = Field(default=None, max_length=64, repr=False)


class RequestFiled(Contract):
    """The reply: the request is in the staff queue (its wire `kind` predates the name)."""

    kind: Literal["request_created"] = "request_created"
    request_id: str
    what_next: str


class RequestCreated(Event):
    """Raised for every new request; `urgent` ones should alert staff. Carries no details (health data)."""

    request_id: str
    request_kind: RequestKind
    urgent: bool


class ListRequests(Contract):
    status: Literal["open", "claimed", "done"] | None = "open"
    request_kind: RequestKind | None = None
    urgent: bool | None = None
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=200)


class RequestItem(Contract):
    request_id: str
    request_kind: RequestKind
    urgent: bool
    status: str
    details: str = Field(repr=False)
    callback_number: str | None = Field(repr=False)
    patient: PatientLink | None
    created_at: dt.datetime
    claimed_by: str | None
    completion_note: str | None = Field(repr=False)


class RequestPage(Contract):
    kind: Literal["requests"] = "requests"
    items: list[RequestItem]
    next_cursor: str | None


class ClaimRequest(Contract):
    request_id: str = Field(min_length=1, max_length=100)
    by: str = Field(min_length=1, max_length=100)


class CompleteRequest(Contract):
    request_id: str = Field(min_length=1, max_length=100)
    by: str = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=2000, repr=False)


class RequestUpdated(Contract):
    kind: Literal["request"] = "request"
    request: RequestItem
