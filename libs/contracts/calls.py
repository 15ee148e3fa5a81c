"""ElevenLabs' post-call events as Ignis reads them (reference/elevenlabs.md §2).

Tolerant on purpose: ElevenLabs adds fields, so unknown keys are ignored and almost everything is optional.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict


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
