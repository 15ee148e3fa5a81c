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
    IdentifyPatient,
    PatientAlreadyRegistered,
    PatientIdentified,
    PatientRegistered,
    RegisterPatient,
)
from ignis.contracts.requests import CreateRequest, RequestFiled
from ignis.contracts.scheduling import (
    AppointmentConfirmed,
    AppointmentList,
    BookAppointment,
    CancelAppointment,
    CancellationConfirmed,
    ChangeRequested,
    FindSlots,
    GetPracticeInfo,
    JoinWaitlist,
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
    FindSlotsBody,
    IdentifyPatientBody,
    JoinWaitlistBody,
    RegisterPatientBody,
    ToolBody,
)
from ignis.gateway.asking import ask_service
from ignis.gateway.auth import secret_matches
from ignis.gateway.replies import envelope, failure
from ignis.language import answers
from ignis.language.dates import DateParseError, parse_birth_date
from ignis.language.phrases import Wish, parse_wish


class ToolInputError(Exception):
    """The body is well-formed but a value is unusable; the agent is told which outcome, with HTTP 200."""

    def __init__(self, code: ErrorCode) -> None:
        super().__init__(code.value)
        self.code = code


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


def _birth_date(text: str, today: dt.date) -> Any:
    try:
        return parse_birth_date(text, today=today)
    except DateParseError:
        raise ToolInputError(ErrorCode.invalid_birth_date) from None


# No caller means a day years away ("31.12.9999" would overflow the scheduler's date arithmetic).
_FARTHEST_DAYS = 3 * 366


def _wish(text: str | None, today: dt.date) -> Wish:
    """The days and hours a field says ("nächste Woche", "ab 16 Uhr"); unparseable is `invalid_date`."""
    if not text:
        return Wish()
    try:
        wish = parse_wish(text, today=today)
    except DateParseError:
        raise ToolInputError(ErrorCode.invalid_date) from None
    for day in (wish.first, wish.last):
        if day is not None and abs((day - today).days) > _FARTHEST_DAYS:
            raise ToolInputError(ErrorCode.invalid_date)
    return wish


def _find_slots(body: FindSlotsBody, today: dt.date) -> FindSlots:
    """`when` bounds both ends, `earliest` the first day, `latest` the last; hours said in any field count."""
    earliest, latest = _wish(body.earliest, today), _wish(body.latest, today)
    wish = (
        _wish(body.when, today)
        & Wish(first=earliest.first, after=earliest.after, before=earliest.before)
        & Wish(last=latest.last, after=latest.after, before=latest.before)
        & _wish(body.part_of_day, today)
    )
    if wish.after is not None and wish.before is not None and wish.after >= wish.before:
        raise ToolInputError(ErrorCode.invalid_date)
    return FindSlots(
        conversation_id=body.conversation_id,
        visit_type=body.visit_type,
        earliest=wish.first,
        latest=wish.last,
        after=wish.after,
        before=wish.before,
        practitioner=body.practitioner or None,
        patient_ref=body.patient_ref or None,
        limit=max(1, min(5, body.limit)),
        referral=body.referral,
    )


def _join_waitlist(body: JoinWaitlistBody, today: dt.date) -> JoinWaitlist:
    """The days the caller would take, as said ("nächste Woche"); hours of the day are not kept."""
    return JoinWaitlist(
        conversation_id=body.conversation_id,
        patient_ref=body.patient_ref,
        visit_type=body.visit_type,
        earliest=_wish(body.earliest, today).first,
        latest=_wish(body.latest, today).last,
        practitioner=body.practitioner or None,
    )


def _identify(body: IdentifyPatientBody, today: dt.date) -> IdentifyPatient:
    return IdentifyPatient(
        conversation_id=body.conversation_id,
        caller_id=body.caller_id or None,
        last_name=body.last_name,
        birth_date=_birth_date(body.birth_date, today),
        first_name=body.first_name or None,
    )


def _register(body: RegisterPatientBody, today: dt.date) -> RegisterPatient:
    return RegisterPatient(
        conversation_id=body.conversation_id,
        caller_id=body.caller_id or None,
        first_name=body.first_name,
        last_name=body.last_name,
        birth_date=_birth_date(body.birth_date, today),
        phone=body.phone or None,
        insurance=body.insurance,
        sms_consent=body.sms_consent,
        salutation=body.salutation,
    )


# Served exactly as the contract lists them (tests check both tables agree).
TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            "identify_patient",
            subjects.PATIENTS_IDENTIFY,
            TypeAdapter(PatientIdentified | ErrorReply),
            _identify,
        ),
        Tool(
            "register_patient",
            subjects.PATIENTS_REGISTER,
            TypeAdapter(PatientRegistered | PatientAlreadyRegistered | ErrorReply),
            _register,
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
            _find_slots,  # every date and time field is read as said (ignis.language.phrases)
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
            _join_waitlist,
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
        except ToolInputError as exc:
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
