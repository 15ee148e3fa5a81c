"""The inbox: the staff request queue (callbacks, prescriptions, referrals, sick notes, messages), polled
by htmx; claiming and completing a request."""

from collections.abc import Awaitable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from ignis.contracts.requests import RequestItem, RequestKind
from ignis.staff_app.auth import Staff
from ignis.staff_app.backend import BackendError
from ignis.staff_app.pages.page import (
    ERRORS,
    Changing,
    SignedIn,
    audit,
    backend,
    error_page,
    render,
    see_other,
)

router = APIRouter()


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
