"""`ignis demo-call`: a scripted German call against a running gateway, exactly as ElevenLabs makes it.

The conversation-initiation webhook, the tool calls (with the dynamic variables ElevenLabs fills in
itself: conversation id and caller number), then the signed post-call webhook with the transcript. Each
turn is printed, so the whole flow can be tried without a phone. The callers are the practice file's
fictitious demo patients.
"""

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from ignis.gateway.auth import sign_elevenlabs
from ignis.kit.phones import to_e164
from ignis.practice.config import Practice, SeedPatient
from ignis.provision.agent import INITIATION_PATH, POST_CALL_PATH, TOOL_SECRET_HEADER, tool_path

Print = Callable[[str], None]


class DemoCallFailed(Exception):
    """A step did not answer as a working system would; the message says which and why."""


@dataclass
class Call:
    base_url: str
    tool_secret: str
    webhook_secret: str
    say: Print
    caller_id: str
    conversation_id: str = field(default_factory=lambda: f"conv_demo_{uuid.uuid4().hex[:12]}")
    transcript: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def _post(self, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        try:
            response = httpx.post(
                f"{self.base_url}{path}",
                content=body,
                headers={"Content-Type": "application/json", **headers},
                timeout=15,
            )
        except httpx.HTTPError as exc:
            raise DemoCallFailed(
                f"no gateway at {self.base_url} ({type(exc).__name__}): start it with `make run`"
            ) from None
        if response.status_code == 401:
            raise DemoCallFailed(
                f"{path}: 401, the secret differs: run demo-call with the gateway's IGNIS_HOME"
            )
        if response.status_code != 200:
            raise DemoCallFailed(f"{path}: HTTP {response.status_code}: {response.text[:200]}")
        return dict(response.json())

    def _turn(self, role: str, message: str, **extra: Any) -> None:
        self.transcript.append(
            {"role": role, "message": message, "time_in_call_secs": int(time.time() - self.started), **extra}
        )

    def caller(self, text: str) -> None:
        self.say(f"Anrufer:  {text}")
        self._turn("user", text)

    def agent(self, text: str) -> None:
        self.say(f"Agent:    {text}")
        self._turn("agent", text)

    def begin(self, called_number: str) -> dict[str, Any]:
        body = {
            "caller_id": self.caller_id,
            "called_number": called_number,
            "agent_id": "agent_demo",
            "call_sid": uuid.uuid4().hex,
            "conversation_id": self.conversation_id,
        }
        reply = self._post(
            INITIATION_PATH,
            json.dumps(body).encode(),
            {TOOL_SECRET_HEADER: self.tool_secret},
        )
        variables = reply.get("dynamic_variables", {})
        self.say(f"  [conversation-init] {json.dumps(variables, ensure_ascii=False)}")
        return dict(variables)

    def tool(self, name: str, **arguments: Any) -> dict[str, Any]:
        """A tool call as ElevenLabs sends it: the LLM's arguments plus the bound system variables."""
        body = {"conversation_id": self.conversation_id, "caller_id": self.caller_id, **arguments}
        self.say(f"  → {name} {json.dumps(arguments, ensure_ascii=False)}")
        reply = self._post(tool_path(name), json.dumps(body).encode(), {TOOL_SECRET_HEADER: self.tool_secret})
        self.say(f"  ← {reply.get('code')}")
        request_id = uuid.uuid4().hex
        self._turn(
            "agent",
            "",
            tool_calls=[{"request_id": request_id, "tool_name": name, "params_as_json": json.dumps(body)}],
            tool_results=[{"request_id": request_id, "tool_name": name, "result_value": json.dumps(reply)}],
        )
        return reply

    def end(self, agent_id: str, summary: str) -> dict[str, Any]:
        """The post-call webhook, signed with the webhook secret as ElevenLabs signs it."""
        event = {
            "type": "post_call_transcription",
            "event_timestamp": int(time.time()),
            "data": {
                "agent_id": agent_id,
                "conversation_id": self.conversation_id,
                "status": "done",
                "transcript": self.transcript,
                "metadata": {
                    "start_time_unix_secs": int(self.started),
                    "call_duration_secs": max(1, int(time.time() - self.started)),
                    "termination_reason": "end_call tool was called",
                    "phone_call": {
                        "type": "sip_trunking",
                        "direction": "inbound",
                        "external_number": self.caller_id,
                        "agent_number": "",
                        "call_sid": uuid.uuid4().hex,
                    },
                },
                "analysis": {"call_successful": "success", "transcript_summary": summary},
            },
        }
        body = json.dumps(event).encode()
        reply = self._post(
            POST_CALL_PATH,
            body,
            {"ElevenLabs-Signature": sign_elevenlabs(body, self.webhook_secret)},
        )
        self.say(f"  [post-call webhook, signed] → {reply.get('code')}")
        return reply


def _spoken_birth_date(day: dt.date) -> str:
    months = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
              "Oktober", "November", "Dezember")  # fmt: skip
    return f"{day.day}. {months[day.month - 1]} {day.year}"


