"""A local HTTP fake of the ElevenLabs endpoints that `ignis provision` / `ignis doctor` use.

Built from the official SDK `elevenlabs` 2.78.0 (paths, methods and bodies from
`conversational_ai/*/raw_client.py` and `webhooks/raw_client.py`, response shapes from `types/*.py`) and
../shared/reference/elevenlabs.md §1, 2.5, 3, 4.2, 5, 6, 7. Strict where the API is known to be:

- every request needs the header `xi-api-key` (else 401 `invalid_api_key` / `needs_authorization`);
- bodies are checked against the SDK's own request models, and fields those models do not define are a
  422 `extra_forbidden` as the API's FastAPI models answer (the SDK's models allow extras only to stay
  tolerant of newer answers); bodies without a model of their own may carry only the keyword arguments
  of the SDK method that sends them. Errors are FastAPI-like `{"detail": [{loc, msg, type}]}`. Plus the
  rules the API enforces beyond them: webhook-tool properties take exactly one value source, header
  secrets must exist, `prompt.tools` (removed 2025-07-23) is refused, `tool_ids` must exist, a workspace
  webhook URL must be https, a settings `post_call_webhook_id` must exist;
- every 2xx answer goes out through the SDK's response model of that call (validated, then
  `dump(mode="json", by_alias=True)`), so the real SDK parses it and it carries only the published fields
  (a webhook list: no `retry_enabled`, which the API does not show);
- a webhook in use (workspace settings or an agent's override) cannot be deleted, as ElevenLabs documents;
- webhook deliveries: `deliver(webhook_id, status)` records an attempt; non-2xx ones set
  `most_recent_failure_error_code`/`_timestamp`, and 10 consecutive failures without a success in 7 days
  auto-disable the webhook (reference §2.4) until an update enables it again;
- conversations (`add_conversation`) are listed newest first, filtered by `agent_id` and
  `call_start_after_unix`/`call_start_before_unix`, fetched and deleted (`deleted_conversations`);
- a non-English agent with an English-only TTS model (the default `eleven_flash_v2`) is a 400
  `invalid_agent_config`, as elevenlabs-python#554 shows;
- unknown ids in the path are a 404 `{"detail": {"status": "..._not_found", "message"}}`.

Like the real API, GET answers carry server defaults the caller never sent (tool `response_timeout_secs`
20, `api_schema.method` "GET", agent `language` "en", TTS `model_id` "eleven_flash_v2", ...), so a
provisioner that compares "desired == actual" field by field sees the same diffs it would see in
production; set `server_defaults = False` to get back exactly what was stored. Secret values and SIP
passwords are stored (tests may inspect them) but never returned.

Not documented anywhere we could check, so chosen here: a duplicate SIP `phone_number` answers
`duplicate_phone_status` (409, which the SDK retries twice on its own); deleting a secret, tool or webhook
still in use is a 400 (`..._in_use`); a PATCH of a phone number changes only the fields sent, but a trunk
config block that is sent replaces the stored one (the strict reading: sent without `credentials`, digest
authentication is off), keeping the password only where `credentials.username` comes without a password
(as the SDK's `SipTrunkCredentialsRequestModel` documents); a referenced id in a body (tool id, secret
id, webhook id, agent id) that does not exist is a 422.
"""

import contextlib
import copy
import inspect
import json
import re
import secrets
import string
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pydantic
from elevenlabs import (
    ConvAiWorkspaceStoredSecretConfig,
    CreateAgentResponseModel,
    CreatePhoneNumberResponseModel,
    DeleteWorkspaceWebhookResponseModel,
    GetAgentResponseModel,
    GetAgentsPageResponseModel,
    GetConvAiSettingsResponseModel,
    GetConversationsPageResponseModel,
    GetWorkspaceSecretsResponseModel,
    PatchWorkspaceWebhookResponseModel,
    PostWorkspaceSecretResponseModel,
    ToolResponseModel,
    ToolsResponseModel,
    User,
    WorkspaceCreateWebhookResponseModel,
    WorkspaceWebhookListResponseModel,
)
from elevenlabs.conversational_ai.agents.client import AgentsClient
from elevenlabs.conversational_ai.phone_numbers import (
    PhoneNumbersGetResponse,
    PhoneNumbersListResponseItem,
    PhoneNumbersUpdateResponse,
)
from elevenlabs.conversational_ai.phone_numbers.client import PhoneNumbersClient
from elevenlabs.conversational_ai.phone_numbers.types.phone_numbers_create_request_body import (
    PhoneNumbersCreateRequestBody_SipTrunk,
)
from elevenlabs.conversational_ai.settings.client import SettingsClient
from elevenlabs.types import (
    AgentPlatformSettingsRequestModel,
    ConvAiWebhooks,
    ConversationalConfig,
    ConversationInitiationClientDataWebhook,
    ConversationSummaryResponseModel,
    GetConversationResponseModel,
    InboundSipTrunkConfigRequestModel,
    OutboundSipTrunkConfigRequestModel,
    WebhookHmacSettings,
    WorkspaceWebhookResponseModel,
)
from elevenlabs.types.tool_request_model_tool_config import (
    ToolRequestModelToolConfig_Client,
    ToolRequestModelToolConfig_System,
    ToolRequestModelToolConfig_Webhook,
)
from elevenlabs.webhooks.client import WebhooksClient
from pydantic import TypeAdapter
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes import serving

API_KEY = "sk_test_ignis_0123456789abcdef0123456789abcdef"
DEFAULT_VOICE_ID = "cjVigY5qzO86Huf0OWal"  # the voice a new ConvAI agent gets when none is given
DEFAULT_TTS_MODEL = "eleven_flash_v2"  # English-only
MULTILINGUAL_TTS_MODELS = frozenset(
    {"eleven_flash_v2_5", "eleven_turbo_v2_5", "eleven_multilingual_v2", "eleven_v3_conversational"}
)
TTS_MODELS = MULTILINGUAL_TTS_MODELS | {"eleven_turbo_v2", "eleven_flash_v2", "eleven_v4", "eleven_v4_turbo"}
BUILT_IN_TOOLS = frozenset(
    {
        "end_call",
        "language_detection",
        "transfer_to_agent",
        "transfer_to_number",
        "skip_turn",
        "play_keypad_touch_tone",
        "voicemail_detection",
    }
)
# The languages an agent speaks (docs: customization/voice "Language"; the multilingual v2.5 models).
AGENT_LANGUAGES = frozenset(
    [
        "en",
        "ja",
        "zh",
        "de",
        "hi",
        "fr",
        "ko",
        "pt",
        "it",
        "es",
        "id",
        "nl",
        "tr",
        "fil",
        "pl",
        "sv",
        "bg",
        "ro",
        "ar",
        "cs",
        "el",
        "fi",
        "hr",
        "ms",
        "sk",
        "da",
        "ta",
        "uk",
        "ru",
        "hu",
        "no",
        "vi",
    ]
)
AUTO_DISABLE_AFTER = 10  # consecutive failed deliveries (and no success in 7 days): reference §2.4
POST_CALL_EVENTS = frozenset(
    {
        "transcript",
        "audio",
        "call_initiation_failure",
        "answering_machine_detection",
        "unredacted_transcript",
        "unredacted_audio",
    }
)
VALUE_SOURCES = ("description", "dynamic_variable", "constant_value", "is_system_provided", "is_omitted")
ENUMS: dict[str, frozenset[str]] = {
    "tool_error_handling_mode": frozenset({"auto", "summarized", "passthrough", "hide"}),
    "pre_tool_speech": frozenset({"auto", "force", "off"}),
    "execution_mode": frozenset({"immediate", "post_tool_speech", "async"}),
    "interruption_mode": frozenset({"allow", "disable_during_tool", "disable_during_tool_and_turn"}),
    "tool_call_sound_behavior": frozenset({"auto", "always"}),
}
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
CONTENT_TYPES = frozenset({"application/json", "application/x-www-form-urlencoded"})
MEDIA_ENCRYPTION = frozenset({"disabled", "allowed", "required"})
TRANSPORTS = frozenset({"auto", "udp", "tcp", "tls"})
CODECS = frozenset({"G722/8000", "PCMU/8000", "PCMA/8000"})

