"""What ElevenLabs should hold for this practice: the agent, its webhook tools, their bodies.

The texts the agent speaks and reads (prompt, first message, tool descriptions) are files in
`ignis/provision/agent_texts/` (or `IGNIS_AGENT_DIR`), German, with `${...}` fields filled from the practice
file; `{{...}}` are ElevenLabs' own dynamic variables, left as they are. Tool bodies come from the
contracts (`ignis.contracts.tools.TOOL_BODIES`), so the gateway and the agent cannot disagree.
"""

import dataclasses
import enum
import string
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from ignis.contracts.tools import TOOL_BODIES
from ignis.language.spoken import WEEKDAY_NAMES, spoken_ranges
from ignis.practice.config import LANGUAGES, OPENING_STATES, WEEKDAYS, Practice, Routing, VisitType

AGENT_DIR = Path(__file__).with_name("agent_texts")
TOOL_SECRET_HEADER = "X-Ignis-Tool-Secret"
# The gateway's routes ElevenLabs calls (services/gateway: tools.py, webhooks.py, initiation.py).
POST_CALL_PATH = "/webhooks/elevenlabs/post-call"
INITIATION_PATH = "/webhooks/elevenlabs/conversation-init"


def tool_path(name: str) -> str:
    return f"/tools/{name}"


def agent_name(practice: Practice) -> str:
    """How provision names the practice's agent, and how doctor finds it."""
    return f"Ignis - {practice.name}"


# The variables the conversation-init webhook returns (gateway/initiation.py), with the values a call
# gets when the webhook cannot be asked (e.g. a test call in the dashboard).
DYNAMIC_VARIABLE_DEFAULTS: dict[str, str | bool] = {
    "practice_name": "",
    "today": "",
    "now": "",
    "open_now": "unbekannt",
    "hours_today": "",
    "practice_state": "unbekannt",
    "caller_known": False,
    "caller_first_name": "",
}
_DAY_NAMES = dict(zip(WEEKDAYS, WEEKDAY_NAMES, strict=True))


class AgentTextError(ValueError):
    """A text file of the agent cannot be rendered: names the file and the problem."""


@dataclass(frozen=True)
class AgentTexts:
    prompt: str
    first_message: str
    tool_descriptions: dict[str, str]
    # The first message in each of the practice's other languages (`languages:`), by ISO 639-1 code.
    first_messages: dict[str, str] = dataclasses.field(default_factory=dict)


def practice_fields(practice: Practice) -> dict[str, str]:
    """The `${...}` fields of the agent's texts."""
    address = practice.address
    return {
        "practice_name": practice.name,
        "practice_address": f"{address.street}, {address.postal_code} {address.city}",
        "practice_phone": practice.phone,
        "visit_types": "\n".join(_visit_type_line(practice, v) for v in practice.visit_types),
        "practice_rules": practice.rules.described() or "keine Einschränkungen",
        "visit_type_names": ", ".join(v.name for v in practice.visit_types),
        "languages": ", ".join(LANGUAGES[code] for code in practice.languages) or "keine",
        "opening_hours": "\n".join(
            f"  - {_DAY_NAMES[day]}: {spoken_ranges(practice.opening_hours.get(day, []))}" for day in WEEKDAYS
        ),
    }


def _visit_type_line(practice: Practice, visit_type: VisitType) -> str:
    rules = practice.rules_for(visit_type).described()
    return f"  - {visit_type.name} ({visit_type.minutes} Minuten{': ' + rules if rules else ''})"


def _render(path: Path, fields: dict[str, str]) -> str:
    try:
        return string.Template(path.read_text(encoding="utf-8")).substitute(fields).strip()
    except OSError as exc:
        raise AgentTextError(f"{path}: cannot read ({exc.strerror})") from None
    except KeyError as exc:
        raise AgentTextError(
            f"{path}: unknown field ${{{exc.args[0]}}}; known: {', '.join(fields)}"
        ) from None
    except ValueError as exc:
        raise AgentTextError(f"{path}: {exc} (write $$ for a literal $)") from None


