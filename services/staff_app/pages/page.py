"""What every page uses: the backend, rendering with the base context, the error page for a service's
error, the redirect after a change, and the audit trail's entry for what the person did."""

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from ignis.contracts.base import ErrorCode
from ignis.staff_app import accounts
from ignis.staff_app.auth import Staff, admin, base_path, csrf_checked, signed_in, unit_of_work, utcnow
from ignis.staff_app.backend import Backend, BackendError
from ignis.staff_app.pages.labels import KINDS

SignedIn = Annotated[Staff, Depends(signed_in)]
Changing = Annotated[Staff, Depends(csrf_checked)]
Admin = Annotated[Staff, Depends(admin)]
AdminChanging = Annotated[Staff, Depends(admin), Depends(csrf_checked)]

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
