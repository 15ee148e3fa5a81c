"""ElevenLabs' post-call events as Ignis reads them (reference/elevenlabs.md §2).

Tolerant on purpose: ElevenLabs adds fields, so unknown keys are ignored and almost everything is optional.
"""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ignis.contracts.base import Contract


class ElevenLabsModel(BaseModel):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)


class PhoneCall(ElevenLabsModel):
    direction: str | None = None
    external_number: str | None = None  # the caller, on an inbound call
    agent_number: str | None = None
    call_sid: str | None = None


class CallMetadata(ElevenLabsModel):
    start_time_unix_secs: int | None = None
    call_duration_secs: int | None = None
    termination_reason: str | None = None
    phone_call: PhoneCall | None = None


class Analysis(ElevenLabsModel):
    call_successful: str | None = None
    transcript_summary: str | None = None
    data_collection_results: dict[str, Any] = {}
    evaluation_criteria_results: dict[str, Any] = {}


class InitiationData(ElevenLabsModel):
    dynamic_variables: dict[str, Any] = {}


class CallData(ElevenLabsModel):
    conversation_id: str
    agent_id: str | None = None
    transcript: list[dict[str, Any]] = []
    metadata: CallMetadata | None = None
    analysis: Analysis | None = None
    conversation_initiation_client_data: InitiationData | None = None
    failure_reason: str | None = None  # call_initiation_failure only


class PostCallEvent(ElevenLabsModel):
    type: str
    event_timestamp: int | None = None
    data: CallData


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
