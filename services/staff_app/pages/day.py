"""The day: one day's appointments per practitioner; cancelling one, or moving it to a free slot."""

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from ignis.contracts.base import ErrorCode
from ignis.contracts.scheduling import DayAppointment, SlotOffer, SlotTaken
from ignis.staff_app.backend import BackendError
from ignis.staff_app.pages.page import Changing, SignedIn, audit, backend, error_page, render, see_other

router = APIRouter()


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
