"""One patient: contact, SMS consent, appointments, SMS, calls and requests; erasing a patient and the audit
trail about them (admins)."""

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from ignis.contracts.base import ErrorCode
from ignis.staff_app.auth import unit_of_work
from ignis.staff_app.backend import BackendError
from ignis.staff_app.pages.labels import MESSAGE_STATUS, OUTCOMES, TEMPLATES
from ignis.staff_app.pages.page import (
    ERRORS,
    Admin,
    AdminChanging,
    Changing,
    SignedIn,
    audit,
    backend,
    error_page,
    render,
    see_other,
)

router = APIRouter()


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
async def erase(request: Request, patient_id: uuid.UUID, staff: AdminChanging) -> Response:
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
