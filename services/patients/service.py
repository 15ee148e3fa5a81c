"""Business rules of caller identification and registration.

`not_found` and `too_many_attempts` are answers, not exceptions: the failed attempt they count must be
committed with the reply, whereas a raised `ServiceError` rolls the unit of work back.
"""

import asyncio
import datetime as dt
import hashlib
import json
import logging
import secrets
import uuid
from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.contracts import subjects
from ignis.contracts.base import ErrorCode, ErrorReply
from ignis.contracts.calls import (
    CallDetail,
    CallPage,
    CallSummary,
    GetCall,
    ListCalls,
    PatientLink,
)
from ignis.contracts.notifications import Contact, GetContact, SetSmsConsent, SmsConsentSet
from ignis.contracts.patients import (
    CallerLookedUp,
    GetPatientNames,
    IdentifyPatient,
    IdentityLock,
    IdentityLocks,
    IdentityUnlocked,
    Insurance,
    LookupCaller,
    PatientAlreadyRegistered,
    PatientErased,
    PatientIdentified,
    PatientNames,
    PatientRefResolved,
    PatientRegistered,
    RegisterPatient,
    ResolvePatientRef,
    UnlockIdentity,
)
from ignis.contracts.requests import (
    NEEDS_VERIFIED_PATIENT,
    ClaimRequest,
    CompleteRequest,
    CreateRequest,
    ListRequests,
    RequestCreated,
    RequestCreatedEvent,
    RequestItem,
    RequestKind,
    RequestPage,
    RequestUpdated,
)
from ignis.kit.errors import NotFound, NotVerified
from ignis.kit.outbox import add_event
from ignis.kit.pagination import decode_cursor, encode_cursor
from ignis.kit.payload import unpack
from ignis.kit.phones import is_mobile, to_e164
from ignis.patients import budget, call_events
from ignis.patients.errors import (
    CallNotFound,
    InvalidPhone,
    RequestConflict,
    RequestNotFound,
)
from ignis.patients.matching import NameMatch, match_name, normalise, phonetic
from ignis.patients.models import Call, Patient, Request
from ignis.patients.repository import PatientRepository
from ignis.patients.settings import PatientsSettings
from ignis.practice.config import Practice

logger = logging.getLogger("ignis.patients.calls")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _best(candidates: Sequence[Patient], spoken: str, name_of: str) -> list[Patient]:
    """The candidates whose name matches best; exact spellings win over phonetic near misses."""
    scored = [(match_name(spoken, getattr(patient, name_of)), patient) for patient in candidates]
    top = max((score for score, _ in scored), default=NameMatch.NONE)
    return [] if top is NameMatch.NONE else [patient for score, patient in scored if score is top]


def find_matches(candidates: Sequence[Patient], last_name: str, first_name: str | None) -> list[Patient]:
    """Patients that name + birth date identify; more than one means ask, never guess."""
    matches = _best(candidates, last_name, "last_name")
    if first_name and matches:
        matches = _best(matches, first_name, "first_name")
    return matches


def salutation_of(patient: Patient) -> str:
    if patient.salutation:
        return f"{patient.salutation} {patient.last_name}"
    return f"{patient.first_name} {patient.last_name}"


async def _issue_ref(
    repo: PatientRepository,
    settings: PatientsSettings,
    conversation_id: str,
    patient: Patient,
    now: dt.datetime,
) -> str:
    expires_at = now + dt.timedelta(minutes=settings.ref_ttl_minutes)
    return await repo.issue_ref(conversation_id, patient.id, "pr_" + secrets.token_urlsafe(16), expires_at)


TOO_MANY_ATTEMPTS = ErrorReply(code=ErrorCode.too_many_attempts, message="identification budget used up")


