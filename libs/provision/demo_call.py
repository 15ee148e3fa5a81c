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


# The scenes `ignis demo-call --scene` plays; `termin` is the default.
SCENES = ("termin", "warteliste", "kurzfristig")


def run(
    base_url: str,
    practice: Practice,
    tool_secret: str,
    webhook_secret: str,
    say: Print = print,
    scene: str = "termin",
) -> str:
    """Play the scene; returns the conversation id of its (last) call. Raises `DemoCallFailed` at the first
    broken step."""
    calls = _Calls(base_url.rstrip("/"), practice, tool_secret, webhook_secret, say)
    if scene == "warteliste":
        return _waiting_list(calls)
    if scene == "kurzfristig":
        return _late_cancellation(calls)
    return _booking(calls)


@dataclass
class _Calls:
    base_url: str
    practice: Practice
    tool_secret: str
    webhook_secret: str
    say: Print

    def start(self, caller: "_Caller") -> Call:
        """A call from `caller`: the initiation webhook and the agent's greeting."""
        call = Call(self.base_url, self.tool_secret, self.webhook_secret, self.say, caller.phone)
        self.say(f"Ein Anruf bei {self.practice.name} von {caller.phone} ({call.conversation_id})")
        variables = call.begin(self.practice.phone)
        call.agent(f"{variables.get('practice_name') or self.practice.name}, guten Tag! Sie sprechen mit dem "
                   "KI-Telefonassistenten der Praxis. Wie kann ich Ihnen helfen?")  # fmt: skip
        return call

    def caller(self, index: int) -> "_Caller":
        patients = self.practice.demo_patients
        return _Caller.of(patients[index] if len(patients) > index else None, index)

    @property
    def visit(self) -> str:
        return self.practice.visit_types[0].name if self.practice.visit_types else "Akutsprechstunde"

    def finish(self, call: Call, summary: str) -> str:
        call.caller("Danke, das war alles. Auf Wiederhören!")
        call.agent("Gern geschehen. Auf Wiederhören!")
        self.say("  → end_call")
        _expect(call.end("agent_demo", summary), "stored", "duplicate")
        self.say(f"Fertig: der Anruf steht in GET /staff/calls/{call.conversation_id}.")
        return call.conversation_id


def _identified(call: Call, caller: "_Caller") -> str:
    """The caller says who they are; identified, or registered as new. Their ref for this call."""
    born = _spoken_birth_date(caller.birth_date)
    call.caller(f"Guten Tag, {caller.first_name} {caller.last_name}, geboren am {born}.")
    found = call.tool("identify_patient", last_name=caller.last_name, birth_date=born)
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
    return str(found["patient_ref"])


def _booking(calls: _Calls) -> str:
    """A caller books an appointment and orders a repeat prescription."""
    call = calls.start(calls.caller(0))
    ref = _identified(call, calls.caller(0))
    visit = calls.visit
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
    return calls.finish(call, "Termin gebucht und Folgerezept bestellt")


