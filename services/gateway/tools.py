"""The agent's webhook tools: authenticate, validate, ask the owning service over NATS, answer in German.

Every business outcome is HTTP 200 so the agent reads it; a malformed body is 422 naming the fields (never
their values); a slow or absent service is `unavailable`, answered within the gateway's budget.
"""

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError, create_model, field_validator

from ignis.contracts import subjects
from ignis.contracts.base import Contract, ErrorCode, ErrorReply
from ignis.contracts.patients import (
    PatientAlreadyRegistered,
    PatientIdentified,
    PatientRegistered,
)
from ignis.contracts.requests import CreateRequest, RequestFiled
from ignis.contracts.scheduling import (
    AppointmentConfirmed,
    AppointmentList,
    BookAppointment,
    CancelAppointment,
    CancellationConfirmed,
    ChangeRequested,
    GetPracticeInfo,
    ListAppointments,
    NoSlotsFound,
    NotOffered,
    PracticeInfo,
    RescheduleAppointment,
    RescheduleConfirmed,
    SlotsOffered,
    SlotTaken,
    VisitTypeUnknown,
    WaitlistJoined,
)
from ignis.contracts.tools import (
    TOOL_BODIES,
    ToolBody,
)
from ignis.gateway import commands
from ignis.gateway.asking import ask_service
from ignis.gateway.auth import secret_matches
from ignis.gateway.replies import envelope, failure
from ignis.language import answers


@dataclass(frozen=True)
class Tool:
    name: str  # its body is TOOL_BODIES[name], the contract ElevenLabs is provisioned with
    subject: str
    reply: TypeAdapter[Any]
    # The body and the practice's date today (callers say "morgen"; which day that is is the practice's).
    to_command: Callable[[Any, dt.date], Contract]
    # It changes something. Its service recognises a repeated command (booking: conversation and slot;
    # requests: conversation, kind and details; cancel and move: the appointment's state), so a command
    # whose reply was lost (a replica died, a reply timed out) is asked again, and the caller hears what
    # happened rather than a failure for a booking that was made.
    acting: bool = False
    # How the agent's words for a field's choices are understood before the body's types check them.
    words: Mapping[str, Callable[[object], object]] = field(default_factory=dict)

    @property
    def body(self) -> type[ToolBody]:
        return TOOL_BODIES[self.name]

    @cached_property
    def reader(self) -> type[ToolBody]:
        """The contracted body, with `words` applied to its fields first (errors name the same fields)."""
        understood: dict[str, Callable[..., Any]] = {
            f"_understand_{name}": field_validator(name, mode="before")(staticmethod(understand))
            for name, understand in self.words.items()
        }
        return create_model(self.body.__name__, __base__=self.body, __validators__=understood)