async def identify(
    repo: PatientRepository, settings: PatientsSettings, cmd: IdentifyPatient, now: dt.datetime
) -> PatientIdentified | ErrorReply:
    attempt = budget.Attempt.of(cmd.conversation_id, cmd.caller_id, cmd.last_name)
    verdict = await budget.check(repo, settings, attempt, now)
    if verdict.locked:
        return TOO_MANY_ATTEMPTS
    matches = find_matches(await repo.by_birth_date(cmd.birth_date), cmd.last_name, cmd.first_name)
    if len(matches) == 1:
        patient = matches[0]
        ref = await _issue_ref(repo, settings, cmd.conversation_id, patient, now)
        return PatientIdentified(
            patient_ref=ref, first_name=patient.first_name, salutation=salutation_of(patient)
        )
    if len(matches) > 1:
        return ErrorReply(code=ErrorCode.ambiguous, message=f"{len(matches)} patients match")
    await _count(repo, settings, attempt, verdict, "failed", cmd.last_name, now)
    if budget.used_up(settings, verdict.usage, plus_failures=1):
        return TOO_MANY_ATTEMPTS
    failures = verdict.usage.conversation + 1
    return ErrorReply(code=ErrorCode.not_found, message=f"no match (attempt {failures})")


async def register(
    repo: PatientRepository, settings: PatientsSettings, cmd: RegisterPatient, now: dt.datetime
) -> PatientRegistered | PatientAlreadyRegistered | ErrorReply:
    """A registration is an identification too (an existing name + birth date answers with its ref), so it
    draws on the same budgets, and a new patient counts like a failed attempt (see `budget`)."""
    if cmd.phone:
        phone = to_e164(cmd.phone)
        if phone is None:
            raise InvalidPhone("phone number not valid")
    else:
        # A suppressed or foreign caller id is no reason to refuse the registration.
        phone = to_e164(cmd.caller_id) if cmd.caller_id else None

    attempt = budget.Attempt.of(cmd.conversation_id, cmd.caller_id, cmd.last_name)
    verdict = await budget.check(repo, settings, attempt, now)
    if repeated := await _repeated_registration(repo, cmd, attempt):
        return repeated  # the gateway asked again after a lost reply: the same answer, not a refusal
    if verdict.locked or verdict.registrations_left <= 0:
        return TOO_MANY_ATTEMPTS
    await repo.lock_birth_date(cmd.birth_date)
    matches = find_matches(await repo.by_birth_date(cmd.birth_date), cmd.last_name, cmd.first_name)
    if len(matches) > 1:
        return ErrorReply(code=ErrorCode.already_registered, message="several existing records match")
    if matches:
        patient = matches[0]
        ref = await _issue_ref(repo, settings, cmd.conversation_id, patient, now)
        return PatientAlreadyRegistered(
            patient_ref=ref, first_name=patient.first_name, salutation=salutation_of(patient)
        )

    await _count(repo, settings, attempt, verdict, "registered", cmd.last_name, now)
    patient = await repo.add(new_patient(cmd, phone, now))
    return PatientRegistered(patient_ref=await _issue_ref(repo, settings, cmd.conversation_id, patient, now))


async def _repeated_registration(
    repo: PatientRepository, cmd: RegisterPatient, attempt: budget.Attempt
) -> PatientRegistered | PatientAlreadyRegistered | None:
    """The answer already given in this conversation to this registration, if it was given: a patient of
    this name and birth date verified here (reveals nothing the caller was not told already)."""
    verified = {patient.id: (ref, patient) for ref, patient in await repo.verified_in(cmd.conversation_id)}
    same_day = [patient for _, patient in verified.values() if patient.birth_date == cmd.birth_date]
    matches = find_matches(same_day, cmd.last_name, cmd.first_name)
    if len(matches) != 1:
        return None
    ref, patient = verified[matches[0].id]
    if await repo.registered_in(cmd.conversation_id, attempt.name_said):
        return PatientRegistered(patient_ref=ref)
    return PatientAlreadyRegistered(
        patient_ref=ref, first_name=patient.first_name, salutation=salutation_of(patient)
    )


