"""The pages of the practice team's app (German, server-rendered; htmx for live parts).

Every page asks the services over NATS (`backend.py`); only accounts, sessions and the audit trail are
the app's own. Ids in URLs are opaque (request, call, message and patient ids); no name, number or date of
birth ever is.
"""

import asyncio
import datetime as dt
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Literal, Protocol
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ignis.contracts.base import ErrorCode
from ignis.contracts.notifications import MessageItem, MessageStatus
from ignis.contracts.requests import RequestItem, RequestKind
from ignis.contracts.scheduling import DayAppointment, SlotOffer, SlotTaken
from ignis.kit import dead_letters
from ignis.staff_app import accounts
from ignis.staff_app.auth import (
    CSRF_FIELD,
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    Staff,
    admin,
    base_path,
    clear_cookie,
    csrf_checked,
    set_cookie,
    signed_in,
    unit_of_work,
    utcnow,
)
from ignis.staff_app.backend import Backend, BackendError

logger = logging.getLogger("ignis.staff_app")
router = APIRouter()
SignedIn = Annotated[Staff, Depends(signed_in)]
Changing = Annotated[Staff, Depends(csrf_checked)]
Admin = Annotated[Staff, Depends(admin)]

KINDS = {
    RequestKind.rueckruf: "Rückruf",
    RequestKind.rezept: "Rezept",
    RequestKind.ueberweisung: "Überweisung",
    RequestKind.krankschreibung: "Krankschreibung",
    RequestKind.nachricht: "Nachricht",
}
MESSAGE_STATUS = {
    "pending": "geplant",
    "claimed": "in Arbeit",
    "sending": "wird gesendet",
    "sent": "gesendet",
    "failed": "fehlgeschlagen",
    "unknown": "unklar (keine Antwort)",
    "skipped": "nicht gesendet",
    "withdrawn": "zurückgezogen",
}
TEMPLATES = {
    "confirmation": "Terminbestätigung",
    "reschedule": "Terminverlegung",
    "cancellation": "Terminabsage",
    "reminder": "Terminerinnerung",
}
# The notifier's reasons are written for the operator (English); the desk reads them in German. Matched by a
# part of the text; an unknown reason is shown as it is.
REASONS = (
    ("(402)", "sipgate-Guthaben aufgebraucht: Konto aufladen, dann erneut senden"),
    ("(401)", "sipgate lehnt die Zugangsdaten ab: Einstellungen prüfen"),
    ("(403)", "sipgate erlaubt diese SMS-Absenderkennung nicht: Web-SMS buchen, Einstellungen prüfen"),
    ("gave up after", "mehrmals vergeblich versucht"),
    ("no answer from sipgate", "keine Antwort von sipgate: vielleicht angekommen"),
    ("whether the SMS went out is unknown", "unklar, ob sie hinausging"),
    ("whether it sent is unknown", "unklar, ob sie hinausging"),
    ("the appointment has begun", "der Termin hatte schon begonnen"),
    ("quiet hours", "fiel in die Ruhezeit"),
    ("no SMS consent", "keine SMS-Einwilligung"),
    ("no mobile number", "keine Mobilnummer"),
    ("patient no longer exists", "Patient gelöscht"),
    ("cancelled", "Termin abgesagt"),
    ("moved", "Termin verlegt"),
)


def reason_in_german(reason: str | None) -> str:
    if not reason:
        return "–"
    return next((german for part, german in REASONS if part in reason), reason)


class SystemCheck(Protocol):
    """One of `ignis doctor`'s checks (`ignis.provision.doctor.Check`) as the system page shows it."""

    @property
    def name(self) -> str: ...
    @property
    def outcome(self) -> str: ...  # pass, fail or skip
    @property
    def detail(self) -> str: ...
    @property
    def fix(self) -> str: ...


SystemChecks = Callable[[], Awaitable[Sequence[SystemCheck]]]
# The doctor probes ElevenLabs, sipgate and the SIP edge (5 s each at most, in parallel where it can).
SYSTEM_CHECKS_SECONDS = 60.0
CHECK_OUTCOMES = {"pass": "in Ordnung", "fail": "Fehler", "skip": "übersprungen"}