def _waiting_list(calls: _Calls) -> str:
    """Four calls: B books a slot; A wants that very time and joins the waiting list; B cancels; the slot
    is held for A (an SMS goes out if A consented) and offered first when A calls back."""
    visit, first, second = calls.visit, calls.caller(0), calls.caller(1)
    in_three_days = (dt.date.today() + dt.timedelta(days=3)).isoformat()

    call = calls.start(second)
    ref = _identified(call, second)
    call.caller(f"Ich hätte gern einen Termin ({visit}) in drei Tagen.")
    offer = call.tool("find_slots", visit_type=visit, earliest=in_three_days, patient_ref=ref)
    _expect(offer, "slots")
    wanted = offer["slots"][0]
    call.agent(f"Ich kann Ihnen anbieten: {wanted['spoken']}.")
    call.caller("Den nehme ich.")
    booked = call.tool("book_appointment", patient_ref=ref, slot_id=wanted["slot_id"])
    _expect(booked, "booked")
    call.agent(str(booked["message"]))
    calls.finish(call, "Termin gebucht")

    call = calls.start(first)
    ref = _identified(call, first)
    day = wanted["start"][:10]
    call.caller(f"Ich bräuchte einen Termin am {day} bei {wanted['practitioner']}, genau um diese Zeit.")
    offer = call.tool("find_slots", visit_type=visit, earliest=day, latest=day, patient_ref=ref)
    _expect(offer, "slots", "no_slots")
    call.agent("Diese Zeit ist leider vergeben. Soll ich Sie auf die Warteliste setzen?")
    call.caller("Ja, bitte.")
    joined = call.tool(
        "join_waitlist",
        patient_ref=ref,
        visit_type=visit,
        earliest=day,
        latest=day,
        practitioner=wanted["practitioner"],
    )
    _expect(joined, "waitlist_joined")
    call.agent(str(joined["message"]))
    calls.finish(call, "Auf die Warteliste gesetzt")

    call = calls.start(second)
    ref = _identified(call, second)
    call.caller("Ich muss meinen Termin leider absagen.")
    mine = call.tool("list_appointments", patient_ref=ref)
    appointment = next(a for a in mine["appointments"] if a["start"] == wanted["start"])
    cancelled = call.tool("cancel_appointment", patient_ref=ref, appointment_id=appointment["appointment_id"])
    _expect(cancelled, "cancelled")
    call.agent(str(cancelled["message"]))
    calls.finish(call, "Termin abgesagt")
    calls.say("  [Der frei gewordene Termin ist jetzt für die Wartende reserviert; sie bekommt eine SMS.]")

    call = calls.start(first)
    ref = _identified(call, first)
    call.caller("Ich habe eine SMS bekommen, ein Termin sei frei geworden.")
    offer = call.tool("find_slots", visit_type=visit, patient_ref=ref)
    _expect(offer, "slots")
    held = offer["slots"][0]
    if not held.get("held"):
        raise DemoCallFailed("the freed slot was not held for the caller on the waiting list")
    call.agent(f"Für Sie reserviert ist: {held['spoken']}. Soll ich ihn buchen?")
    call.caller("Ja, gern.")
    booked = call.tool("book_appointment", patient_ref=ref, slot_id=held["slot_id"])
    _expect(booked, "booked")
    call.agent(str(booked["message"]))
    return calls.finish(call, "Reservierten Termin aus der Warteliste gebucht")


def _late_cancellation(calls: _Calls) -> str:
    """A caller cancels an appointment at short notice; what happens is the practice's choice
    (`booking.late_changes`): cancelled and flagged late, a request the team confirms, or a refusal."""
    caller = calls.caller(0)
    call = calls.start(caller)
    ref = _identified(call, caller)
    call.caller("Ich habe einen Termin, den ich kurzfristig absagen muss.")
    offer = call.tool("find_slots", visit_type=calls.visit, patient_ref=ref)  # the scene's appointment
    _expect(offer, "slots")
    booked = call.tool("book_appointment", patient_ref=ref, slot_id=offer["slots"][0]["slot_id"])
    _expect(booked, "booked")
    soon = booked["appointment"]
    call.agent(f"Ihr Termin: {soon['spoken']}. Soll ich ihn wirklich absagen?")
    call.caller("Ja, bitte, es geht leider nicht anders.")
    reply = call.tool("cancel_appointment", patient_ref=ref, appointment_id=soon["appointment_id"])
    _expect(reply, "cancelled", "change_requested", "too_late")
    call.agent(str(reply["message"]))
    if reply.get("late"):
        calls.say("  [kurzfristig abgesagt: für das Praxisteam als kurzfristig markiert]")
    return calls.finish(call, "Kurzfristige Absage")


@dataclass(frozen=True)
class _Caller:
    first_name: str
    last_name: str
    birth_date: dt.date
    phone: str

    @classmethod
    def of(cls, patient: SeedPatient | None, index: int = 0) -> "_Caller":
        if patient is None:  # a practice without demo patients: fictitious newcomers
            if index:
                return cls("Max", "Mustermann", dt.date(1961, 4, 3), "+4915199999998")
            return cls("Erika", "Mustermann", dt.date(1964, 8, 12), "+4915199999999")
        phone = (to_e164(patient.phone) if patient.phone else None) or "+4915199999999"
        return cls(patient.first_name, patient.last_name, patient.birth_date, phone)