ACCESS_INFO = {
    "is_creator": True,
    "creator_name": "Ignis Test",
    "creator_email": "ignis-test@example.org",
    "role": "admin",
}
TOOL_DEFAULTS: dict[str, Any] = {
    "response_timeout_secs": 20,
    "disable_interruptions": False,
    "force_pre_tool_speech": False,
    "interruption_mode": "allow",
    "pre_tool_speech": "auto",
    "execution_mode": "immediate",
    "tool_error_handling_mode": "auto",
    "tool_call_sound": None,
    "tool_call_sound_behavior": "auto",
    "assignments": [],
    "dynamic_variables": {"dynamic_variable_placeholders": {}},
}
WEBHOOK_TOOL_DEFAULTS: dict[str, Any] = {
    **TOOL_DEFAULTS,
    "api_schema": {
        "method": "GET",
        "request_headers": {},
        "path_params_schema": {},
        "query_params_schema": None,
        "request_body_schema": None,
        "content_type": "application/json",
        "auth_connection": None,
    },
}
AGENT_DEFAULTS: dict[str, Any] = {
    "conversation_config": {
        "agent": {
            "first_message": "",
            "language": "en",
            "dynamic_variables": {"dynamic_variable_placeholders": {}},
            "prompt": {"prompt": "", "tool_ids": [], "timezone": None},
        },
        "tts": {"model_id": DEFAULT_TTS_MODEL, "voice_id": DEFAULT_VOICE_ID},
        "conversation": {"max_duration_seconds": 600},
        "turn": {"turn_timeout": 7.0, "silence_end_call_timeout": -1.0},
    },
    "platform_settings": {
        "overrides": {"enable_conversation_initiation_client_data_from_webhook": False},
    },
}
SETTINGS_DEFAULTS: dict[str, Any] = {
    "conversation_initiation_client_data_webhook": None,
    "webhooks": {
        "post_call_webhook_id": None,
        "events": [],
        "transcript_format": "json",
        "send_audio": False,
    },
    "can_use_mcp_servers": False,
    "rag_retention_period_days": 10,
    "default_livekit_stack": "standard",
}
USER = {
    "user_id": "Xq0ignisTestUser00000000000",
    "workspace_id": "ws_ignis_test",
    "subscription": {
        "tier": "creator",
        "character_count": 0,
        "character_limit": 100000,
        "max_credit_limit_extension": 0,
        "can_extend_character_limit": True,
        "allowed_to_extend_character_limit": True,
        "voice_slots_used": 0,
        "professional_voice_slots_used": 0,
        "professional_voice_slots_used_in_workspace": 0,
        "voice_limit": 30,
        "voice_add_edit_counter": 0,
        "professional_voice_limit": 1,
        "can_extend_voice_limit": False,
        "can_use_instant_voice_cloning": True,
        "can_use_professional_voice_cloning": True,
        "current_overage": {"amount": "0", "currency": "usd"},
        "status": "active",
    },
    "is_new_user": False,
    "can_use_delayed_payment_methods": False,
    "is_onboarding_completed": True,
    "is_onboarding_checklist_completed": True,
    "created_at": 1735689600,
    "seat_type": "workspace_admin",
}
_ID_ALPHABET = string.digits + "abcdefghjkmnpqrstvwxyz"


class Call(NamedTuple):
    """One request as ElevenLabs would have seen it (path without the query string)."""

    method: str
    path: str
    body: Any


class Fault(Exception):
    """Ends a handler with an error answer."""

    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


Loc = tuple[str | int, ...]


def invalid(loc: Loc, msg: str, kind: str = "value_error") -> Fault:
    """A 422 as FastAPI words it."""
    return Fault(422, [{"loc": ["body", *loc], "msg": msg, "type": kind}])


def not_found(kind: str, ident: str) -> Fault:
    return Fault(
        404,
        {
            "status": f"{kind}_not_found",
            "message": f"{kind.replace('_', ' ').capitalize()} with id {ident} was not found.",
        },
    )


