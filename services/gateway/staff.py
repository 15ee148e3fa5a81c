"""The staff API: what a practice dashboard reads (bearer token `IGNIS_STAFF_TOKEN`, JSON, paginated).

Each view carries no more patient data than it shows; a transcript only comes with its own call.
"""

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field, TypeAdapter

from ignis.contracts import subjects
from ignis.contracts.base import ErrorCode, ErrorReply
from ignis.contracts.calls import CallDetail, CallPage, GetCall, ListCalls
from ignis.contracts.notifications import (
    ListMessages,
    MessagePage,
    MessageRetried,
    MessageStatus,
    RetryMessage,
    SetSmsConsent,
    SmsConsentSet,
)
from ignis.contracts.patients import (
    GetPatientNames,
    IdentityLocks,
    IdentityUnlocked,
    ListIdentityLocks,
    PatientNames,
    UnlockIdentity,
)
from ignis.contracts.requests import (
    ClaimRequest,
    CompleteRequest,
    ListRequests,
    RequestKind,
    RequestPage,
    RequestUpdated,
)
from ignis.contracts.scheduling import (
    DayAppointment,
    DayAppointments,
    ListDayAppointments,
    ListWaitlist,
    WaitlistItem,
    WaitlistPage,
)
from ignis.contracts.tools import WithoutNul, refuse_nul
from ignis.gateway.asking import ask_service
from ignis.gateway.auth import bearer_matches

STAFF_TIMEOUT_SECONDS = 5.0
# A day further away than this (either way) has no appointments worth asking for (a century).
MAX_DAYS_AWAY = 100 * 366
_STATUS = {
    ErrorCode.not_found: 404,
    ErrorCode.invalid_request: 400,
    ErrorCode.conflict: 409,
    ErrorCode.unavailable: 503,
}


def staff_only(request: Request) -> None:
    expected = request.app.state.settings.staff_token.get_secret_value()
    if not bearer_matches(request.headers.get("authorization", ""), expected):
        raise HTTPException(401, "staff token missing or wrong", headers={"WWW-Authenticate": "Bearer"})


def without_nul(request: Request) -> None:
    """Path and query values go to Postgres too: a NUL character there is a 400, not a failed query."""
    try:
        for value in (*request.path_params.values(), *request.query_params.values()):
            refuse_nul(value)
    except ValueError:
        raise HTTPException(400, ErrorCode.invalid_request.value) from None


router = APIRouter(prefix="/staff", tags=["staff"], dependencies=[Depends(staff_only), Depends(without_nul)])


async def _ask(request: Request, subject: str, query: BaseModel, adapter: TypeAdapter[Any]) -> Any:
    """The service's reply; a failure (its own or no reply) is the HTTP status that names its code."""
    reply = await ask_service(request, subject, query, adapter, STAFF_TIMEOUT_SECONDS)
    if isinstance(reply, ErrorReply):
        raise HTTPException(_STATUS.get(reply.code, 500), reply.code.value)
    return reply


