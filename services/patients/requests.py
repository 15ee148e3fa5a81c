"""The staff request queue: what a caller asks the practice to do, filed by the voice agent (or by the
identification budget when it locks a name), then claimed and completed by staff."""

import datetime as dt
import hashlib
import uuid

from ignis.contracts import subjects
from ignis.contracts.patients import ResolvePatientRef
from ignis.contracts.requests import (
    NEEDS_VERIFIED_PATIENT,
    ClaimRequest,
    CompleteRequest,
    CreateRequest,
    ListRequests,
    RequestCreated,
    RequestFiled,
    RequestItem,
    RequestKind,
    RequestPage,
    RequestUpdated,
)
from ignis.kit.errors import NotVerified
from ignis.kit.pagination import decode_cursor, encode_cursor
from ignis.kit.phones import to_e164
from ignis.patients.calls import patient_link
from ignis.patients.errors import InvalidPhone, RequestConflict, RequestNotFound
from ignis.patients.models import Patient, Request
from ignis.patients.refs import resolve_ref
from ignis.patients.repository import PatientRepository

WHAT_NEXT = {
    RequestKind.rueckruf: "Das Praxisteam ruft Sie so bald wie möglich zurück.",
    RequestKind.rezept: "Das Praxisteam bereitet das Rezept vor und meldet sich, falls es Rückfragen gibt.",
    RequestKind.ueberweisung: "Das Praxisteam bereitet die Überweisung vor und meldet sich bei Rückfragen.",
    RequestKind.krankschreibung: "Die Praxis prüft die Krankschreibung; das Praxisteam meldet sich.",
    RequestKind.nachricht: "Ich habe Ihre Nachricht an das Praxisteam weitergegeben.",
}


async def create_request(repo: PatientRepository, cmd: CreateRequest, now: dt.datetime) -> RequestFiled:
    patient_id = None
    if cmd.patient_ref:
        resolved = await resolve_ref(
            repo, ResolvePatientRef(conversation_id=cmd.conversation_id, patient_ref=cmd.patient_ref), now
        )
        patient_id = uuid.UUID(resolved.patient_id)
    elif cmd.kind in NEEDS_VERIFIED_PATIENT:
        raise NotVerified("this request needs a verified caller")
    number = cmd.callback_number or cmd.caller_id
    callback = to_e164(number) if number else None
    if cmd.callback_number and callback is None:
        raise InvalidPhone("callback number not valid")
    if cmd.kind is RequestKind.rueckruf and callback is None and patient_id is None:
        raise InvalidPhone("a callback needs a number")
    key = f"{cmd.conversation_id}:{cmd.kind.value}:{hashlib.sha256(cmd.details.encode()).hexdigest()}"
    request = await repo.request_by_key(key)
    if request is None:
        request = await file_request(
            repo,
            Request(
                id=uuid.uuid4(),
                kind=cmd.kind.value,
                details=cmd.details,
                patient_id=patient_id,
                conversation_id=cmd.conversation_id,
                callback_number=callback,
                urgent=cmd.urgent,
                idempotency_key=key,
            ),
            now,
        )
    return RequestFiled(request_id=str(request.id), what_next=WHAT_NEXT[cmd.kind])


async def file_request(repo: PatientRepository, request: Request, now: dt.datetime) -> Request:
    """Put a request in the staff queue and announce it (`request.created`, through the outbox)."""
    request = await repo.add_request(request)
    event = RequestCreated(
        event_id=uuid.uuid4(),
        occurred_at=now,
        request_id=str(request.id),
        request_kind=RequestKind(request.kind),
        urgent=request.urgent,
    )
    await repo.add_event(subjects.REQUEST_CREATED, event)
    return request


def _request_item(request: Request, patient: Patient | None) -> RequestItem:
    return RequestItem(
        request_id=str(request.id),
        request_kind=RequestKind(request.kind),
        urgent=request.urgent,
        status=request.status,
        details=request.details,
        callback_number=request.callback_number,
        patient=patient_link(patient),
        created_at=request.created_at,
        claimed_by=request.claimed_by,
        completion_note=request.completion_note,
    )


def _request_cursor(request: Request) -> str:
    return encode_cursor(int(request.urgent), request.created_at.isoformat(), request.id)


def _after_request(cursor: str) -> tuple[bool, dt.datetime, uuid.UUID]:
    urgent, created_at, request_id = decode_cursor(cursor, str, dt.datetime.fromisoformat, uuid.UUID)
    return urgent == "1", created_at, request_id


async def list_requests(repo: PatientRepository, query: ListRequests) -> RequestPage:
    after = _after_request(query.cursor) if query.cursor else None
    kind = query.request_kind.value if query.request_kind else None
    rows = await repo.requests(query.status, kind, query.urgent, query.limit + 1, after)
    page = rows[: query.limit]
    return RequestPage(
        items=[_request_item(request, patient) for request, patient in page],
        next_cursor=_request_cursor(page[-1][0]) if len(rows) > query.limit else None,
    )


async def _request(repo: PatientRepository, request_id: str) -> Request:
    try:
        key = uuid.UUID(request_id)
    except ValueError:
        raise RequestNotFound("no such request") from None
    request = await repo.request_for_update(key)
    if request is None:
        raise RequestNotFound("no such request")
    return request


async def claim_request(repo: PatientRepository, cmd: ClaimRequest, now: dt.datetime) -> RequestUpdated:
    request = await _request(repo, cmd.request_id)
    if request.status == "done" or (request.status == "claimed" and request.claimed_by != cmd.by):
        raise RequestConflict("already claimed or done")
    request.status, request.claimed_by, request.claimed_at = "claimed", cmd.by, request.claimed_at or now
    return RequestUpdated(request=_request_item(request, await repo.records.patient_of(request.patient_id)))


async def complete_request(repo: PatientRepository, cmd: CompleteRequest, now: dt.datetime) -> RequestUpdated:
    request = await _request(repo, cmd.request_id)
    if request.status == "claimed" and request.claimed_by != cmd.by:
        raise RequestConflict("claimed by someone else")
    if request.status != "done":
        request.status, request.completed_at, request.completion_note = "done", now, cmd.note
        request.claimed_by = request.claimed_by or cmd.by
    return RequestUpdated(request=_request_item(request, await repo.records.patient_of(request.patient_id)))