OUTCOMES = {"success": "erfolgreich", "failure": "nicht erfolgreich", "unknown": "unklar"}
# What a service's error means for the person at the desk, and the page's status.
ERRORS: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.conflict: (409, "Konflikt: Jemand anderes war schneller – der Stand wurde neu geladen."),
    ErrorCode.not_found: (404, "Nicht gefunden (vielleicht inzwischen gelöscht)."),
    ErrorCode.invalid_request: (400, "Ungültige Eingabe."),
    ErrorCode.unavailable: (503, "Ein Dienst antwortet gerade nicht. Bitte gleich noch einmal versuchen."),
    ErrorCode.too_late: (409, "Der Termin hat schon begonnen und lässt sich nicht mehr ändern."),
    ErrorCode.invalid_slot: (409, "Diese Zeit ist nicht mehr buchbar. Bitte eine andere wählen."),
}


def backend(request: Request) -> Backend:
    return request.app.state.backend  # type: ignore[no-any-return]


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    staff = getattr(request.state, "staff", None)
    return templates.TemplateResponse(
        request,
        template,
        {
            "base": base_path(request),
            "staff": staff,
            "csrf": staff.csrf if staff else "",
            "kinds": KINDS,
            **context,
        },
        status_code=status,
    )


def error_page(request: Request, exc: BackendError) -> HTMLResponse:
    status, text = ERRORS.get(exc.code, (500, "Unerwarteter Fehler."))
    return render(request, "error.html", status=status, message=text)


async def audit(
    request: Request, staff: Staff, action: str, patient_id: Any = None, target: str | None = None
) -> None:
    async with unit_of_work(request) as repo:
        await accounts.record(repo, staff.account, action, utcnow(), patient_id, target)


def see_other(request: Request, path: str) -> RedirectResponse:
    return RedirectResponse(base_path(request) + path, status_code=303)


# --- signing in and out ---------------------------------------------------------------------------------


@router.get("/anmelden", response_class=HTMLResponse)
async def sign_in_form(request: Request) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "sign_in.html", pre_csrf=token)
    set_cookie(request, response, PRE_SESSION_COOKIE, token, max_age=3600)
    return response