def render_texts(practice: Practice, directory: Path | None = None) -> AgentTexts:
    directory = directory or AGENT_DIR
    fields = practice_fields(practice)
    descriptions_file = directory / "tools.de.yaml"
    try:
        raw = yaml.safe_load(_render(descriptions_file, fields))
    except yaml.YAMLError as exc:
        raise AgentTextError(f"{descriptions_file}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict) or set(raw) != set(TOOL_BODIES):
        names = sorted(raw) if isinstance(raw, dict) else []
        raise AgentTextError(
            f"{descriptions_file}: needs exactly one description per tool ({', '.join(TOOL_BODIES)}); "
            f"found {', '.join(names) or 'none'}"
        )
    return AgentTexts(
        prompt=_render(directory / "prompt.de.md", fields),
        first_message=_render(directory / "first_message.de.txt", fields),
        tool_descriptions={name: " ".join(str(raw[name]).split()) for name in TOOL_BODIES},
        first_messages={
            code: _render(directory / f"first_message.{code}.txt", fields) for code in practice.languages
        },
    )


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """ElevenLabs' `request_body_schema` of a tool body: the LLM fills the described fields; ElevenLabs
    fills the ones bound to a system variable (conversation id, caller number) itself."""
    properties: dict[str, Any] = {}
    required = []
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        prop = _json_type(field.annotation)
        if "dynamic_variable" in extra:
            prop["dynamic_variable"] = extra["dynamic_variable"]
            required.append(name)
        else:
            prop["description"] = field.description or name
            if field.is_required():
                required.append(name)
        properties[name] = prop
    return {"type": "object", "properties": properties, "required": required}


_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number"}


def _json_type(annotation: Any) -> dict[str, Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _json_type(inner)
    if typing.get_origin(annotation) is Literal:
        return {"type": "string", "enum": [str(value) for value in typing.get_args(annotation)]}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"type": "string", "enum": [str(member.value) for member in annotation]}
    return {"type": _JSON_TYPES[annotation]}


def tool_config(name: str, description: str, public_url: str, secret_id: str, timeout: int) -> dict[str, Any]:
    """One webhook tool: POST (ElevenLabs' default is GET), errors summarized for the LLM (the default
    hides a webhook's errors, and the agent would claim success)."""
    return {
        "type": "webhook",
        "name": name,
        "description": description,
        "response_timeout_secs": timeout,
        "tool_error_handling_mode": "summarized",
        "pre_tool_speech": "auto",
        "api_schema": {
            "url": public_url.rstrip("/") + tool_path(name),
            "method": "POST",
            "content_type": "application/json",
            "request_headers": {TOOL_SECRET_HEADER: {"secret_id": secret_id}},
            "request_body_schema": body_schema(TOOL_BODIES[name]),
        },
    }


def agent_config(
    practice: Practice,
    texts: AgentTexts,
    tool_ids: list[str],
    *,
    tts_model: str,
    voice_id: str | None,
    llm: str | None,
    routing: Routing,
    retention_days: int,
) -> dict[str, Any]:
    """`conversation_config` and `platform_settings` of the German receptionist; `retention_days`: how long
    Ignis keeps call records, the longest ElevenLabs may keep the conversation."""
    prompt: dict[str, Any] = {
        "prompt": texts.prompt,
        "timezone": practice.timezone,
        "tool_ids": tool_ids,
        "built_in_tools": {"end_call": _system_tool("end_call", {})},
    }
    if llm:
        prompt["llm"] = llm
    if texts.first_messages:
        # ElevenLabs detects the caller's language and switches to its preset; the tools stay German.
        prompt["built_in_tools"]["language_detection"] = _system_tool("language_detection", {})
    if transfers := transfer_rules(routing):
        prompt["built_in_tools"]["transfer_to_number"] = _system_tool(
            "transfer_to_number", {"transfers": transfers}
        )
    tts: dict[str, Any] = {"model_id": tts_model}
    if voice_id:
        tts["voice_id"] = voice_id
    conversation: dict[str, Any] = {
        "agent": {
            "language": "de",
            "first_message": texts.first_message,
            "prompt": prompt,
            "dynamic_variables": {"dynamic_variable_placeholders": DYNAMIC_VARIABLE_DEFAULTS},
        },
        "tts": tts,
    }
    if texts.first_messages:
        conversation["language_presets"] = {
            code: {"overrides": {"agent": {"first_message": text}}}
            for code, text in texts.first_messages.items()
        }
    return {
        "conversation_config": conversation,
        "platform_settings": {
            "overrides": {"enable_conversation_initiation_client_data_from_webhook": True},
            "privacy": privacy_settings(practice, retention_days),
        },
    }


def transfer_rules(routing: Routing) -> list[dict[str, Any]]:
    """One `transfer_to_number` rule per number, its condition naming the practice's states it serves in
    (the conversation-init webhook tells the agent the state as `practice_state`)."""
    rules = []
    for phone, states in routing.targets().items():
        wanted = [OPENING_STATES[s] for s, urgent in states.items() if not urgent]
        urgent = [OPENING_STATES[s] for s, urgent in states.items() if urgent]
        cases = []
        if wanted:
            cases.append(
                f"der Praxisstatus ist {_either(wanted)} und die Person verlangt ausdrücklich das "
                "Praxisteam, oder du kommst nicht weiter"
            )
        if urgent:
            cases.append(
                f"der Praxisstatus ist {_either(urgent)} und das Anliegen ist dringend, aber nicht "
                "lebensbedrohlich (dann 112)"
            )
        rules.append(
            {
                "transfer_destination": {"type": "phone", "phone_number": phone},
                "condition": "Nur wenn " + "; oder wenn ".join(cases) + ".",
                "transfer_type": "sip_refer",
            }
        )
    return rules


def _either(words: list[str]) -> str:
    quoted = [f"„{word}“" for word in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " oder " + quoted[-1]


def privacy_settings(practice: Practice, retention_days: int) -> dict[str, Any]:
    """The agent's privacy settings at ElevenLabs from the practice file (`privacy:`): by default no audio,
    and conversations kept no longer than Ignis keeps the call record."""
    wanted = practice.privacy
    return {
        "retention_days": min(wanted.retention_days or retention_days, retention_days),
        "record_voice": wanted.record_audio,
        "delete_audio": not (wanted.record_audio and wanted.keep_audio),
    }


def _system_tool(name: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"type": "system", "name": name, "description": "", "params": {"system_tool_type": name, **params}}
