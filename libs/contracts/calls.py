"""Call records for the staff: list and detail. (A post-call event itself is read field by field in
`services/patients/call_events.py`, so that a malformed part never drops the rest.)"""

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from ignis.contracts.base import Contract


class ListCalls(Contract):
    """Staff view: the most recent calls first, a page at a time (keyset cursor)."""

    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=200)


class PatientLink(Contract):
    patient_id: str
    name: str = Field(repr=False)


class CallSummary(Contract):
    conversation_id: str
    kind: str
    received_at: dt.datetime
    started_at: dt.datetime | None
    duration_secs: int | None
    call_successful: str | None
    summary: str | None = Field(repr=False)
    patient: PatientLink | None


class CallPage(Contract):
    kind: Literal["calls"] = "calls"
    items: list[CallSummary]
    next_cursor: str | None


class GetCall(Contract):
    conversation_id: str = Field(min_length=1, max_length=200)


class CallDetail(CallSummary):
    """One call with its transcript: only for the staff view of that call."""

    caller_number: str | None = Field(repr=False)
    termination_reason: str | None
    failure_reason: str | None
    transcript: list[dict[str, Any]] = Field(repr=False)
    analysis: dict[str, Any] | None = Field(repr=False)
    data_collection: dict[str, Any] | None = Field(repr=False)
    retain_until: dt.datetime