@router.post("/anmelden", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    name: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    expected = request.cookies.get(PRE_SESSION_COOKIE, "")
    if not expected or not secrets.compare_digest(csrf.encode(), expected.encode()):
        return render(request, "error.html", status=403, message="Sicherheitsprüfung fehlgeschlagen.")
    policy = request.app.state.policy
    refused: accounts.SignInRefused | None = None
    async with unit_of_work(request) as repo:  # a refusal commits too: it counts towards the lock-out
        try:
            account = await accounts.sign_in(repo, name.strip(), password, utcnow(), policy)
        except accounts.SignInRefused as exc:
            refused = exc
        else:
            token, _ = await accounts.open_session(repo, account, utcnow(), policy)
            await accounts.record(repo, account, "anmeldung", utcnow())
    if refused is not None:
        logger.info("staff sign-in refused", extra={"locked": refused.locked})
        message = (
            "Zu viele Fehlversuche: Das Konto ist vorübergehend gesperrt."
            if refused.locked
            else "Name oder Passwort falsch."
        )
        return render(request, "sign_in.html", status=401, pre_csrf=expected, message=message)
    response = see_other(request, "/")
    set_cookie(request, response, SESSION_COOKIE, token, max_age=int(policy.session_max.total_seconds()))
    clear_cookie(request, response, PRE_SESSION_COOKIE)
    return response


@router.post("/abmelden")
async def sign_out(request: Request, staff: Changing) -> Response:
    async with unit_of_work(request) as repo:
        await accounts.sign_out(repo, request.cookies.get(SESSION_COOKIE, ""))
        await accounts.record(repo, staff.account, "abmeldung", utcnow())
    response = see_other(request, "/anmelden")
    clear_cookie(request, response, SESSION_COOKIE)
    return response


@router.get("/einrichten/{token}", response_class=HTMLResponse)
async def set_up_form(request: Request, token: str) -> Response:
    async with unit_of_work(request) as repo:
        account = await accounts.account_to_set_up(repo, token, utcnow())
    if account is None:
        return render(request, "error.html", status=404, message="Dieser Einrichtungslink ist ungültig.")
    response = render(request, "set_up.html", account_name=account.name, pre_csrf=token)
    return response


@router.post("/einrichten/{token}", response_class=HTMLResponse)
async def set_up(
    request: Request,
    token: str,
    password: Annotated[str, Form(max_length=1000)],
    repeated: Annotated[str, Form(max_length=1000)],
    csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    # The link's own token is the form's CSRF token: only who holds the link can post it.
    if not secrets.compare_digest(csrf.encode(), token.encode()):
        return render(request, "error.html", status=403, message="Sicherheitsprüfung fehlgeschlagen.")
    async with unit_of_work(request) as repo:
        account = await accounts.account_to_set_up(repo, token, utcnow())
        if account is None:
            return render(request, "error.html", status=404, message="Dieser Einrichtungslink ist ungültig.")
        problem = None
        if len(password) < accounts.MIN_PASSWORD_LENGTH:
            problem = f"Das Passwort braucht mindestens {accounts.MIN_PASSWORD_LENGTH} Zeichen."
        elif password != repeated:
            problem = "Die beiden Eingaben stimmen nicht überein."
        if problem is None:
            await accounts.set_password(repo, token, password, utcnow())
            await accounts.record(repo, account, "passwort gesetzt", utcnow())
    if problem:
        return render(
            request, "set_up.html", status=400, account_name=account.name, pre_csrf=token, message=problem
        )
    return see_other(request, "/anmelden")


# --- inbox ----------------------------------------------------------------------------------------------


def _kind(value: str | None) -> RequestKind | None:
    return RequestKind(value) if value in set(RequestKind) else None


@router.get("/", response_class=HTMLResponse)
async def inbox(request: Request, _staff: SignedIn, art: str | None = None) -> Response:
    kind = _kind(art)
    try:
        items = await backend(request).requests(kind)
    except BackendError as exc:
        return error_page(request, exc)
    return render(
        request, "inbox.html", items=items, kind=kind, poll=request.app.state.settings.staff_poll_seconds
    )


@router.get("/anfragen/liste", response_class=HTMLResponse)
async def inbox_rows(request: Request, _staff: SignedIn, art: str | None = None) -> Response:
    """The inbox's rows, which the page polls (htmx) to stay current."""
    try:
        items = await backend(request).requests(_kind(art))
    except BackendError as exc:
        return error_page(request, exc)
    return render(request, "inbox_rows.html", items=items)


async def _request_change(
    request: Request, staff: Staff, action: str, work: Awaitable[RequestItem], art: str | None
) -> Response:
    """Claim or complete, then back to the inbox; a conflict (someone was quicker) is shown as such."""
    kind = _kind(art)
    try:
        item = await work
    except BackendError as exc:
        status, text = ERRORS.get(exc.code, (500, "Unerwarteter Fehler."))
        try:
            items = await backend(request).requests(kind)
        except BackendError:
            items = []
        poll = request.app.state.settings.staff_poll_seconds
        return render(request, "inbox.html", status=status, items=items, kind=kind, message=text, poll=poll)
    await audit(request, staff, action, item.patient.patient_id if item.patient else None, item.request_id)
    return see_other(request, "/" + (f"?art={kind.value}" if kind else ""))


@router.post("/anfragen/{request_id}/uebernehmen")
async def claim(request: Request, request_id: str, staff: Changing, art: str | None = None) -> Response:
    work = backend(request).claim(request_id[:100], staff.account.name)
    return await _request_change(request, staff, "anfrage übernommen", work, art)


@router.post("/anfragen/{request_id}/erledigen")
async def complete(
    request: Request,
    request_id: str,
    staff: Changing,
    note: Annotated[str, Form(max_length=2000)] = "",
    art: str | None = None,
) -> Response:
    work = backend(request).complete(request_id[:100], staff.account.name, note.strip() or None)
    return await _request_change(request, staff, "anfrage erledigt", work, art)


# --- calls ----------------------------------------------------------------------------------------------


@router.get("/anrufe", response_class=HTMLResponse)
async def calls(request: Request, _staff: SignedIn, weiter: str | None = None) -> Response:
    try:
        page = await backend(request).calls(cursor=weiter[:200] if weiter else None)
    except BackendError as exc:
        return error_page(request, exc)
    return render(request, "calls.html", page=page, outcomes=OUTCOMES)


@router.get("/anrufe/{conversation_id}", response_class=HTMLResponse)
async def call(request: Request, conversation_id: str, staff: SignedIn) -> Response:
    try:
        detail = await backend(request).call(conversation_id[:200])
    except BackendError as exc:
        return error_page(request, exc)
    patient_id = detail.patient.patient_id if detail.patient else None
    await audit(request, staff, "transkript angesehen", patient_id, detail.conversation_id)
    return render(request, "call.html", call=detail, outcomes=OUTCOMES)


# --- SMS ------------------------------------------------------------------------------------------------


async def _messages_with_names(request: Request, messages: list[MessageItem]) -> dict[str, str]:
    return await backend(request).names({str(m.patient_id) for m in messages})


@router.get("/sms", response_class=HTMLResponse)
async def sms(request: Request, _staff: SignedIn) -> Response:
    """Failed and unclear ones first (they need a person), then the most recent others."""
    try:
        failed, unknown, recent = await asyncio.gather(
            backend(request).messages(MessageStatus.failed),
            backend(request).messages(MessageStatus.unknown),
            backend(request).messages(),
        )
        attention = {m.message_id for m in (*failed, *unknown)}
        messages = [*failed, *unknown, *(m for m in recent if m.message_id not in attention)]
        names = await _messages_with_names(request, messages)
    except BackendError as exc:
        return error_page(request, exc)
    return render(
        request,
        "sms.html",
        messages=messages,
        names=names,
        statuses=MESSAGE_STATUS,
        templates=TEMPLATES,
        reason=reason_in_german,
    )


@router.post("/sms/{message_id}/erneut")
async def retry_sms(request: Request, message_id: uuid.UUID, staff: Changing) -> Response:
    try:
        message = await backend(request).retry(message_id)
    except BackendError as exc:
        return error_page(request, exc)
    await audit(request, staff, "sms erneut gesendet", message.patient_id, str(message.message_id))
    return see_other(request, "/sms")


# --- patients -------------------------------------------------------------------------------------------


@router.get("/patienten/{patient_id}", response_class=HTMLResponse)
async def patient(request: Request, patient_id: uuid.UUID, staff: SignedIn) -> Response:
    """Contact, SMS consent, upcoming appointments, the SMS sent, and the recent calls and open requests of
    one patient."""
    try:
        names, contact, appointments, messages, calls, requests = await asyncio.gather(
            backend(request).names({str(patient_id)}),
            backend(request).contact(patient_id),
            backend(request).appointments(patient_id),
            backend(request).messages(patient_id=patient_id),
            backend(request).calls(limit=100),
            backend(request).requests(None),
        )
    except BackendError as exc:
        return error_page(request, exc)
    await audit(request, staff, "patient angesehen", patient_id)
    mine = str(patient_id)
    return render(
        request,
        "patient.html",
        patient_id=patient_id,
        name=names.get(mine, "(unbekannt)"),
        contact=contact,
        appointments=appointments,
        messages=messages,
        calls=[c for c in calls.items if c.patient and c.patient.patient_id == mine],
        requests=[r for r in requests if r.patient and r.patient.patient_id == mine],
        statuses=MESSAGE_STATUS,
        templates=TEMPLATES,
        outcomes=OUTCOMES,
        consent_at=request.query_params.get("eingetragen"),
    )


@router.post("/patienten/{patient_id}/sms-einwilligung")
async def sms_consent(
    request: Request,
    patient_id: uuid.UUID,
    staff: Changing,
    consent: Annotated[str, Form(max_length=10)],
) -> Response:
    try:
        result = await backend(request).set_sms_consent(patient_id, consent == "ja")
    except BackendError as exc:
        return error_page(request, exc)
    action = "sms-einwilligung erteilt" if result.sms_consent else "sms-einwilligung widerrufen"
    await audit(request, staff, action, patient_id)
    return see_other(request, f"/patienten/{patient_id}")


@router.get("/patienten/{patient_id}/loeschen", response_class=HTMLResponse)
async def erase_form(request: Request, patient_id: uuid.UUID, _staff: Admin) -> Response:
    """The confirmation names the patient and everything that goes with them."""
    try:
        names, messages, calls, requests = await asyncio.gather(
            backend(request).names({str(patient_id)}),
            backend(request).messages(patient_id=patient_id, limit=100),
            backend(request).calls(limit=100),
            backend(request).requests(None),
        )
    except BackendError as exc:
        return error_page(request, exc)
    if str(patient_id) not in names:
        return render(request, "error.html", status=404, message=ERRORS[ErrorCode.not_found][1])
    mine = str(patient_id)
    return render(
        request,
        "erase.html",
        patient_id=patient_id,
        name=names[mine],
        calls=sum(1 for c in calls.items if c.patient and c.patient.patient_id == mine),
        requests=sum(1 for r in requests if r.patient and r.patient.patient_id == mine),
        messages=len(messages),
    )


@router.post("/patienten/{patient_id}/loeschen", response_class=HTMLResponse)
async def erase(
    request: Request, patient_id: uuid.UUID, staff: Annotated[Staff, Depends(admin), Depends(csrf_checked)]
) -> Response:
    try:
        counts = await backend(request).erase(patient_id)
    except BackendError as exc:
        return error_page(request, exc)
    await audit(request, staff, "patient gelöscht", patient_id)
    return render(request, "erased.html", counts=counts)


@router.get("/patienten/{patient_id}/protokoll", response_class=HTMLResponse)
async def patient_audit(request: Request, patient_id: uuid.UUID, staff: Admin) -> Response:
    async with unit_of_work(request) as repo:
        entries = await repo.audit_of_patient(patient_id)
    await audit(request, staff, "protokoll angesehen", patient_id)
    return render(request, "audit.html", entries=entries, patient_id=patient_id)


# --- the day --------------------------------------------------------------------------------------------


@router.get("/tag", response_class=HTMLResponse)
async def day(request: Request, _staff: SignedIn, datum: dt.date | None = None) -> Response:
    """One day's appointments per practitioner, in time order."""
    practice = request.app.state.practice
    today = dt.datetime.now(ZoneInfo(practice.timezone)).date()
    shown = datum if datum and abs((datum - today).days) < 3660 else today
    try:
        page = await backend(request).day(shown)
        names = await backend(request).names({a.patient_id for a in page.items})
    except BackendError as exc:
        return error_page(request, exc)
    columns: dict[str, list[Any]] = {}
    for item in sorted(page.items, key=lambda a: a.start):
        columns.setdefault(item.practitioner, []).append(item)
    return render(
        request,
        "day.html",
        day=shown,
        previous=shown - dt.timedelta(days=1),
        following=shown + dt.timedelta(days=1),
        columns=columns,
        names=names,
    )


async def _day_item(request: Request, day: dt.date, appointment_id: str) -> DayAppointment:
    """The appointment as the day page showed it; the patient it belongs to comes from the scheduler, not
    from the form."""
    page = await backend(request).day(day)
    found = next((a for a in page.items if a.appointment_id == appointment_id), None)
    if found is None:
        raise BackendError(ErrorCode.not_found)
    return found


async def _change_page(
    request: Request, template: str, day: dt.date, appointment_id: str, status: int = 200, **context: Any
) -> Response:
    try:
        item = await _day_item(request, day, appointment_id[:100])
        names = await backend(request).names({item.patient_id})
        if template == "move.html" and "slots" not in context:
            today = dt.datetime.now(ZoneInfo(request.app.state.practice.timezone)).date()
            context["slots"] = await backend(request).free_slots(item.visit_type, item.practitioner, today)
    except BackendError as exc:
        return error_page(request, exc)
    name = names.get(item.patient_id, "(unbekannt)")
    return render(request, template, status=status, day=day, appointment=item, name=name, **context)


@router.get("/tag/{datum}/termine/{appointment_id}/absagen", response_class=HTMLResponse)
async def cancel_form(request: Request, datum: dt.date, appointment_id: str, _staff: SignedIn) -> Response:
    """Asks before it cancels: the patient gets an SMS about it."""
    return await _change_page(request, "cancel.html", datum, appointment_id)


@router.post("/tag/{datum}/termine/{appointment_id}/absagen")
async def cancel_appointment(
    request: Request, datum: dt.date, appointment_id: str, staff: Changing
) -> Response:
    try:
        item = await _day_item(request, datum, appointment_id[:100])
        await backend(request).cancel_appointment(item.appointment_id)
    except BackendError as exc:
        return error_page(request, exc)
    await audit(request, staff, "termin abgesagt", item.patient_id, item.appointment_id)
    return see_other(request, f"/tag?datum={datum.isoformat()}")


@router.get("/tag/{datum}/termine/{appointment_id}/verlegen", response_class=HTMLResponse)
async def move_form(request: Request, datum: dt.date, appointment_id: str, _staff: SignedIn) -> Response:
    """The next free slots for the same visit type with the same practitioner, to pick one."""
    return await _change_page(request, "move.html", datum, appointment_id)


@router.post("/tag/{datum}/termine/{appointment_id}/verlegen", response_class=HTMLResponse)
async def move_appointment(
    request: Request,
    datum: dt.date,
    appointment_id: str,
    staff: Changing,
    slot_id: Annotated[str, Form(max_length=200)],
) -> Response:
    try:
        item = await _day_item(request, datum, appointment_id[:100])
        moved = await backend(request).move_appointment(item.appointment_id, slot_id)
    except BackendError as exc:
        return error_page(request, exc)
    if isinstance(moved, SlotTaken):
        alternatives: list[SlotOffer] = moved.alternatives
        message = "Diese Zeit wurde eben vergeben. Bitte eine andere wählen."
        return await _change_page(
            request, "move.html", datum, appointment_id, 409, slots=alternatives, message=message
        )
    await audit(request, staff, "termin verlegt", item.patient_id, item.appointment_id)
    return see_other(request, f"/tag?datum={moved.appointment.start.date().isoformat()}")


# --- system (admins) ------------------------------------------------------------------------------------


@router.get("/system", response_class=HTMLResponse)
async def system(request: Request, _staff: Admin) -> Response:
    settings = request.app.state.settings
    try:
        locks = await backend(request).identity_locks()
    except BackendError as exc:
        return error_page(request, exc)
    letters = await dead_letters.dead_letters(settings.nats, limit=200)
    return render(request, "system.html", locks=locks.items, letters=letters)


@router.get("/system/pruefung", response_class=HTMLResponse)
async def system_checks(request: Request, staff: Admin) -> Response:
    """`ignis doctor` from the browser: each check with its outcome, what it saw and the fix. Run on request
    only (it takes seconds and asks ElevenLabs and sipgate)."""
    run: SystemChecks | None = request.app.state.system_checks
    if run is None:
        return render(request, "error.html", status=404, message="Die Prüfung ist hier nicht eingerichtet.")
    try:
        checks = await asyncio.wait_for(run(), SYSTEM_CHECKS_SECONDS)
    except TimeoutError:
        return render(request, "error.html", status=504, message="Die Prüfung hat zu lange gedauert.")
    await audit(request, staff, "systemprüfung")
    failed = sum(1 for c in checks if c.outcome == "fail")
    return render(request, "checks.html", checks=checks, failed=failed, outcomes=CHECK_OUTCOMES)


@router.post("/system/entsperren")
async def unlock(
    request: Request,
    staff: Annotated[Staff, Depends(admin), Depends(csrf_checked)],
    scope: Annotated[Literal["caller", "name"], Form()],
    key: Annotated[str, Form(max_length=64)],
) -> Response:
    try:
        await backend(request).unlock(scope, key)
    except BackendError as exc:
        return error_page(request, exc)
    await audit(request, staff, f"identifizierung entsperrt ({scope})")
    return see_other(request, "/system")


@router.post("/system/dead-letters/{sequence}/erneut")
async def replay(
    request: Request, sequence: int, staff: Annotated[Staff, Depends(admin), Depends(csrf_checked)]
) -> Response:
    done = await dead_letters.replay(request.app.state.settings.nats, [sequence])
    await audit(request, staff, "dead letter erneut zugestellt", target=str(sequence) if done else None)
    return see_other(request, "/system")