async def _count(
    repo: PatientRepository,
    settings: PatientsSettings,
    attempt: budget.Attempt,
    verdict: budget.Verdict,
    kind: str,
    last_name: str,
    now: dt.datetime,
) -> None:
    """Count the attempt; when it locks a name that a patient has, tell staff at once (never the dates)."""
    locked = await budget.count(repo, settings, attempt, verdict, kind, now)
    if not locked:
        return
    in_use = {code for name in await repo.last_names() for code in budget.name_codes(name)}
    for code in locked:
        if code in in_use:
            details = (
                "Telefonische Identifizierung gesperrt: "
                f"{settings.max_name_failures} erfolglose Versuche oder Neuanmeldungen in "
                f"{settings.budget_window_hours} Stunden für den Nachnamen „{last_name.strip()}“ "
                "(oder einen ähnlich klingenden). "
                "Möglicherweise versucht jemand, ein Geburtsdatum zu erraten. "
                "Bitte die Anrufe prüfen; die Sperre endet von selbst oder wird vom Praxisteam aufgehoben."
            )
            request = Request(
                id=uuid.uuid4(),
                kind=RequestKind.nachricht.value,
                details=details,
                patient_id=None,
                conversation_id=attempt.conversation_id,
                callback_number=None,
                urgent=True,
                idempotency_key=f"identity-lock:{code}:{now.isoformat()}",
            )
            await _file_request(repo, request, now)
            logger.warning("identification locked for a name in use")  # no code: it derives from a name
            return


def new_patient(cmd: RegisterPatient, phone: str | None, now: dt.datetime) -> Patient:
    return Patient(
        first_name=cmd.first_name.strip(),
        last_name=cmd.last_name.strip(),
        salutation=cmd.salutation.value if cmd.salutation else None,
        birth_date=cmd.birth_date,
        last_name_key=normalise(cmd.last_name),
        last_name_phonetic=phonetic(cmd.last_name),
        phone=phone,
        insurance=cmd.insurance.value,
        sms_consent=cmd.sms_consent,
        sms_consent_at=now if cmd.sms_consent else None,
        registered_by_phone=True,
    )


async def resolve_ref(
    repo: PatientRepository, cmd: ResolvePatientRef, now: dt.datetime
) -> PatientRefResolved:
    verification = await repo.verification(cmd.patient_ref)
    if verification is None or verification.conversation_id != cmd.conversation_id:
        raise NotVerified("ref unknown in this conversation")
    if verification.expires_at <= now:
        raise NotVerified("ref expired")
    patient = await repo.get(verification.patient_id)
    if patient is None:  # erased during the call
        raise NotVerified("patient erased")
    return PatientRefResolved(
        patient_id=str(patient.id),
        birth_date=patient.birth_date,
        insurance=Insurance(patient.insurance),
        registered_by_phone=patient.registered_by_phone,
    )


async def seed(repo: PatientRepository, practice: Practice, now: dt.datetime) -> int:
    """Load the practice file's demo patients into an empty database; returns how many were added."""
    if await repo.count():
        return 0
    for entry in practice.demo_patients:
        cmd = RegisterPatient(
            conversation_id="seed",
            first_name=entry.first_name,
            last_name=entry.last_name,
            birth_date=entry.birth_date,
            insurance=entry.insurance,
            sms_consent=entry.sms_consent,
            salutation=entry.salutation,
        )
        await repo.add(new_patient(cmd, to_e164(entry.phone) if entry.phone else None, now))
    return len(practice.demo_patients)


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


def _cursor(call: Call) -> str:
    return encode_cursor(call.received_at.isoformat(), call.conversation_id)


def _after(cursor: str) -> tuple[dt.datetime, str]:
    received_at, conversation_id = decode_cursor(cursor, dt.datetime.fromisoformat, str)
    return received_at, conversation_id