def deep_merge(stored: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """`patch` over `stored`: nested dicts merge, everything else (lists, null) replaces."""
    merged = copy.deepcopy(stored)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def new_id(prefix: str, length: int = 28) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def now() -> int:
    return int(time.time())


def check_model(model: type[pydantic.BaseModel], value: Any, loc: Loc) -> None:
    """Validate `value` like the API's own pydantic model would (the SDK's model is the best copy we have),
    and refuse fields the model does not define, as the API's FastAPI models do (422 `extra_forbidden`):
    the SDK's models allow extras only to stay tolerant of newer answers."""
    try:
        parsed = model.model_validate(value)
    except pydantic.ValidationError as error:
        raise Fault(
            422,
            [
                {"loc": ["body", *loc, *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in error.errors(include_url=False, include_context=False, include_input=False)
            ],
        ) from None
    if extra := _extra_fields(parsed, loc):
        raise Fault(
            422,
            [
                {"loc": ["body", *path], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
                for path in extra
            ],
        )


def _extra_fields(value: Any, loc: Loc) -> list[Loc]:
    """Where a validated SDK model kept fields it does not define (its `model_extra`), recursively."""
    if isinstance(value, pydantic.BaseModel):
        found: list[Loc] = [(*loc, key) for key in (value.model_extra or {})]
        for name, info in type(value).model_fields.items():
            found += _extra_fields(getattr(value, name), (*loc, info.alias or name))
        return found
    if isinstance(value, list | tuple):
        return [path for i, item in enumerate(value) for path in _extra_fields(item, (*loc, i))]
    if isinstance(value, dict):
        return [path for key, item in value.items() for path in _extra_fields(item, (*loc, key))]
    return []


def check_keys(body: dict[str, Any], operation: Callable[..., Any], loc: Loc = (), *extra: str) -> None:
    """Refuse top-level body fields the SDK's method for this operation does not send (for bodies that
    have no request model of their own); `extra` names what the SDK adds itself (e.g. a `type` tag)."""
    allowed = {
        name
        for name, parameter in inspect.signature(operation).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name != "request_options"
    } | set(extra)  # path parameters come before the `*`, the body's fields after it
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise Fault(
            422,
            [
                {
                    "loc": ["body", *loc, key],
                    "msg": "Extra inputs are not permitted",
                    "type": "extra_forbidden",
                }
                for key in unknown
            ],
        )


def obj(value: Any, loc: Loc, *, required: bool = True) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise invalid(loc, "Input should be a valid dictionary or object", "dict_type")
    return value


def text(container: dict[str, Any], key: str, loc: Loc) -> str:
    value = container.get(key)
    if value is None:
        raise invalid((*loc, key), "Field required", "missing")
    if not isinstance(value, str) or not value.strip():
        raise invalid((*loc, key), "Input should be a non-empty string", "string_type")
    return value


def one_of(container: dict[str, Any], key: str, allowed: frozenset[str], loc: Loc) -> None:
    value = container.get(key)
    if value is not None and value not in allowed:
        expected = ", ".join(repr(a) for a in sorted(allowed))
        raise invalid((*loc, key), f"Input should be {expected}", "enum")


E164 = re.compile(r"^\+[1-9]\d{1,14}$")


def check_transfers(tool: Any, loc: Loc) -> None:
    """The vendor's rules for `transfer_to_number` beyond the SDK model (reference §5.3, the
    transfer-to-number docs): its params are of that tool type and list at least one rule; each rule has a
    condition the LLM can judge; a phone destination is E.164 (the LLM's `transfer_number` must match it);
    only SIP REFER reaches a SIP URI; one rule per destination (the LLM picks a rule by its number)."""
    params = obj(obj(tool, loc).get("params"), (*loc, "params"))
    if params.get("system_tool_type") != "transfer_to_number":
        raise invalid(
            (*loc, "params", "system_tool_type"), "Input should be 'transfer_to_number'", "literal_error"
        )
    transfers = params.get("transfers")
    if not isinstance(transfers, list) or not transfers:
        raise invalid((*loc, "params", "transfers"), "At least one transfer rule is required")
    seen: set[str] = set()
    for index, rule in enumerate(transfers):
        rloc: Loc = (*loc, "params", "transfers", index)
        text(obj(rule, rloc), "condition", rloc)
        destination = obj(rule.get("transfer_destination"), (*rloc, "transfer_destination"))
        kind = destination.get("type")
        target = destination.get("phone_number") or destination.get("sip_uri") or ""
        if kind == "phone" and not E164.match(target):
            raise invalid(
                (*rloc, "transfer_destination", "phone_number"), "Phone number must be in E.164 format"
            )
        if kind in ("sip_uri", "sip_uri_dynamic_variable") and rule.get("transfer_type") != "sip_refer":
            raise invalid((*rloc, "transfer_type"), "Only SIP REFER transfers support SIP URI destinations")
        if target in seen:
            raise invalid((*rloc, "transfer_destination"), "Duplicate transfer destination")
        seen.add(target)


@dataclass
class FakeElevenLabs:
    url: str = ""
    api_key: str = API_KEY
    # Every request, in order; `responses[i]` is what `requests[i]` got as (status, JSON body).
    requests: list[Call] = field(default_factory=list)
    responses: list[tuple[int, Any]] = field(default_factory=list)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {secret_id, name, value}
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {id, tool_config, response_mocks}
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> stored agent (as sent, merged)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> incl. webhook_secret
    settings: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(SETTINGS_DEFAULTS))
    phone_numbers: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> incl. passwords
    # id -> a GetConversationResponseModel as JSON (`add_conversation`); `deleted_conversations` in order
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted_conversations: list[str] = field(default_factory=list)
    server_defaults: bool = True
    duplicate_phone_status: int = 409
    # Statuses the next requests get instead of their real answer, in order.
    failures: list[int] = field(default_factory=list)

    # -- test controls -------------------------------------------------------------------------------

    def reset(self) -> None:
        self.requests.clear()
        self.responses.clear()
        self.secrets.clear()
        self.tools.clear()
        self.agents.clear()
        self.webhooks.clear()
        self.settings = copy.deepcopy(SETTINGS_DEFAULTS)
        self.phone_numbers.clear()
        self.conversations.clear()
        self.deleted_conversations.clear()
        self.failures.clear()
        self.server_defaults = True
        self.duplicate_phone_status = 409

    def fail_next(self, status: int, times: int = 1) -> None:
        """The next `times` requests (whatever they are) answer `status`; a 429 comes with Retry-After: 0."""
        self.failures.extend([status] * times)

    def writes(self, *, succeeded: bool = False) -> list[Call]:
        """The non-GET requests so far (only those answered 2xx if `succeeded`)."""
        return [
            call
            for call, (status, _) in zip(self.requests, self.responses, strict=True)
            if call.method != "GET" and (not succeeded or 200 <= status < 300)
        ]

    # -- plumbing ------------------------------------------------------------------------------------

    def app(self) -> Starlette:
        def route(path: str, method: str, handler: Callable[..., Any], answer: Any = None) -> Route:
            """`answer`: the SDK's response model of that call; None where the SDK ignores the body."""
            return Route(path, self._endpoint(handler, answer), methods=[method])

        routes = [
            route("/v1/user", "GET", self.get_user, User),
            route("/v1/convai/secrets", "GET", self.list_secrets, GetWorkspaceSecretsResponseModel),
            route("/v1/convai/secrets", "POST", self.create_secret, PostWorkspaceSecretResponseModel),
            route(
                "/v1/convai/secrets/{secret_id}", "GET", self.get_secret, ConvAiWorkspaceStoredSecretConfig
            ),
            route(
                "/v1/convai/secrets/{secret_id}",
                "PATCH",
                self.update_secret,
                PostWorkspaceSecretResponseModel,
            ),
            route("/v1/convai/secrets/{secret_id}", "DELETE", self.delete_secret),
            route("/v1/convai/tools", "GET", self.list_tools, ToolsResponseModel),
            route("/v1/convai/tools", "POST", self.create_tool, ToolResponseModel),
            route("/v1/convai/tools/{tool_id}", "GET", self.get_tool, ToolResponseModel),
            route("/v1/convai/tools/{tool_id}", "PATCH", self.update_tool, ToolResponseModel),
            route("/v1/convai/tools/{tool_id}", "DELETE", self.delete_tool),
            route("/v1/convai/agents/create", "POST", self.create_agent, CreateAgentResponseModel),
            route("/v1/convai/agents", "GET", self.list_agents, GetAgentsPageResponseModel),
            route("/v1/convai/agents/{agent_id}", "GET", self.get_agent, GetAgentResponseModel),
            route("/v1/convai/agents/{agent_id}", "PATCH", self.update_agent, GetAgentResponseModel),
            route("/v1/convai/agents/{agent_id}", "DELETE", self.delete_agent),
            route("/v1/workspace/webhooks", "GET", self.list_webhooks, WorkspaceWebhookListResponseModel),
            route("/v1/workspace/webhooks", "POST", self.create_webhook, WorkspaceCreateWebhookResponseModel),
            route(
                "/v1/workspace/webhooks/{webhook_id}",
                "PATCH",
                self.update_webhook,
                PatchWorkspaceWebhookResponseModel,
            ),
            route(
                "/v1/workspace/webhooks/{webhook_id}",
                "DELETE",
                self.delete_webhook,
                DeleteWorkspaceWebhookResponseModel,
            ),
            route("/v1/convai/settings", "GET", self.get_settings, GetConvAiSettingsResponseModel),
            route("/v1/convai/settings", "PATCH", self.update_settings, GetConvAiSettingsResponseModel),
            route(
                "/v1/convai/conversations", "GET", self.list_conversations, GetConversationsPageResponseModel
            ),
            route(
                "/v1/convai/conversations/{conversation_id}",
                "GET",
                self.get_conversation,
                GetConversationResponseModel,
            ),
            route("/v1/convai/conversations/{conversation_id}", "DELETE", self.delete_conversation),
            route(
                "/v1/convai/phone-numbers", "GET", self.list_phone_numbers, list[PhoneNumbersListResponseItem]
            ),
            route(
                "/v1/convai/phone-numbers", "POST", self.create_phone_number, CreatePhoneNumberResponseModel
            ),
            route(
                "/v1/convai/phone-numbers/{phone_number_id}",
                "GET",
                self.get_phone_number,
                PhoneNumbersGetResponse,
            ),
            route(
                "/v1/convai/phone-numbers/{phone_number_id}",
                "PATCH",
                self.update_phone_number,
                PhoneNumbersUpdateResponse,
            ),
            route("/v1/convai/phone-numbers/{phone_number_id}", "DELETE", self.delete_phone_number),
        ]

        async def http_error(request: Request, error: Exception) -> Response:
            assert isinstance(error, HTTPException)
            body = {"detail": error.detail}
            self.requests.append(Call(request.method, request.url.path, None))
            self.responses.append((error.status_code, body))
            return JSONResponse(body, error.status_code)

        return Starlette(routes=routes, exception_handlers={HTTPException: http_error})

    def _endpoint(self, handler: Callable[..., Any], answer: Any) -> Callable[[Request], Any]:
        shape = TypeAdapter(answer) if answer is not None else None

        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            try:
                body: Any = json.loads(raw) if raw else None
                malformed = False
            except ValueError:
                body, malformed = raw.decode(errors="replace"), True
            self.requests.append(Call(request.method, request.url.path, body))
            try:
                self._gate(request, malformed)
                status, payload = handler(body=body, query=dict(request.query_params), **request.path_params)
                if shape is not None:  # every answer is the published response model, as JSON
                    payload = shape.dump_python(shape.validate_python(payload), mode="json", by_alias=True)
                headers: dict[str, str] = {}
            except Fault as fault:
                status, payload, headers = fault.status, {"detail": fault.detail}, fault.headers
            except Exception:  # a bug in the fake: keep `responses` in step with `requests`, let it show
                self.responses.append((500, None))
                raise
            self.responses.append((status, payload))
            return JSONResponse(payload, status, headers=headers)

        return endpoint

    def _gate(self, request: Request, malformed: bool) -> None:
        if self.failures:
            status = self.failures.pop(0)
            if status == 429:
                raise Fault(
                    429,
                    {"status": "too_many_concurrent_requests", "message": "Too many concurrent requests."},
                    {"Retry-After": "0"},
                )
            raise Fault(
                status,
                {
                    "status": "internal_error" if status >= 500 else "error",
                    "message": f"Injected failure {status}.",
                },
            )
        key = request.headers.get("xi-api-key")
        if key is None:
            raise Fault(
                401,
                {
                    "status": "needs_authorization",
                    "message": "Neither authorization header nor xi-api-key received.",
                },
            )
        if not secrets.compare_digest(key.encode(), self.api_key.encode()):
            raise Fault(401, {"status": "invalid_api_key", "message": "Invalid API key"})
        if malformed:
            raise invalid((0,), "JSON decode error", "json_invalid")

    @staticmethod
    def _page(
        items: list[Any], query: dict[str, str], default_size: int | None
    ) -> tuple[list[Any], str | None]:
        try:
            start = int(query.get("cursor") or 0)
            size = int(query["page_size"]) if query.get("page_size") else default_size
        except ValueError:
            raise Fault(
                422,
                [
                    {
                        "loc": ["query", "page_size"],
                        "msg": "Input should be a valid integer",
                        "type": "int_parsing",
                    }
                ],
            ) from None
        if size is not None and not 1 <= size <= 100:
            raise Fault(
                422,
                [
                    {
                        "loc": ["query", "page_size"],
                        "msg": "Input should be between 1 and 100",
                        "type": "value_error",
                    }
                ],
            )
        end = len(items) if size is None else start + size
        return items[start:end], (str(end) if end < len(items) else None)

    # -- user ----------------------------------------------------------------------------------------

    def get_user(self, body: Any, query: dict[str, str]) -> tuple[int, Any]:
        return 200, copy.deepcopy(USER)

    # -- secrets -------------------------------------------------------------------------------------

    def _secret_out(self, secret: dict[str, Any]) -> dict[str, Any]:
        sid = secret["secret_id"]
        tools = [
            {
                "type": "available",
                "id": t["id"],
                "name": t["tool_config"]["name"],
                "created_at_unix_secs": t["created_at_unix_secs"],
                "access_level": "admin",
            }
            for t in self.tools.values()
            if sid in _secret_ids(t["tool_config"].get("api_schema", {}).get("request_headers"))
        ]
        initiation = self.settings.get("conversation_initiation_client_data_webhook") or {}
        others = (
            ["conversation_initiation_webhook"]
            if sid in _secret_ids(initiation.get("request_headers"))
            else []
        )
        return {
            "type": "stored",
            "secret_id": sid,
            "name": secret["name"],
            "used_by": {"tools": tools, "agents": [], "others": others, "phone_numbers": []},
        }

    def list_secrets(self, body: Any, query: dict[str, str]) -> tuple[int, Any]:
        found = [s for s in self.secrets.values() if s["name"].startswith(query.get("search") or "")]
        page, cursor = self._page(found, query, None)
        return 200, {"secrets": [self._secret_out(s) for s in page], "next_cursor": cursor}

    def create_secret(self, body: Any, query: dict[str, str]) -> tuple[int, Any]:
        body = obj(body, ())
        if body.get("type") != "new":
            raise invalid(("type",), "Input should be 'new'", "literal_error")
        name, value = text(body, "name", ()), body.get("value")
        if not isinstance(value, str):
            raise invalid(("value",), "Field required", "missing")
        sid = new_id("", 20)
        self.secrets[sid] = {"secret_id": sid, "name": name, "value": value}
        return 200, {"type": "stored", "secret_id": sid, "name": name}

    def _secret(self, secret_id: str) -> dict[str, Any]:
        if secret_id not in self.secrets:
            raise not_found("secret", secret_id)
        return self.secrets[secret_id]

    def get_secret(self, body: Any, query: dict[str, str], secret_id: str) -> tuple[int, Any]:
        return 200, self._secret_out(self._secret(secret_id))

    def update_secret(self, body: Any, query: dict[str, str], secret_id: str) -> tuple[int, Any]:
        secret = self._secret(secret_id)
        body = obj(body, ())
        if body.get("type") != "update":
            raise invalid(("type",), "Input should be 'update'", "literal_error")
        name, value = text(body, "name", ()), body.get("value")
        if not isinstance(value, str):
            raise invalid(("value",), "Field required", "missing")
        secret.update(name=name, value=value)
        return 200, {"type": "stored", "secret_id": secret_id, "name": name}

    def delete_secret(self, body: Any, query: dict[str, str], secret_id: str) -> tuple[int, Any]:
        used = self._secret_out(self._secret(secret_id))["used_by"]
        if used["tools"] or used["others"]:
            raise Fault(
                400, {"status": "secret_in_use", "message": "The secret is in use and cannot be deleted."}
            )
        del self.secrets[secret_id]
        return 200, {}

    def _check_headers(self, headers: Any, loc: Loc) -> None:
        for name, value in obj(headers, loc, required=False).items():
            if isinstance(value, str):
                continue
            if isinstance(value, dict) and len(value) == 1:
                if "secret_id" in value:
                    if value["secret_id"] not in self.secrets:
                        raise invalid(
                            (*loc, name, "secret_id"), f"Secret {value['secret_id']} does not exist"
                        )
                    continue
                if isinstance(value.get("variable_name"), str) or isinstance(value.get("env_var_label"), str):
                    continue
            raise invalid(
                (*loc, name),
                "Header value must be a string or one of {secret_id}, {variable_name}, {env_var_label}",
            )

    # -- tools ---------------------------------------------------------------------------------------

    def _check_tool(self, body: Any) -> dict[str, Any]:
        body = obj(body, ())
        config = obj(body.get("tool_config"), ("tool_config",))
        loc: Loc = ("tool_config",)
        kind = config.get("type")
        models: dict[Any, type[pydantic.BaseModel]] = {
            "webhook": ToolRequestModelToolConfig_Webhook,
            "client": ToolRequestModelToolConfig_Client,
            "system": ToolRequestModelToolConfig_System,
        }
        if kind not in models:
            raise invalid(
                (*loc, "type"), "Input should be 'webhook', 'client' or 'system'", "union_tag_invalid"
            )
        text(config, "name", loc)
        if kind != "system":
            text(config, "description", loc)
        timeout = config.get("response_timeout_secs")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int) or not 5 <= timeout <= 300
        ):
            raise invalid((*loc, "response_timeout_secs"), "Input should be an integer between 5 and 300")
        for key, allowed in ENUMS.items():
            one_of(config, key, allowed, loc)
        if kind == "webhook":
            schema = obj(config.get("api_schema"), (*loc, "api_schema"))
            sloc: Loc = (*loc, "api_schema")
            text(schema, "url", sloc)
            one_of(schema, "method", METHODS, sloc)
            one_of(schema, "content_type", CONTENT_TYPES, sloc)
            self._check_headers(schema.get("request_headers"), (*sloc, "request_headers"))
            for name, prop in obj(
                schema.get("path_params_schema"), (*sloc, "path_params_schema"), required=False
            ).items():
                _check_property(prop, (*sloc, "path_params_schema", name))
            query_schema = obj(
                schema.get("query_params_schema"), (*sloc, "query_params_schema"), required=False
            )
            _check_object(query_schema, (*sloc, "query_params_schema"))
            body_schema = obj(
                schema.get("request_body_schema"), (*sloc, "request_body_schema"), required=False
            )
            _check_object(body_schema, (*sloc, "request_body_schema"))
        if kind == "system":
            params = obj(config.get("params"), (*loc, "params"))
            if not isinstance(params.get("system_tool_type"), str):
                raise invalid((*loc, "params", "system_tool_type"), "Field required", "missing")
        check_model(models[kind], config, loc)
        return body

    def _tool_out(self, tool: dict[str, Any]) -> dict[str, Any]:
        config = tool["tool_config"]
        if self.server_defaults and config.get("type") == "webhook":
            config = deep_merge(WEBHOOK_TOOL_DEFAULTS, config)
        elif self.server_defaults and config.get("type") == "client":
            config = deep_merge({**TOOL_DEFAULTS, "expects_response": False}, config)
        out = {
            "id": tool["id"],
            "tool_config": copy.deepcopy(config),
            "access_info": dict(ACCESS_INFO),
            "usage_stats": {"total_calls": 0, "avg_latency_secs": 0.0},
        }
        if tool.get("response_mocks") is not None:
            out["response_mocks"] = copy.deepcopy(tool["response_mocks"])
        return out

    def list_tools(self, body: Any, query: dict[str, str]) -> tuple[int, Any]:
        found = [
            t
            for t in self.tools.values()
            if t["tool_config"]["name"].startswith(query.get("search") or "")
            and (not query.get("types") or t["tool_config"]["type"] == query["types"])
        ]
        page, cursor = self._page(found, query, 30)
        return 200, {
            "tools": [self._tool_out(t) for t in page],
            "next_cursor": cursor,
            "has_more": cursor is not None,
        }

    def create_tool(self, body: Any, query: dict[str, str]) -> tuple[int, Any]:
        body = self._check_tool(body)
        tid = new_id("tool_")
        self.tools[tid] = {
            "id": tid,
            "tool_config": copy.deepcopy(body["tool_config"]),
            "response_mocks": copy.deepcopy(body.get("response_mocks")),
            "created_at_unix_secs": now(),
        }
        return 200, self._tool_out(self.tools[tid])

    def _tool(self, tool_id: str) -> dict[str, Any]:
        if tool_id not in self.tools:
            raise not_found("tool", tool_id)
        return self.tools[tool_id]

    def get_tool(self, body: Any, query: dict[str, str], tool_id: str) -> tuple[int, Any]:
        return 200, self._tool_out(self._tool(tool_id))

    def update_tool(self, body: Any, query: dict[str, str], tool_id: str) -> tuple[int, Any]:
        tool = self._tool(tool_id)
        body = self._check_tool(body)
        tool["tool_config"] = copy.deepcopy(body["tool_config"])
        if "response_mocks" in body:
            tool["response_mocks"] = copy.deepcopy(body["response_mocks"])
        return 200, self._tool_out(tool)

    def delete_tool(self, body: Any, query: dict[str, str], tool_id: str) -> tuple[int, Any]:
        self._tool(tool_id)
        users = [a for a in self.agents.values() if tool_id in _tool_ids(a)]
        if users and query.get("force", "").lower() != "true":
            raise Fault(
                400,
                {
                    "status": "tool_in_use",
                    "message": f"The tool is used by {len(users)} agent(s); pass force=true.",
                },
            )
        for agent in users:
            prompt = agent["conversation_config"]["agent"]["prompt"]
            prompt["tool_ids"] = [t for t in prompt["tool_ids"] if t != tool_id]
        del self.tools[tool_id]
        return 200, {}

    # -- agents --------------------------------------------------------------------------------------

    def _check_agent(self, agent: dict[str, Any]) -> None:
        """The whole agent as it would be stored; raises on what the API refuses."""
        config = obj(agent.get("conversation_config"), ("conversation_config",))
        loc: Loc = ("conversation_config",)
        settings = obj(agent.get("platform_settings"), ("platform_settings",), required=False)
        inner = obj(config.get("agent"), (*loc, "agent"), required=False)
        prompt = obj(inner.get("prompt"), (*loc, "agent", "prompt"), required=False)
        ploc: Loc = (*loc, "agent", "prompt")
        if prompt.get("tools") is not None:
            raise invalid(
                (*ploc, "tools"),
                "The 'tools' field has been removed (2025-07-23); create the tools "
                "with POST /v1/convai/tools and reference them with 'tool_ids' (system tools go "
                "into 'built_in_tools').",
            )
        check_model(ConversationalConfig, config, loc)
        if settings:
            check_model(AgentPlatformSettingsRequestModel, settings, ("platform_settings",))
        for i, tool_id in enumerate(prompt.get("tool_ids") or []):
            if tool_id not in self.tools:
                raise invalid((*ploc, "tool_ids", i), f"Tool {tool_id} does not exist")
        for name in obj(prompt.get("built_in_tools"), (*ploc, "built_in_tools"), required=False):
            if name not in BUILT_IN_TOOLS:
                raise invalid(
                    (*ploc, "built_in_tools", name), "Extra inputs are not permitted", "extra_forbidden"
                )
        built_in = obj(prompt.get("built_in_tools"), (*ploc, "built_in_tools"), required=False)
        if built_in.get("transfer_to_number") is not None:
            check_transfers(built_in["transfer_to_number"], (*ploc, "built_in_tools", "transfer_to_number"))
        tts = obj(config.get("tts"), (*loc, "tts"), required=False)
        one_of(tts, "model_id", TTS_MODELS, (*loc, "tts"))
        overrides = obj(
            settings.get("workspace_overrides"), ("platform_settings", "workspace_overrides"), required=False
        )
        hooks = obj(
            overrides.get("webhooks"),
            ("platform_settings", "workspace_overrides", "webhooks"),
            required=False,
        )
        if (
            hooks.get("post_call_webhook_id") is not None
            and hooks["post_call_webhook_id"] not in self.webhooks
        ):
            raise invalid(
                ("platform_settings", "workspace_overrides", "webhooks", "post_call_webhook_id"),
                f"Webhook {hooks['post_call_webhook_id']} does not exist",
            )
        presets = obj(config.get("language_presets"), (*loc, "language_presets"), required=False)
        for code in presets:
            if code not in AGENT_LANGUAGES:
                raise invalid((*loc, "language_presets", code), f"Unsupported language: {code}")
        language = inner.get("language") or "en"
        model = tts.get("model_id") or DEFAULT_TTS_MODEL
        if language != "en" and model not in MULTILINGUAL_TTS_MODELS:
            raise Fault(400, {"status": "invalid_agent_config", "message": "The agent config is invalid."})

    def _agent_out(self, agent: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(agent)
        if self.server_defaults:
            out = deep_merge(AGENT_DEFAULTS, out)
        out.setdefault("platform_settings", {})
        out.pop("created_at_unix_secs")
        out.pop("updated_at_unix_secs")
        out["metadata"] = {
            "created_at_unix_secs": agent["created_at_unix_secs"],
            "updated_at_unix_secs": agent["updated_at_unix_secs"],
        }
        out["phone_numbers"] = [
            self._phone_out(p) for p in self.phone_numbers.values() if p.get("agent_id") == agent["agent_id"]
        ]
        out["access_info"] = dict(ACCESS_INFO)
        return out

    def _agent_summary(self, agent: dict[str, Any]) -> dict[str, Any]:
        tts = agent["conversation_config"].get("tts") or {}
        return {
            "agent_id": agent["agent_id"],
            "name": agent["name"],
            "voice_id": tts.get("voice_id") or DEFAULT_VOICE_ID,
            "tags": list(agent.get("tags") or []),
            "created_at_unix_secs": agent["created_at_unix_secs"],
            "updated_at_unix_secs": agent["updated_at_unix_secs"],
            "access_info": dict(ACCESS_INFO),
            "last_call_time_unix_secs": None,
            "archived": False,
        }

    def list_agents(self, body: Any, query: dict[str, str]) -> tuple[int, Any]:
        search = (query.get("search") or "").lower()
        found = [a for a in self.agents.values() if search in a["name"].lower()]
        page, cursor = self._page(found, query, 30)
        return 200, {
            "agents": [self._agent_summary(a) for a in page],
            "next_cursor": cursor,
            "has_more": cursor is not None,
        }

    def create_agent(self, body: Any, query: dict[str, str]) -> tuple[int, Any]:
        body = obj(body, ())
        check_keys(body, AgentsClient.create)
        if "conversation_config" not in body:
            raise invalid(("conversation_config",), "Field required", "missing")
        agent = {
            k: copy.deepcopy(v)
            for k, v in body.items()
            if k in ("conversation_config", "platform_settings", "workflow", "tags") and v is not None
        }
        agent["name"] = body.get("name") or ""
        self._check_agent(agent)
        agent_id = new_id("agent_")
        agent.update(agent_id=agent_id, created_at_unix_secs=now(), updated_at_unix_secs=now())
        self.agents[agent_id] = agent
        return 200, {"agent_id": agent_id}

    def _agent(self, agent_id: str) -> dict[str, Any]:
        if agent_id not in self.agents:
            raise not_found("agent", agent_id)
        return self.agents[agent_id]

    def get_agent(self, body: Any, query: dict[str, str], agent_id: str) -> tuple[int, Any]:
        return 200, self._agent_out(self._agent(agent_id))

    def update_agent(self, body: Any, query: dict[str, str], agent_id: str) -> tuple[int, Any]:
        agent = self._agent(agent_id)
        check_keys(obj(body, ()), AgentsClient.update)
        patch = {
            k: v
            for k, v in obj(body, ()).items()
            if k in ("conversation_config", "platform_settings", "workflow", "name", "tags")
        }
        merged = deep_merge(agent, patch)
        merged["name"] = merged.get("name") or ""
        self._check_agent(merged)
        merged["updated_at_unix_secs"] = now()
        self.agents[agent_id] = merged
        return 200, self._agent_out(merged)

    def delete_agent(self, body: Any, query: dict[str, str], agent_id: str) -> tuple[int, Any]:
        self._agent(agent_id)
        del self.agents[agent_id]
        for phone in self.phone_numbers.values():
            if phone.get("agent_id") == agent_id:
                phone["agent_id"] = None
        return 200, {}

    # -- workspace webhooks --------------------------------------------------------------------------

    def _webhook_out(self, hook: dict[str, Any], usages: bool) -> dict[str, Any]:
        out = {
            k: copy.deepcopy(v)
            for k, v in hook.items()
            if k in WorkspaceWebhookResponseModel.model_fields and k not in ("usage", "events")
        }
        if usages:  # `events` too: "Only populated when usages are requested"
            out["usage"] = [{"usage_type": u} for u in self._webhook_users(hook["webhook_id"])]
            out["events"] = list(hook.get("events") or [])
        return out

    def list_webhooks(self, body: Any, query: dict[str, str]) -> tuple[int, Any]:
        usages = query.get("include_usages", "").lower() == "true"
        return 200, {"webhooks": [self._webhook_out(h, usages) for h in self.webhooks.values()]}

    def create_webhook(self, body: Any, query: dict[str, str]) -> tuple[int, Any]:
        check_keys(obj(body, ()), WebhooksClient.create)
        settings = obj(obj(body, ()).get("settings"), ("settings",))
        if settings.get("auth_type") != "hmac":
            raise invalid(("settings", "auth_type"), "Input should be 'hmac'", "literal_error")
        check_model(WebhookHmacSettings, settings, ("settings",))
        name, url = text(settings, "name", ("settings",)), text(settings, "webhook_url", ("settings",))
        if not url.startswith("https://"):
            raise invalid(("settings", "webhook_url"), "Webhook URL must use https")
        webhook_id = secrets.token_hex(16)
        self.webhooks[webhook_id] = {
            "webhook_id": webhook_id,
            "name": name,
            "webhook_url": url,
            "is_disabled": False,
            "is_auto_disabled": False,
            "created_at_unix": now(),
            "auth_type": "hmac",
            "events": [],
            "retry_enabled": False,
            "request_headers": copy.deepcopy(settings.get("request_headers") or {}),
            "webhook_secret": "wsec_" + secrets.token_hex(32),
        }
        return 200, {"webhook_id": webhook_id, "webhook_secret": self.webhooks[webhook_id]["webhook_secret"]}

    def _webhook(self, webhook_id: str) -> dict[str, Any]:
        if webhook_id not in self.webhooks:
            raise not_found("webhook", webhook_id)
        return self.webhooks[webhook_id]

    def update_webhook(self, body: Any, query: dict[str, str], webhook_id: str) -> tuple[int, Any]:
        hook = self._webhook(webhook_id)
        body = obj(body, ())
        check_keys(body, WebhooksClient.update)
        if not isinstance(body.get("is_disabled"), bool):
            raise invalid(("is_disabled",), "Field required", "missing")
        hook["name"] = text(body, "name", ())
        hook["is_disabled"] = body["is_disabled"]
        if not body["is_disabled"]:  # enabling again is how an auto-disabled webhook comes back
            hook["is_auto_disabled"] = False
            hook["consecutive_failures"] = 0
        for key in ("retry_enabled", "request_headers", "events"):
            if body.get(key) is not None:
                hook[key] = copy.deepcopy(body[key])
        return 200, {"status": "ok"}

    def _webhook_users(self, webhook_id: str) -> list[str]:
        users = []
        if (self.settings.get("webhooks") or {}).get("post_call_webhook_id") == webhook_id:
            users.append("ConvAI Settings")
        if any(_agent_webhook(a) == webhook_id for a in self.agents.values()):
            users.append("ConvAI Agent Settings")
        return users

    def delete_webhook(self, body: Any, query: dict[str, str], webhook_id: str) -> tuple[int, Any]:
        self._webhook(webhook_id)
        if users := self._webhook_users(webhook_id):
            raise Fault(
                400,
                {
                    "status": "webhook_in_use",
                    "message": f"The webhook is in use ({', '.join(users)}) and cannot be deleted.",
                },
            )
        del self.webhooks[webhook_id]
        return 200, {"status": "ok"}

    def deliver(self, webhook_id: str, status: int) -> None:
        """Record one delivery attempt answered `status`, as ElevenLabs' dispatcher would: a non-2xx is a
        failure (code and time kept), and after `AUTO_DISABLE_AFTER` consecutive ones without a success in
        the last 7 days the webhook is auto-disabled (reference §2.4)."""
        hook = self._webhook(webhook_id)
        if 200 <= status < 300:
            hook["consecutive_failures"] = 0
            hook["last_success_unix"] = now()
            return
        hook["consecutive_failures"] = hook.get("consecutive_failures", 0) + 1
        hook["most_recent_failure_error_code"] = status
        hook["most_recent_failure_timestamp"] = now()
        recent_success = now() - hook.get("last_success_unix", 0) < 7 * 24 * 3600
        if hook["consecutive_failures"] >= AUTO_DISABLE_AFTER and not recent_success:
            hook["is_auto_disabled"] = True

    # -- ConvAI workspace settings -------------------------------------------------------------------

    def get_settings(self, body: Any, query: dict[str, str]) -> tuple[int, Any]:
        return 200, copy.deepcopy(self.settings)

    def update_settings(self, body: Any, query: dict[str, str]) -> tuple[int, Any]:
        body = obj(body, ())
        check_keys(body, SettingsClient.update)
        initiation = body.get("conversation_initiation_client_data_webhook")
        if initiation is not None:
            check_model(
                ConversationInitiationClientDataWebhook,
                initiation,
                ("conversation_initiation_client_data_webhook",),
            )
            self._check_headers(
                initiation.get("request_headers"),
                ("conversation_initiation_client_data_webhook", "request_headers"),
            )
        hooks = body.get("webhooks")
        if hooks is not None:
            check_model(ConvAiWebhooks, hooks, ("webhooks",))
            hook_id = hooks.get("post_call_webhook_id")
            if hook_id is not None and hook_id not in self.webhooks:
                raise invalid(("webhooks", "post_call_webhook_id"), f"Webhook {hook_id} does not exist")
            for i, event in enumerate(hooks.get("events") or []):
                if event not in POST_CALL_EVENTS:
                    raise invalid(("webhooks", "events", i), f"Unknown event {event!r}", "enum")
        patch = {k: v for k, v in body.items() if k in SETTINGS_DEFAULTS}
        # Both fields of the initiation webhook are required, so it is replaced as a whole.
        if "conversation_initiation_client_data_webhook" in patch:
            self.settings["conversation_initiation_client_data_webhook"] = None
        self.settings = deep_merge(self.settings, patch)
        return 200, copy.deepcopy(self.settings)

    # -- conversations -------------------------------------------------------------------------------

    def add_conversation(self, data: dict[str, Any], *, status: str | None = None) -> str:
        """A conversation ElevenLabs had: `data` as a post-call webhook's `data` carries it (the
        GetConversationResponseModel), completed with the fields that model requires; `status` wins."""
        conversation = {
            "status": "done",
            "has_audio": False,
            "has_user_audio": False,
            "has_response_audio": False,
            "has_auxiliary_audio": False,
            "metadata": {"start_time_unix_secs": now(), "call_duration_secs": 0},
            **copy.deepcopy(data),
        } | ({"status": status} if status else {})
        parsed = GetConversationResponseModel.model_validate(conversation)  # a wrong test fails here
        self.conversations[parsed.conversation_id] = parsed.model_dump(mode="json", by_alias=True)
        return parsed.conversation_id

    def list_conversations(self, body: Any, query: dict[str, str]) -> tuple[int, Any]:
        after, before = query.get("call_start_after_unix"), query.get("call_start_before_unix")
        found = sorted(
            (
                c
                for c in self.conversations.values()
                if (not query.get("agent_id") or c["agent_id"] == query["agent_id"])
                and (after is None or c["metadata"]["start_time_unix_secs"] >= int(after))
                and (before is None or c["metadata"]["start_time_unix_secs"] < int(before))
            ),
            key=lambda c: -c["metadata"]["start_time_unix_secs"],  # newest first
        )
        page, cursor = self._page(found, query, 30)
        summaries = [
            ConversationSummaryResponseModel.model_validate(
                {
                    "agent_id": c["agent_id"],
                    "conversation_id": c["conversation_id"],
                    "start_time_unix_secs": c["metadata"]["start_time_unix_secs"],
                    "call_duration_secs": c["metadata"]["call_duration_secs"],
                    "message_count": len(c["transcript"]),
                    "status": c["status"],
                    "call_successful": (c.get("analysis") or {}).get("call_successful") or "unknown",
                }
            ).model_dump(mode="json", by_alias=True)
            for c in page
        ]
        return 200, {"conversations": summaries, "next_cursor": cursor, "has_more": cursor is not None}

    def _conversation(self, conversation_id: str) -> dict[str, Any]:
        if conversation_id not in self.conversations:
            raise not_found("conversation", conversation_id)
        return self.conversations[conversation_id]

    def get_conversation(self, body: Any, query: dict[str, str], conversation_id: str) -> tuple[int, Any]:
        return 200, copy.deepcopy(self._conversation(conversation_id))

    def delete_conversation(self, body: Any, query: dict[str, str], conversation_id: str) -> tuple[int, Any]:
        self._conversation(conversation_id)
        del self.conversations[conversation_id]
        self.deleted_conversations.append(conversation_id)
        return 200, {}

    # -- phone numbers -------------------------------------------------------------------------------

    def _check_trunks(self, body: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
        """The trunk blocks of `body`, validated, with unsent passwords taken over from `stored`."""
        out: dict[str, Any] = {}
        for key, model in (
            ("inbound_trunk_config", InboundSipTrunkConfigRequestModel),
            ("outbound_trunk_config", OutboundSipTrunkConfigRequestModel),
        ):
            if body.get(key) is None:
                continue
            block = copy.deepcopy(obj(body[key], (key,)))
            check_model(model, block, (key,))
            one_of(block, "media_encryption", MEDIA_ENCRYPTION, (key,))
            one_of(block, "transport", TRANSPORTS, (key,))
            for i, codec in enumerate(block.get("enabled_codecs") or []):
                if codec not in CODECS:
                    raise invalid((key, "enabled_codecs", i), f"Unknown codec {codec!r}", "enum")
            if key == "outbound_trunk_config" and block["address"].lower().startswith(("sip:", "sips:")):
                raise invalid((key, "address"), "Address must be a hostname or IP address without 'sip:'")
            credentials = block.get("credentials")
            old = ((stored or {}).get(key) or {}).get("credentials") or {}
            if credentials is not None and credentials.get("password") is None and old.get("password"):
                credentials["password"] = old["password"]
            out[key] = block
        return out

    def _check_agent_ref(self, body: dict[str, Any]) -> None:
        agent_id = body.get("agent_id")
        if agent_id is not None and agent_id not in self.agents:
            raise invalid(("agent_id",), f"Agent {agent_id} does not exist")

    def _phone_out(self, phone: dict[str, Any]) -> dict[str, Any]:
        inbound = phone.get("inbound_trunk_config") or {}
        outbound = phone.get("outbound_trunk_config")
        agent = self.agents.get(phone.get("agent_id") or "")
        out = {
            "provider": "sip_trunk",
            "phone_number": phone["phone_number"],
            "label": phone["label"],
            "supports_inbound": phone.get("supports_inbound", True),
            "supports_outbound": phone.get("supports_outbound", True),
            "phone_number_id": phone["phone_number_id"],
            "assigned_agent": {"agent_id": agent["agent_id"], "agent_name": agent["name"]} if agent else None,
            "inbound_trunk": {
                "allowed_addresses": list(inbound.get("allowed_addresses") or []),
                "allowed_numbers": inbound.get("allowed_numbers"),
                "media_encryption": inbound.get("media_encryption") or "allowed",
                "has_auth_credentials": bool((inbound.get("credentials") or {}).get("username")),
                "username": (inbound.get("credentials") or {}).get("username"),
                "remote_domains": inbound.get("remote_domains"),
                "attributes_to_headers": inbound.get("attributes_to_headers") or {},
            },
            "outbound_trunk": None,
            "livekit_stack": phone.get("livekit_stack") or "standard",
            "store_sip_messages": bool(phone.get("store_sip_messages")),
        }
        if outbound:
            credentials = outbound.get("credentials") or {}
            out["outbound_trunk"] = {
                "address": outbound["address"],
                "transport": outbound.get("transport") or "auto",
                "media_encryption": outbound.get("media_encryption") or "allowed",
                "headers": outbound.get("headers") or {},
                "attributes_to_headers": outbound.get("attributes_to_headers") or {},
                "has_auth_credentials": bool(credentials.get("username")),
                "username": credentials.get("username"),
                "has_outbound_trunk": True,
                "enabled_codecs": outbound.get("enabled_codecs"),
            }
        return copy.deepcopy(out)

    def list_phone_numbers(self, body: Any, query: dict[str, str]) -> tuple[int, Any]:
        return 200, [
            self._phone_out(p)
            for p in self.phone_numbers.values()
            if query.get("provider") in (None, "sip_trunk")
            and (not query.get("agent_id") or p.get("agent_id") == query["agent_id"])
        ]

    def create_phone_number(self, body: Any, query: dict[str, str]) -> tuple[int, Any]:
        body = obj(body, ())
        if body.get("provider") != "sip_trunk":
            raise invalid(("provider",), "This fake imports only provider 'sip_trunk'", "union_tag_invalid")
        number, label = text(body, "phone_number", ()), text(body, "label", ())
        check_model(PhoneNumbersCreateRequestBody_SipTrunk, body, ())
        trunks = self._check_trunks(body, None)
        self._check_agent_ref(body)
        if any(p["phone_number"] == number for p in self.phone_numbers.values()):
            raise Fault(
                self.duplicate_phone_status,
                {
                    "status": "phone_number_already_exists",
                    "message": f"Phone number {number} has already been imported.",
                },
            )
        phone_id = new_id("phnum_")
        self.phone_numbers[phone_id] = {
            "phone_number_id": phone_id,
            "provider": "sip_trunk",
            "phone_number": number,
            "label": label,
            "agent_id": body.get("agent_id"),
            "supports_inbound": body.get("supports_inbound", True) is not False,
            "supports_outbound": body.get("supports_outbound", True) is not False,
            "inbound_trunk_config": trunks.get("inbound_trunk_config"),
            "outbound_trunk_config": trunks.get("outbound_trunk_config"),
            "livekit_stack": "standard",
            "store_sip_messages": False,
        }
        return 200, {"phone_number_id": phone_id}

    def _phone(self, phone_number_id: str) -> dict[str, Any]:
        if phone_number_id not in self.phone_numbers:
            raise not_found("phone_number", phone_number_id)
        return self.phone_numbers[phone_number_id]

    def get_phone_number(self, body: Any, query: dict[str, str], phone_number_id: str) -> tuple[int, Any]:
        return 200, self._phone_out(self._phone(phone_number_id))

    def update_phone_number(self, body: Any, query: dict[str, str], phone_number_id: str) -> tuple[int, Any]:
        phone = self._phone(phone_number_id)
        body = obj(body, ())
        check_keys(body, PhoneNumbersClient.update)
        if "label" in body and body["label"] is not None:
            text(body, "label", ())
        one_of(body, "livekit_stack", frozenset({"standard", "static"}), ())
        trunks = self._check_trunks(body, phone)
        self._check_agent_ref(body)
        phone.update(trunks)
        if "agent_id" in body:
            phone["agent_id"] = body["agent_id"]  # null unassigns
        for key in ("label", "livekit_stack", "store_sip_messages"):
            if body.get(key) is not None:
                phone[key] = body[key]
        return 200, self._phone_out(phone)

    def delete_phone_number(self, body: Any, query: dict[str, str], phone_number_id: str) -> tuple[int, Any]:
        self._phone(phone_number_id)
        del self.phone_numbers[phone_number_id]
        return 200, {}


def _check_property(prop: Any, loc: Loc) -> None:
    """One property of a tool's parameter schema: a literal needs exactly one value source."""
    prop = obj(prop, loc)
    kind = prop.get("type")
    if kind == "object":
        _check_object(prop, loc)
        return
    if kind == "array":
        if prop.get("dynamic_variable") and prop.get("description"):
            raise invalid(loc, "A property bound to a dynamic_variable must not have a description")
        if prop.get("items") is not None:
            _check_property(prop["items"], (*loc, "items"))
        return
    if kind not in ("string", "integer", "number", "boolean") and not isinstance(kind, list):
        raise invalid(
            (*loc, "type"),
            "Input should be 'string', 'integer', 'number', 'boolean', 'object' or 'array'",
            "literal_error",
        )
    given = [
        source
        for source in VALUE_SOURCES
        if (source == "constant_value" and prop.get(source) is not None)
        or (
            source in ("description", "dynamic_variable")
            and isinstance(prop.get(source), str)
            and prop[source].strip()
        )
        or (source in ("is_system_provided", "is_omitted") and prop.get(source) is True)
    ]
    if len(given) != 1:
        msg = (
            "A property bound to a dynamic_variable must not have a description"
            if {"description", "dynamic_variable"} <= set(given)
            else f"Exactly one of {', '.join(VALUE_SOURCES)} must be set (got {', '.join(given) or 'none'})"
        )
        raise invalid(loc, msg)


def _check_object(schema: dict[str, Any], loc: Loc) -> None:
    """A request body or query schema, or a nested object property."""
    if not schema:
        return
    if schema.get("dynamic_variable") and schema.get("description"):
        raise invalid(loc, "A property bound to a dynamic_variable must not have a description")
    properties = obj(schema.get("properties"), (*loc, "properties"), required=False)
    for name, prop in properties.items():
        _check_property(prop, (*loc, "properties", name))
    for i, name in enumerate(schema.get("required") or []):
        if name not in properties:
            raise invalid((*loc, "required", i), f"Required property {name!r} is not among the properties")


def _secret_ids(headers: Any) -> set[str]:
    if not isinstance(headers, dict):
        return set()
    return {v["secret_id"] for v in headers.values() if isinstance(v, dict) and "secret_id" in v}


def _tool_ids(agent: dict[str, Any]) -> list[str]:
    prompt = ((agent.get("conversation_config") or {}).get("agent") or {}).get("prompt") or {}
    return list(prompt.get("tool_ids") or [])


def _agent_webhook(agent: dict[str, Any]) -> str | None:
    overrides = (agent.get("platform_settings") or {}).get("workspace_overrides") or {}
    return (overrides.get("webhooks") or {}).get("post_call_webhook_id")


@contextlib.asynccontextmanager
async def running_fake_elevenlabs() -> AsyncIterator[FakeElevenLabs]:
    """The fake served by uvicorn on a free local port, in the test's event loop.

    Give `fake.url` to the SDK as `base_url` (`ElevenLabs(api_key=fake.api_key, base_url=fake.url)`); a
    sync client must then run in a thread (`asyncio.to_thread`), or it blocks the loop serving it.
    """
    fake = FakeElevenLabs()
    async with serving(fake.app()) as port:
        fake.url = f"http://127.0.0.1:{port}"
        yield fake