# Served exactly as the contract lists them (tests check both tables agree).
TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            "identify_patient",
            subjects.PATIENTS_IDENTIFY,
            TypeAdapter(PatientIdentified | ErrorReply),
            commands.identify,
        ),
        Tool(
            "register_patient",
            subjects.PATIENTS_REGISTER,
            TypeAdapter(PatientRegistered | PatientAlreadyRegistered | ErrorReply),
            commands.register,
            acting=True,
            words={
                "insurance": answers.insurance,
                "sms_consent": answers.yes_no,
                "salutation": answers.salutation,
            },
        ),
        Tool(
            "find_slots",
            subjects.SCHEDULER_FIND_SLOTS,
            TypeAdapter(SlotsOffered | NoSlotsFound | VisitTypeUnknown | NotOffered | ErrorReply),
            commands.find_slots,  # every date and time field is read as said (ignis.language.phrases)
        ),
        Tool(
            "book_appointment",
            subjects.SCHEDULER_BOOK,
            TypeAdapter(AppointmentConfirmed | SlotTaken | NotOffered | ErrorReply),
            lambda body, _: BookAppointment(**body.model_dump()),
            acting=True,
        ),
        Tool(
            "list_appointments",
            subjects.SCHEDULER_LIST,
            TypeAdapter(AppointmentList | ErrorReply),
            lambda body, _: ListAppointments(**body.model_dump()),
        ),
        Tool(
            "cancel_appointment",
            subjects.SCHEDULER_CANCEL,
            TypeAdapter(CancellationConfirmed | ChangeRequested | ErrorReply),
            lambda body, _: CancelAppointment(**body.model_dump()),
            acting=True,
        ),
        Tool(
            "reschedule_appointment",
            subjects.SCHEDULER_RESCHEDULE,
            TypeAdapter(RescheduleConfirmed | SlotTaken | ChangeRequested | ErrorReply),
            lambda body, _: RescheduleAppointment(**body.model_dump()),
            acting=True,
        ),
        Tool(
            "create_request",
            subjects.PATIENTS_REQUEST_CREATE,
            TypeAdapter(RequestFiled | ErrorReply),
            lambda body, _: CreateRequest(
                **body.model_dump(exclude={"caller_id"}), caller_id=body.caller_id or None
            ),
            acting=True,
            words={"kind": answers.request_kind, "urgent": answers.yes_no},
        ),
        Tool(
            "practice_info",
            subjects.SCHEDULER_PRACTICE_INFO,
            TypeAdapter(PracticeInfo | ErrorReply),
            lambda body, _: GetPracticeInfo(**body.model_dump()),
            words={"topic": answers.topic},
        ),
        Tool(
            "join_waitlist",
            subjects.SCHEDULER_WAITLIST_JOIN,
            TypeAdapter(WaitlistJoined | VisitTypeUnknown | NotOffered | ErrorReply),
            commands.join_waitlist,
            acting=True,
        ),
    )
}


def _json(content: dict[str, Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status_code)


def invalid_fields(exc: ValidationError) -> list[str]:
    """Names of the offending fields; `loc` of a JSON syntax error is the body itself."""
    return sorted({".".join(str(p) for p in err["loc"]) for err in exc.errors() if err["loc"]}) or ["body"]


async def call_tool(request: Request, tool: Tool) -> JSONResponse:
    state = request.app.state
    started = time.perf_counter()
    code = "unauthorized"
    try:
        given = request.headers.get("x-ignis-tool-secret", "")
        if not secret_matches(given, state.settings.tool_secret.get_secret_value()):
            return _json(failure(code), 401)
        code = "too_large"  # should the edge cut the body off (BodyLimit), this is what is counted
        raw = await request.body()
        try:
            body = tool.reader.model_validate_json(raw)
        except ValidationError as exc:
            code = ErrorCode.invalid_request.value
            return _json(failure(ErrorCode.invalid_request, fields=invalid_fields(exc)), 422)
        try:
            today = dt.datetime.now(ZoneInfo(state.practice.timezone)).date()
            command = tool.to_command(body, today)
        except commands.ToolInputError as exc:
            code = exc.code.value
            return _json(failure(exc.code, tool.name))
        reply = await ask_service(
            request,
            tool.subject,
            command,
            tool.reply,
            state.settings.tool_budget_seconds,
            # An acting tool's service recognises the repeated command (see `Tool.acting`).
            again_within_seconds=state.settings.acting_tool_budget_seconds if tool.acting else None,
            context={"tool": tool.name, "conversation_id": getattr(command, "conversation_id", None)},
        )
        result = envelope(reply, tool.name)
        code = result["code"]
        return _json(result)
    finally:
        elapsed = time.perf_counter() - started
        state.metrics.tool_calls.labels(tool.name, code).inc()
        state.metrics.tool_latency.labels(tool.name).observe(elapsed)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/tools", tags=["tools"])
    for tool in TOOLS.values():
        router.add_api_route(
            f"/{tool.name}",
            _endpoint(tool),
            methods=["POST"],
            name=tool.name,
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": tool.body.model_json_schema()}},
                }
            },
        )
    return router


def _endpoint(tool: Tool) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> JSONResponse:
        return await call_tool(request, tool)

    endpoint.__name__ = tool.name
    return endpoint
