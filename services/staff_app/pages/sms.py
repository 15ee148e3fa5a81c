"""The SMS sent and planned, those that need a person first; sending a failed one again."""

import asyncio
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ignis.contracts.notifications import MessageItem, MessageStatus
from ignis.staff_app.backend import BackendError
from ignis.staff_app.pages.labels import MESSAGE_STATUS, TEMPLATES, reason_in_german
from ignis.staff_app.pages.page import Changing, SignedIn, audit, backend, error_page, render, see_other

router = APIRouter()


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
