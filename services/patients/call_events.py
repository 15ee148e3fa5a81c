"""What a post-call event becomes: a call record that keeps every part that reads, and the event itself
when a part does not.

ElevenLabs' payloads change and callers say anything: a duration of 1.5, a transcript given as an object,
an integer caller number, a NUL byte or a lone surrogate in a summary, a timestamp in the year 50,000.
None of that may drop the record (a signed webhook was answered 200: it must become a record), and
none of it may fail in Postgres again and again. So each field is read on its own; what does not read is
left out of its column, and the event is then kept whole (encrypted) in `raw_event`.
"""

import datetime as dt
import json
import math
import re
from typing import Any

from ignis.kit.phones import to_e164
from ignis.patients.models import Call

# Postgres `integer`.
_INT_MAX = 2**31 - 1


class Reader:
    """Reads fields of one event, remembering whether any part had to be left out."""

    def __init__(self) -> None:
        self.lossy = False

    def text(self, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, str):
            return self.json(value) or None
        self.lossy = True
        return None

    def json(self, value: Any) -> Any:
        """`value` with every string made storable; a change counts as a loss (the raw event keeps it)."""
        cleaned = clean_json(value)
        if cleaned != value:
            self.lossy = True
        return cleaned

    def number(self, value: Any, low: int = 0, high: int = _INT_MAX) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.lossy = True
            return None
        number = round(value)
        if number != value:
            self.lossy = True  # rounded: keep the exact value in the raw event
        if not low <= number <= high:
            self.lossy = True
            return None
        return number

    def mapping(self, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        self.lossy = True
        return {}

    def moment(self, value: Any) -> dt.datetime | None:
        seconds = self.number(value, 0, 2**62)
        if seconds is None:
            return None
        try:
            return dt.datetime.fromtimestamp(seconds, dt.UTC)
        except (OverflowError, OSError, ValueError):  # beyond what a datetime holds
            self.lossy = True
            return None

    def transcript(self, value: Any) -> list[dict[str, Any]] | None:
        """The turns; a turn given as a plain string is kept as its message."""
        if value is None:
            return None
        if not isinstance(value, list):
            self.lossy = True
            return None
        turns = []
        for turn in value:
            if isinstance(turn, dict):
                turns.append(turn)
            elif isinstance(turn, str):
                turns.append({"role": None, "message": turn})
                self.lossy = True
            else:
                self.lossy = True
        return self.json(turns) or None


# A surrogate code point in a str is always a lone one (json.loads joins pairs): UTF-8 cannot hold it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """Text Postgres and UTF-8 can hold: no NUL, each lone surrogate replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text.replace("\x00", ""))


def clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    if isinstance(value, dict):
        return {clean(str(key)): clean_json(item) for key, item in value.items()}
    return value


def call_record(event: dict[str, Any], raw: bytes, retain_until: dt.datetime) -> Call:
    """The record of a post-call event (its `type` and `data.conversation_id` checked by the gateway).

    `patient_id` is left for the caller to set: whoever was verified in that conversation.
    """
    read = Reader()
    data = read.mapping(event.get("data"))
    metadata = read.mapping(data.get("metadata"))
    phone_call = read.mapping(metadata.get("phone_call"))
    initiation = read.mapping(data.get("conversation_initiation_client_data"))
    variables = read.mapping(initiation.get("dynamic_variables"))
    analysis = read.mapping(data.get("analysis"))
    caller = phone_call.get("external_number") or variables.get("system__caller_id")
    if isinstance(caller, int) and not isinstance(caller, bool):
        caller = f"+{caller}"  # E.164 sent as a number
    collected = read.mapping(analysis.get("data_collection_results"))
    rest_of_analysis = {key: value for key, value in analysis.items() if key != "data_collection_results"}
    call = Call(
        conversation_id=clean(str(data["conversation_id"])),
        kind=str(event["type"]),
        caller_number=to_e164(read.text(caller) or "") if caller else None,
        started_at=read.moment(metadata.get("start_time_unix_secs")),
        duration_secs=read.number(metadata.get("call_duration_secs")),
        termination_reason=read.text(metadata.get("termination_reason")),
        failure_reason=read.text(data.get("failure_reason")),
        call_successful=read.text(analysis.get("call_successful")),
        summary=read.text(analysis.get("transcript_summary")),
        transcript=read.transcript(data.get("transcript")),
        analysis=read.json(rest_of_analysis) or None,
        data_collection=read.json(collected) or None,
        retain_until=retain_until,
    )
    if read.lossy:
        call.raw_event = clean(raw.decode("utf-8", "replace"))
    return call


def parse(raw: bytes) -> dict[str, Any]:
    """The event as JSON; a body that is none raises ValueError (a deterministic failure: dead letter)."""
    event = json.loads(raw)
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise ValueError("not a post-call event")
    if "conversation_id" not in event["data"] or "type" not in event:
        raise ValueError("post-call event without type or conversation")
    return event