@router.get("/calls")
async def list_calls(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> CallPage:
    """Recent calls, newest first: summary and who called, no transcript."""
    page: CallPage = await _ask(
        request,
        subjects.PATIENTS_CALLS_LIST,
        ListCalls(limit=limit, cursor=cursor),
        TypeAdapter(CallPage | ErrorReply),
    )
    return page


@router.get("/calls/{conversation_id}")
async def get_call(request: Request, conversation_id: Annotated[str, Path(max_length=200)]) -> CallDetail:
    """One call with its transcript and analysis."""
    call: CallDetail = await _ask(
        request,
        subjects.PATIENTS_CALLS_GET,
        GetCall(conversation_id=conversation_id),
        TypeAdapter(CallDetail | ErrorReply),
    )
    return call


class Claim(WithoutNul):
    by: str = Field(min_length=1, max_length=100, description="Who takes it (name or initials of staff)")


class Completion(Claim):
    note: str | None = Field(default=None, max_length=2000)


@router.get("/requests")
async def list_requests(
    request: Request,
    status: Literal["open", "claimed", "done"] | None = "open",
    kind: RequestKind | None = None,
    urgent: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> RequestPage:
    """The queue in working order: urgent first, then oldest first."""
    query = ListRequests(status=status, request_kind=kind, urgent=urgent, limit=limit, cursor=cursor)
    page: RequestPage = await _ask(
        request, subjects.PATIENTS_REQUEST_LIST, query, TypeAdapter(RequestPage | ErrorReply)
    )
    return page


@router.post("/requests/{request_id}/claim")
async def claim_request(
    request: Request, request_id: Annotated[str, Path(max_length=100)], claim: Claim
) -> RequestUpdated:
    """Take a request; 409 if someone else has it or it is done."""
    command = ClaimRequest(request_id=request_id, by=claim.by)
    updated: RequestUpdated = await _ask(
        request, subjects.PATIENTS_REQUEST_CLAIM, command, TypeAdapter(RequestUpdated | ErrorReply)
    )
    return updated


@router.post("/requests/{request_id}/complete")
async def complete_request(
    request: Request, request_id: Annotated[str, Path(max_length=100)], completion: Completion
) -> RequestUpdated:
    """Close a request with a note."""
    command = CompleteRequest(request_id=request_id, by=completion.by, note=completion.note)
    updated: RequestUpdated = await _ask(
        request, subjects.PATIENTS_REQUEST_COMPLETE, command, TypeAdapter(RequestUpdated | ErrorReply)
    )
    return updated


@router.get("/appointments")
async def day_appointments(
    request: Request,
    date: dt.date | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """The booked appointments of one day (default: today), in time order, with the patients' names."""
    today = dt.datetime.now(ZoneInfo(request.app.state.practice.timezone)).date()
    day = date or today
    if abs((day - today).days) > MAX_DAYS_AWAY:  # the scheduler's calendar arithmetic ends at year 9999
        raise HTTPException(400, ErrorCode.invalid_request.value)
    page: DayAppointments = await _ask(
        request,
        subjects.SCHEDULER_DAY,
        ListDayAppointments(day=day, limit=limit, cursor=cursor),
        TypeAdapter(DayAppointments | ErrorReply),
    )
    items = await _with_names(request, page.items)
    return {"date": day.isoformat(), "items": items, "next_cursor": page.next_cursor}


@router.get("/waitlist")
async def waitlist(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """Who waits for which visit type, first come first, with the slot held for them (and until when)."""
    page: WaitlistPage = await _ask(
        request,
        subjects.SCHEDULER_WAITLIST_LIST,
        ListWaitlist(limit=limit, cursor=cursor),
        TypeAdapter(WaitlistPage | ErrorReply),
    )
    return {"items": await _with_names(request, page.items), "next_cursor": page.next_cursor}


async def _with_names(
    request: Request, items: Sequence[DayAppointment | WaitlistItem]
) -> list[dict[str, Any]]:
    """The items as JSON, each with its patient's name (asked of the patients service)."""
    ids = sorted({item.patient_id for item in items})
    names: PatientNames = (
        await _ask(
            request,
            subjects.PATIENTS_NAMES,
            GetPatientNames(patient_ids=ids),
            TypeAdapter(PatientNames | ErrorReply),
        )
        if ids
        else PatientNames(names={})
    )
    return [
        {**item.model_dump(mode="json"), "patient_name": names.names.get(item.patient_id)} for item in items
    ]


@router.get("/messages")
async def list_messages(
    request: Request,
    appointment_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    status: MessageStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> MessagePage:
    """The SMS of an appointment or a patient (or all), newest first, with what became of each.

    `status=unknown` lists those whose request left without an answer: they may or may not have
    arrived, and are never sent again automatically; `failed` ones say why (e.g. sipgate credit).
    """
    query = ListMessages(
        appointment_id=appointment_id, patient_id=patient_id, status=status, limit=limit, cursor=cursor
    )
    page: MessagePage = await _ask(
        request, subjects.NOTIFIER_MESSAGES_LIST, query, TypeAdapter(MessagePage | ErrorReply)
    )
    return page


@router.post("/messages/{message_id}/retry")
async def retry_message(request: Request, message_id: uuid.UUID) -> MessageRetried:
    """Send a `failed` SMS again, e.g. after the sipgate credit was topped up; 409 for any other status
    (an `unknown` one may have arrived: call the patient rather than text them twice)."""
    retried: MessageRetried = await _ask(
        request,
        subjects.NOTIFIER_MESSAGE_RETRY,
        RetryMessage(message_id=message_id),
        TypeAdapter(MessageRetried | ErrorReply),
    )
    return retried


class Consent(BaseModel):
    sms_consent: bool = Field(description="whether the patient agrees to SMS (confirmations, reminders)")


@router.put("/patients/{patient_id}/sms-consent")
async def set_sms_consent(request: Request, patient_id: uuid.UUID, consent: Consent) -> SmsConsentSet:
    """Record a patient's SMS consent, given or withdrawn; every SMS not yet sent follows it."""
    command = SetSmsConsent(patient_id=patient_id, sms_consent=consent.sms_consent)
    result: SmsConsentSet = await _ask(
        request, subjects.PATIENTS_SMS_CONSENT, command, TypeAdapter(SmsConsentSet | ErrorReply)
    )
    return result


@router.get("/identification-locks")
async def identification_locks(request: Request) -> IdentityLocks:
    """Caller numbers and last names that may not be verified by phone now (too many failed attempts)."""
    locks: IdentityLocks = await _ask(
        request, subjects.PATIENTS_LOCKS_LIST, ListIdentityLocks(), TypeAdapter(IdentityLocks | ErrorReply)
    )
    return locks


class Unlock(WithoutNul):
    scope: Literal["caller", "name"]
    key: str = Field(min_length=1, max_length=64, description="as /staff/identification-locks lists it")


@router.post("/identification-locks/unlock")
async def unlock_identification(request: Request, unlock: Unlock) -> IdentityUnlocked:
    """Lift a lock (e.g. after calling the patient back): earlier failed attempts no longer count."""
    command = UnlockIdentity(scope=unlock.scope, key=unlock.key)
    unlocked: IdentityUnlocked = await _ask(
        request, subjects.PATIENTS_LOCKS_UNLOCK, command, TypeAdapter(IdentityUnlocked | ErrorReply)
    )
    return unlocked
