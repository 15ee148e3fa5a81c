"""ElevenLabs' conversation-initiation webhook: the dynamic variables the agent greets with.

A failed or slow answer can keep the call from starting, so this never fails for a slow or absent
service: within its budget it asks the scheduler (opening hours) and, if the practice wants it, the
patients service (who is calling); whatever did not answer in time falls back to practice-only values.
"""

import asyncio
import datetime as dt
from collections.abc import Awaitable
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ignis.contracts import subjects
from ignis.contracts.base import ErrorReply
from ignis.contracts.patients import CallerLookedUp, LookupCaller
from ignis.contracts.scheduling import GetPracticeInfo, PracticeInfo
from ignis.gateway.asking import ask_service
from ignis.gateway.auth import secret_matches
from ignis.language.spoken import spoken_date, spoken_year
from ignis.practice.config import OPENING_STATES

router = APIRouter(prefix="/webhooks/elevenlabs", tags=["webhooks"])

# ElevenLabs publishes no timeout for this webhook; the design answers within 1 s.
BUDGET_SECONDS = 0.8
_HOURS: TypeAdapter[PracticeInfo | ErrorReply] = TypeAdapter(PracticeInfo | ErrorReply)
_CALLER: TypeAdapter[CallerLookedUp | ErrorReply] = TypeAdapter(CallerLookedUp | ErrorReply)


class InitiationRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    caller_id: str | None = Field(default=None, max_length=64)
    called_number: str | None = Field(default=None, max_length=64)
    agent_id: str | None = Field(default=None, max_length=200)
    call_sid: str | None = Field(default=None, max_length=200)
    conversation_id: str | None = Field(default=None, max_length=200)


@router.post("/conversation-init")
async def conversation_init(request: Request) -> JSONResponse:
    state = request.app.state
    if not secret_matches(
        request.headers.get("x-ignis-tool-secret", ""), state.settings.tool_secret.get_secret_value()
    ):
        return JSONResponse({"ok": False, "code": "unauthorized"}, status_code=401)
    try:
        call = InitiationRequest.model_validate_json(await request.body())
    except ValidationError:
        return JSONResponse({"ok": False, "code": "invalid_request"}, status_code=422)
    variables = await dynamic_variables(request, call)
    return JSONResponse({"type": "conversation_initiation_client_data", "dynamic_variables": variables})


async def dynamic_variables(request: Request, call: InitiationRequest) -> dict[str, Any]:
    practice = request.app.state.practice
    now = dt.datetime.now(ZoneInfo(practice.timezone))
    style = request.app.state.settings.spoken_style
    variables: dict[str, Any] = {
        "practice_name": practice.name,
        "today": f"{spoken_date(now.date(), style)} {spoken_year(now.year, style)}",
        "now": now.strftime("%H:%M"),
        "open_now": "unbekannt",
        "hours_today": "",
        "practice_state": "unbekannt",
    }
    if practice.greet_known_callers:  # always both keys: a prompt that names a missing one ends the call
        variables |= {"caller_known": False, "caller_first_name": ""}
    wants_caller = practice.greet_known_callers and bool(call.caller_id)
    practice_info = GetPracticeInfo(
        conversation_id=call.conversation_id or "unknown", topic="oeffnungszeiten"
    )
    hours_asked = ask_service(
        request, subjects.SCHEDULER_PRACTICE_INFO, practice_info, _HOURS, BUDGET_SECONDS
    )
    asks: list[Awaitable[object]] = [hours_asked]
    if wants_caller:
        lookup = LookupCaller(caller_id=call.caller_id or "")
        caller_asked = ask_service(request, subjects.PATIENTS_LOOKUP_CALLER, lookup, _CALLER, BUDGET_SECONDS)
        asks.append(caller_asked)
    # Whatever failed or did not answer in time is an ErrorReply: those values stay practice-only.
    hours, *caller = await asyncio.gather(*asks)
    if isinstance(hours, PracticeInfo):
        variables |= {"open_now": "ja" if hours.open_now else "nein", "hours_today": hours.hours_today or ""}
        if hours.opening_state:
            variables["practice_state"] = OPENING_STATES[hours.opening_state]
    if caller and isinstance(caller[0], CallerLookedUp):
        variables |= {"caller_known": caller[0].known, "caller_first_name": caller[0].first_name or ""}
    return variables