def _summary_fields(call: Call, patient: Patient | None) -> dict[str, object]:
    link = (
        PatientLink(patient_id=str(patient.id), name=f"{patient.first_name} {patient.last_name}")
        if patient
        else None
    )
    return {
        "conversation_id": call.conversation_id,
        "kind": call.kind,
        "received_at": call.received_at,
        "started_at": call.started_at,
        "duration_secs": call.duration_secs,
        "call_successful": call.call_successful,
        "summary": call.summary,
        "patient": link,
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
    patient = await repo.get(call.patient_id) if call.patient_id else None
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
    matches = await repo.by_phone(phone) if phone else []
    if len(matches) != 1:
        return CallerLookedUp(known=False)
    return CallerLookedUp(known=True, first_name=matches[0].first_name)


WHAT_NEXT = {
    RequestKind.rueckruf: "Das Praxisteam ruft Sie so bald wie möglich zurück.",
    RequestKind.rezept: "Das Praxisteam bereitet das Rezept vor und meldet sich, falls es Rückfragen gibt.",
    RequestKind.ueberweisung: "Das Praxisteam bereitet die Überweisung vor und meldet sich bei Rückfragen.",
    RequestKind.krankschreibung: "Die Praxis prüft die Krankschreibung; das Praxisteam meldet sich.",
    RequestKind.nachricht: "Ich habe Ihre Nachricht an das Praxisteam weitergegeben.",
}


async def create_request(repo: PatientRepository, cmd: CreateRequest, now: dt.datetime) -> RequestCreated:
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
        request = await _file_request(
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
    return RequestCreated(request_id=str(request.id), what_next=WHAT_NEXT[cmd.kind])


async def _file_request(repo: PatientRepository, request: Request, now: dt.datetime) -> Request:
    """Put a request in the staff queue and announce it (`request.created`, through the outbox)."""
    request = await repo.add_request(request)
    event = RequestCreatedEvent(
        event_id=uuid.uuid4(),
        occurred_at=now,
        request_id=str(request.id),
        request_kind=RequestKind(request.kind),
        urgent=request.urgent,
    )
    await add_event(repo.session, "patients", subjects.REQUEST_CREATED, event)
    return request


def _request_item(request: Request, patient: Patient | None) -> RequestItem:
    link = (
        PatientLink(patient_id=str(patient.id), name=f"{patient.first_name} {patient.last_name}")
        if patient
        else None
    )
    return RequestItem(
        request_id=str(request.id),
        request_kind=RequestKind(request.kind),
        urgent=request.urgent,
        status=request.status,
        details=request.details,
        callback_number=request.callback_number,
        patient=link,
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
    return RequestUpdated(request=_request_item(request, await repo.patient_of(request.patient_id)))


async def complete_request(repo: PatientRepository, cmd: CompleteRequest, now: dt.datetime) -> RequestUpdated:
    request = await _request(repo, cmd.request_id)
    if request.status == "claimed" and request.claimed_by != cmd.by:
        raise RequestConflict("claimed by someone else")
    if request.status != "done":
        request.status, request.completed_at, request.completion_note = "done", now, cmd.note
        request.claimed_by = request.claimed_by or cmd.by
    return RequestUpdated(request=_request_item(request, await repo.patient_of(request.patient_id)))


# How often expired call records are looked for; retention is counted in days, so hourly is plenty.
PURGE_EVERY_SECONDS = 3600.0


async def purge_expired_calls(repo: PatientRepository, now: dt.datetime) -> int:
    """Delete call records past their retention date (transcripts are health data: kept no longer); their
    conversations are recorded for deletion at ElevenLabs too (`vendor.delete_conversations`)."""
    await repo.record_vendor_deletions(await repo.expired_conversations(now), "retention", now)
    purged = await repo.purge_calls(now)
    if purged:
        logger.info("expired call records deleted", extra={"count": purged})
    return purged


async def purge_expired_attempts(
    repo: PatientRepository, settings: PatientsSettings, now: dt.datetime
) -> int:
    """Identification attempts (caller numbers, names said) are kept no longer than their window."""
    return await repo.purge_attempts(budget.window_start(settings, now))


async def identity_locks(
    repo: PatientRepository, settings: PatientsSettings, now: dt.datetime
) -> IdentityLocks:
    rows = await repo.budget_locks(
        budget.window_start(settings, now), settings.max_caller_failures, settings.max_name_failures
    )
    window = dt.timedelta(hours=settings.budget_window_hours)
    return IdentityLocks(
        items=[
            IdentityLock(
                scope=scope,
                key=key,
                failures=failures,
                names_said=sorted(names),
                locked_until=lifting + window,
            )
            for scope, key, failures, names, lifting in rows
        ]
    )


async def unlock_identity(repo: PatientRepository, cmd: UnlockIdentity, now: dt.datetime) -> IdentityUnlocked:
    await repo.unlock(cmd.scope, cmd.key, now)
    logger.info("identification lock lifted by staff", extra={"scope": cmd.scope})
    return IdentityUnlocked(scope=cmd.scope)


async def erase_patient(repo: PatientRepository, patient_id: uuid.UUID) -> dict[str, int]:
    """GDPR Art. 17: the patient, their call records, requests and verifications; `patient.erased` (through
    the outbox, so it goes out once the erasure committed) makes the scheduler and the notifier erase
    their appointments and SMS records."""
    counts = await repo.erase(patient_id)
    if counts["patient"]:
        event = PatientErased(event_id=uuid.uuid4(), occurred_at=utcnow(), patient_id=patient_id)
        await add_event(repo.session, "patients", subjects.PATIENT_ERASED, event)
    logger.info("patient erased", extra={"patient_id": str(patient_id), **counts})
    return counts


def carries_patient(patient_id: uuid.UUID, conversation_ids: set[str]) -> Callable[[str, bytes], bool]:
    """Whether a stream message holds the patient's data: a post-call event (raw or dead-lettered) of one of
    their conversations, or an event naming them. `patient.erased` is kept: it is what makes a service
    that is down erase the patient once it is back."""
    keep = {subjects.PATIENT_ERASED, subjects.dead_letter(subjects.PATIENT_ERASED)}
    patient = str(patient_id)

    def carries(subject: str, data: bytes) -> bool:
        if subject in keep:
            return False
        try:
            payload = json.loads(unpack(data))
        except (ValueError, UnicodeDecodeError):
            return False
        if not isinstance(payload, dict):
            return False
        inner = payload.get("data")
        conversation = inner.get("conversation_id") if isinstance(inner, dict) else None
        return conversation in conversation_ids or payload.get("patient_id") == patient

    return carries


async def purge_forever(sessionmaker: async_sessionmaker[AsyncSession], settings: PatientsSettings) -> None:
    """Background job of the service: purge expired call records and attempts now and every hour."""
    while True:
        try:
            async with sessionmaker() as session, session.begin():
                repo, now = PatientRepository(session), utcnow()
                await purge_expired_calls(repo, now)
                await purge_expired_attempts(repo, settings, now)
        except Exception:  # the database may be away; the next round tries again
            logger.warning("purge of expired call records failed", exc_info=True)
        await asyncio.sleep(PURGE_EVERY_SECONDS)


async def patient_names(repo: PatientRepository, query: GetPatientNames) -> PatientNames:
    ids = []
    for text in query.patient_ids:
        try:
            ids.append(uuid.UUID(text))
        except ValueError:
            continue  # an id this service never issued simply has no name
    patients = await repo.by_ids(ids)
    return PatientNames(names={str(p.id): f"{p.first_name} {p.last_name}" for p in patients})


async def contact(repo: PatientRepository, query: GetContact) -> Contact:
    patient = await repo.get(query.patient_id)
    if patient is None:
        raise NotFound("no such patient")
    return Contact(
        phone=patient.phone,
        mobile=patient.phone is not None and is_mobile(patient.phone),
        sms_consent=patient.sms_consent,
    )


async def set_sms_consent(repo: PatientRepository, cmd: SetSmsConsent, now: dt.datetime) -> SmsConsentSet:
    patient = await repo.get(cmd.patient_id)
    if patient is None:
        raise NotFound("no such patient")
    if patient.sms_consent != cmd.sms_consent:
        patient.sms_consent = cmd.sms_consent
        patient.sms_consent_at = now if cmd.sms_consent else None
        logger.info(
            "SMS consent changed", extra={"patient_id": str(patient.id), "sms_consent": cmd.sms_consent}
        )
    return SmsConsentSet(
        patient_id=patient.id, sms_consent=patient.sms_consent, sms_consent_at=patient.sms_consent_at
    )