def _expect(reply: dict[str, Any], *codes: str) -> None:
    if reply.get("code") not in codes:
        raise DemoCallFailed(f"expected {' or '.join(codes)}, the gateway answered {reply.get('code')!r}")


def run(base_url: str, practice: Practice, tool_secret: str, webhook_secret: str, say: Print = print) -> str:
    """Play the call; returns its conversation id. Raises `DemoCallFailed` at the first broken step."""
    patient = practice.demo_patients[0] if practice.demo_patients else None
    caller = _Caller.of(patient)
    call = Call(base_url.rstrip("/"), tool_secret, webhook_secret, say, caller.phone)
    say(f"Ein Anruf bei {practice.name} von {caller.phone} ({call.conversation_id})")
    variables = call.begin(practice.phone)
    call.agent(f"{variables.get('practice_name') or practice.name}, guten Tag! Sie sprechen mit dem "
               "KI-Telefonassistenten der Praxis. Wie kann ich Ihnen helfen?")  # fmt: skip
    born = _spoken_birth_date(caller.birth_date)
    call.caller(f"Guten Tag, {caller.first_name} {caller.last_name}, geboren am {born}.")
    found = call.tool(
        "identify_patient", last_name=caller.last_name, birth_date=_spoken_birth_date(caller.birth_date)
    )
    if found.get("code") != "identified":
        call.agent(str(found.get("message", "")))
        call.caller("Ich bin neu bei Ihnen und möchte mich anmelden.")
        found = call.tool(
            "register_patient",
            first_name=caller.first_name,
            last_name=caller.last_name,
            birth_date=caller.birth_date.isoformat(),
            insurance="gesetzlich",
            sms_consent=True,
        )
        _expect(found, "registered", "already_registered")
    call.agent(str(found.get("message", "")))
    ref = str(found["patient_ref"])

    visit = practice.visit_types[0].name if practice.visit_types else "Akutsprechstunde"
    call.caller(f"Ich bräuchte einen Termin: {visit}, gern vormittags.")
    offer = call.tool("find_slots", visit_type=visit, part_of_day="vormittag", patient_ref=ref)
    if offer.get("code") != "slots":
        offer = call.tool("find_slots", visit_type=visit, patient_ref=ref)
    _expect(offer, "slots")
    slots = offer["slots"]
    call.agent("Ich kann Ihnen anbieten: " + "; ".join(slot["spoken"] for slot in slots) + ".")
    call.caller("Den ersten bitte.")
    booked = call.tool(
        "book_appointment", patient_ref=ref, slot_id=slots[0]["slot_id"], reason="Halsschmerzen"
    )
    _expect(booked, "booked")
    call.agent(str(booked.get("message", "")))

    call.caller("Und ich bräuchte noch ein Folgerezept für mein Blutdruckmittel.")
    request = call.tool(
        "create_request", kind="rezept", details="Folgerezept Blutdruckmittel", patient_ref=ref
    )
    _expect(request, "request_created")
    call.agent(str(request.get("message", "")))
    call.caller("Danke, das war alles. Auf Wiederhören!")
    call.agent("Gern geschehen. Auf Wiederhören!")
    say("  → end_call")

    stored = call.end("agent_demo", "Termin gebucht und Folgerezept bestellt")
    _expect(stored, "stored", "duplicate")
    say(f"Fertig: der Anruf steht in GET /staff/calls/{call.conversation_id}.")
    return call.conversation_id


@dataclass(frozen=True)
class _Caller:
    first_name: str
    last_name: str
    birth_date: dt.date
    phone: str

    @classmethod
    def of(cls, patient: SeedPatient | None) -> "_Caller":
        if patient is None:  # a practice without demo patients: a fictitious newcomer
            return cls("Erika", "Mustermann", dt.date(1964, 8, 12), "+4915199999999")
        phone = (to_e164(patient.phone) if patient.phone else None) or "+4915199999999"
        return cls(patient.first_name, patient.last_name, patient.birth_date, phone)
