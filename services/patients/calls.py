"""Call records: one per conversation, kept from ElevenLabs' post-call events for staff to read, and the
caller's number recognised when a call comes in."""

import datetime as dt
import logging

from ignis.contracts.calls import CallDetail, CallPage, CallSummary, GetCall, ListCalls, PatientLink
from ignis.contracts.patients import CallerLookedUp, LookupCaller
from ignis.kit.pagination import decode_cursor, encode_cursor
from ignis.kit.payload import unpack
from ignis.kit.phones import to_e164
from ignis.patients import call_events
from ignis.patients.errors import CallNotFound
from ignis.patients.models import Call, Patient
from ignis.patients.repository import PatientRepository
from ignis.patients.settings import PatientsSettings

logger = logging.getLogger("ignis.patients.calls")


async def store_call(
    repo: PatientRepository, settings: PatientsSettings, raw: bytes, now: dt.datetime
) -> bool:
    """Keep one record per conversation from a post-call event; False if it was there already.

    The record is linked to the patient verified during that call, so staff see whose call it was. A
    transcription that follows an initiation failure of the same conversation replaces that record (it
    says more). A body that is no event at all raises ValueError: the consumer dead-letters it at once.
    """
    body = unpack(raw)
    event = call_events.parse(body)
    call = call_events.call_record(event, body, now + dt.timedelta(days=settings.call_retention_days))
    call.patient_id = await repo.patient_of_conversation(call.conversation_id)
    stored = await repo.add_call(call)
    logger.info(
        "call stored" if stored else "call already stored",
        extra={"conversation_id": call.conversation_id, "complete": call.raw_event is None},
    )
    return stored


def patient_link(patient: Patient | None) -> PatientLink | None:
    """Whose call or request it is, for staff."""
    if patient is None:
        return None
    return PatientLink(patient_id=str(patient.id), name=f"{patient.first_name} {patient.last_name}")


def _cursor(call: Call) -> str:
    return encode_cursor(call.received_at.isoformat(), call.conversation_id)


def _after(cursor: str) -> tuple[dt.datetime, str]:
    received_at, conversation_id = decode_cursor(cursor, dt.datetime.fromisoformat, str)
    return received_at, conversation_id


def _summary_fields(call: Call, patient: Patient | None) -> dict[str, object]:
    return {
        "conversation_id": call.conversation_id,
        "kind": call.kind,
        "received_at": call.received_at,
        "started_at": call.started_at,
        "duration_secs": call.duration_secs,
        "call_successful": call.call_successful,
        "summary": call.summary,
        "patient": patient_link(patient),
    }


async def list_calls(repo: PatientRepository, query: ListCalls) -> CallPage:
    # One more than asked tells whether there is a next page.
    rows = await repo.recent_calls(query.limit + 1, _after(query.cursor) if query.cursor else None)
    page = rows[: query.limit]
    return CallPage(
        items=[CallSummary(**_summary_fields(call, patient)) for call, patient in page],
        next_cursor=_cursor(page[-1][0]) if len(rows) > query.limit else None,
    )


async def get_call(repo: PatientRepository, query: GetCall) -> CallDetail:
    call = await repo.get_call(query.conversation_id)
    if call is None:
        raise CallNotFound("no such call")
    patient = await repo.records.get(call.patient_id) if call.patient_id else None
    return CallDetail(
        **_summary_fields(call, patient),
        caller_number=call.caller_number,
        termination_reason=call.termination_reason,
        failure_reason=call.failure_reason,
        transcript=call.transcript or [],
        analysis=call.analysis,
        data_collection=call.data_collection,
        retain_until=call.retain_until,
    )


async def lookup_caller(repo: PatientRepository, query: LookupCaller) -> CallerLookedUp:
    """Known only when the number belongs to exactly one patient; a shared number stays anonymous."""
    phone = to_e164(query.caller_id)
    matches = await repo.records.by_phone(phone) if phone else []
    if len(matches) != 1:
        return CallerLookedUp(known=False)
    return CallerLookedUp(known=True, first_name=matches[0].first_name)
