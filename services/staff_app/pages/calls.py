"""The calls the agent answered, page by page, and one call with its transcript (reading it is audited)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ignis.staff_app.backend import BackendError
from ignis.staff_app.pages.labels import OUTCOMES
from ignis.staff_app.pages.page import SignedIn, audit, backend, error_page, render

router = APIRouter()


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
