"""Fuzzing the gateway through HTTP, with the services on real NATS and Postgres: schemathesis generates
requests from the gateway's own OpenAPI (with valid credentials, so they get past authentication), and
hand-written hostile cases attack the post-call webhook (signature header and signed bodies), the tools
(NUL characters, extreme dates) and the staff API. Nothing may answer 5xx or `"code": "internal"`.

Bounded for CI (some 30 s): derandomized, 15 examples per operation, no example database.
"""

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
import yaml
from faststream import TestApp
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from sqlalchemy.ext.asyncio import AsyncEngine

from ignis.gateway.auth import sign_elevenlabs
from ignis.gateway.main import create_app as create_gateway
from ignis.gateway.server import guarded_protocol
from ignis.gateway.settings import GatewaySettings
from ignis.kit.embedded import free_port
from ignis.notifier.main import create_app as create_notifier
from ignis.notifier.settings import NotifierSettings
from ignis.patients.main import create_app as create_patients
from ignis.patients.settings import PatientsSettings
from ignis.scheduler.main import create_app as create_scheduler
from ignis.scheduler.settings import SchedulerSettings
from tests.conftest import TEST_PRACTICE, TOOL_SECRET, WEBHOOK_SECRET, wait_until_serving, wipe

STAFF_TOKEN = "fuzz-staff-token"
METRICS_TOKEN = "fuzz-metrics-token"


@dataclass
class Live:
    base_url: str


@contextlib.contextmanager
def live_system(common: dict[str, Any], practice_file: Path) -> Iterator[Live]:
    """The gateway under uvicorn (with its guarded protocol) and the three services, on an event loop of
    their own in a thread: schemathesis calls synchronously, which would block the test's loop."""
    port = free_port()
    ready = threading.Event()
    failed: list[BaseException] = []
    control: dict[str, Any] = {}

    async def main() -> None:
        patients = create_patients(PatientsSettings(**common))
        scheduler = create_scheduler(SchedulerSettings(**common, practice_file=practice_file))
        notifier = create_notifier(NotifierSettings(**common, practice_file=practice_file))
        gateway_settings = GatewaySettings(
            **common,
            practice_file=practice_file,
            gateway_port=port,
            tool_secret=SecretStr(TOOL_SECRET),
            elevenlabs_webhook_secret=SecretStr(WEBHOOK_SECRET),
            staff_token=SecretStr(STAFF_TOKEN),
            metrics_token=SecretStr(METRICS_TOKEN),
            # Generous on a busy CI machine: a slow ping is 503 on /readyz, which is right but no finding.
            readiness_timeout_seconds=5.0,
        )
        config = uvicorn.Config(
            create_gateway(gateway_settings),
            host="127.0.0.1",
            port=port,
            http=guarded_protocol(5, 5),
            log_config=None,
            access_log=False,
        )
        server = uvicorn.Server(config)
        async with TestApp(patients), TestApp(scheduler), TestApp(notifier):
            for service in ("patients", "scheduler", "notifier"):
                await wait_until_serving(patients.broker, service)
            serving = asyncio.create_task(server.serve())
            while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
                await asyncio.sleep(0.02)
            stop = control["stop"] = asyncio.Event()
            control["loop"] = asyncio.get_running_loop()
            ready.set()
            await stop.wait()
            server.should_exit = True
            await serving

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the test below
            failed.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="live-gateway", daemon=True)
    thread.start()
    assert ready.wait(60), "the live system did not start"
    assert not failed, failed
    try:
        yield Live(f"http://127.0.0.1:{port}")
    finally:
        control["loop"].call_soon_threadsafe(control["stop"].set)
        thread.join(30)


@pytest.fixture(scope="module")
async def wiped(engine: AsyncEngine) -> AsyncIterator[None]:
    """What the fuzzing registered and booked really committed: wipe it for the tests that follow."""
    yield
    await wipe(engine)


@pytest.fixture(scope="module")
def live(
    nats_url: str, database_url: str, wiped: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("fuzz")
    practice_file = home / "practice.yaml"
    practice_file.write_text(yaml.safe_dump(TEST_PRACTICE, allow_unicode=True), encoding="utf-8")
    common = {"nats_url": nats_url, "database_url": database_url, "home": home, "log_format": "text"}
    with live_system(common, practice_file) as system:
        yield system


def credentials(path: str) -> dict[str, str]:
    """What each part of the API authenticates with, all valid: the fuzzing is past the door."""
    token = STAFF_TOKEN if path.startswith("/staff") else METRICS_TOKEN
    return {"X-Ignis-Tool-Secret": TOOL_SECRET, "Authorization": f"Bearer {token}"}


def no_internal_code(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """A reply may refuse the input, but never as `internal` (an unexpected error behind the gateway)."""
    with contextlib.suppress(ValueError):
        body = response.json()
        assert not (isinstance(body, dict) and body.get("code") == "internal"), "answered `internal`"
    return None


def openapi() -> dict[str, Any]:
    """The gateway's OpenAPI, as `/openapi.json` serves it (building the app connects nothing)."""
    secrets = {name: SecretStr("x") for name in GatewaySettings.secret_fields}
    return create_gateway(GatewaySettings(_env_file=None, **secrets)).openapi()  # type: ignore[arg-type]


schema = schemathesis.openapi.from_dict(openapi())
# Random valid and invalid requests (hypothesis, both generation modes) only: the deterministic coverage
# phase would add some 800 requests and 15 s; the hostile cases below cover the boundaries that matter.
schema.config.phases.coverage.enabled = False


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_from_the_openapi_gets_a_server_error(case: schemathesis.Case, live: Live) -> None:
    case.call_and_validate(
        base_url=live.base_url,
        headers=credentials(case.path),
        checks=[not_a_server_error, no_internal_code],
        timeout=10,
    )


# --- Hand-written hostile cases: the post-call webhook and the tools' bodies --------------------------------

POST_CALL = "/webhooks/elevenlabs/post-call"
HEX = "0" * 64


def now() -> int:
    return int(time.time())


def signed(body: bytes, timestamp: int | None = None) -> dict[str, str]:
    return {"ElevenLabs-Signature": sign_elevenlabs(body, WEBHOOK_SECRET, timestamp)}


def event(**data: Any) -> bytes:
    return json.dumps(
        {"type": "post_call_transcription", "data": {"conversation_id": "conv_x", **data}}
    ).encode()


HOSTILE_SIGNATURES: dict[str, bytes] = {
    "empty": b"",
    "t-empty": b"t=",
    "t-superscript": b"t=\xb2,v0=" + HEX.encode(),
    "t-arabic-digits": "t=\u0661\u0662,v0=".encode() + HEX.encode(),
    "v0-non-ascii": b"t=%d,v0=\xe9" % now(),
    "v0-not-hex": b"t=%d,v0=%s" % (now(), b"z" * 64),
    "v0-missing": b"t=%d" % now(),
    "v0-empty": b"t=%d,v0=" % now(),
    "only-commas": b"," * 5000,
    "many-parts": b"t=%d," % now() * 500 + b"v0=" + HEX.encode(),
    "huge": b"t=%d,v0=" % now() + b"a" * 60_000,
    "t-huge-number": b"t=" + b"9" * 40 + b",v0=" + HEX.encode(),
    "t-negative": b"t=-1,v0=" + HEX.encode(),
    "t-float": b"t=1.5e9,v0=" + HEX.encode(),
    "equals-only": b"=,=,=",
}


@pytest.mark.parametrize("signature", HOSTILE_SIGNATURES.values(), ids=HOSTILE_SIGNATURES.keys())
async def test_hostile_signature_headers_are_refused(live: Live, signature: bytes) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        response = await client.post(POST_CALL, content=event(), headers={"ElevenLabs-Signature": signature})
    assert response.status_code in (400, 401, 431)
    assert_no_internal(response)


async def test_future_timestamps_beyond_the_skew_are_refused(live: Live) -> None:
    body = event()
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        for ahead in (120, 29 * 60, 10**9):
            response = await client.post(POST_CALL, content=body, headers=signed(body, now() + ahead))
            assert response.status_code == 401


HOSTILE_SIGNED_BODIES: dict[str, bytes] = {
    "empty": b"",
    "deep-array": b"[" * 100_000 + b"]" * 100_000,
    "deep-in-data": event(analysis=None).replace(
        b'"analysis": null', b'"analysis": ' + b"[" * 50_000 + b"]" * 50_000
    ),
    "not-utf8": b"\xff\xfe\xfd",
    "utf16": json.dumps({"type": "post_call_transcription"}).encode("utf-16"),
    "array": b"[]",
    "string": b'"post_call_transcription"',
    "data-not-object": b'{"type": "post_call_transcription", "data": [1, 2]}',
    "type-not-string": b'{"type": {"a": 1}, "data": {"conversation_id": "conv_x"}}',
    "conversation-id-number": event(conversation_id=12345),
    "conversation-id-object": event(conversation_id={"$gt": ""}),
    "conversation-id-empty": event(conversation_id=""),
    "conversation-id-long": event(conversation_id="c" * 201),
    "conversation-id-nul": event(conversation_id="conv_\u0000"),
    "conversation-id-newline": event(conversation_id="conv_x\r\nNats-Expected-Stream: other"),
    "lone-surrogate": b'{"type": "post_call_transcription", "data": {"conversation_id": "\\ud800"}}',
    "nan": b'{"type": "post_call_transcription", "data": {"conversation_id": "conv_x", "n": NaN}}',
    "huge-number": b'{"type": "post_call_transcription", "data": {"conversation_id": "conv_x", "n": 1'
    + b"0" * 5000
    + b"}}",
    "duplicate-keys": b'{"type": "post_call_transcription", "type": [], "data": {"conversation_id": "c"}}',
}


@pytest.mark.parametrize("body", HOSTILE_SIGNED_BODIES.values(), ids=HOSTILE_SIGNED_BODIES.keys())
async def test_hostile_signed_bodies_are_a_4xx(live: Live, body: bytes) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        response = await client.post(POST_CALL, content=body, headers=signed(body))
    assert 400 <= response.status_code < 500, response.text
    assert_no_internal(response)


async def test_twenty_megabytes_unsigned(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        response = await client.post(POST_CALL, content=b"x" * 20_000_000)
    assert (response.status_code, response.json()["code"]) == (413, "too_large")


NUL = "\u0000"
IDENTIFY = {"conversation_id": "fuzz-1", "last_name": "Mueller", "birth_date": "12.03.1980"}
REGISTER = IDENTIFY | {"first_name": "Anna", "insurance": "gesetzlich", "sms_consent": False}
TOOL_CASES: list[tuple[str, dict[str, Any], str]] = [
    *[("identify_patient", IDENTIFY | {field: f"a{NUL}b"}, field) for field in [*IDENTIFY, "first_name"]],
    *[("register_patient", REGISTER | {field: NUL}, field) for field in ["first_name", "last_name", "phone"]],
    ("find_slots", {"conversation_id": "fuzz-1", "visit_type": NUL}, "visit_type"),
    ("create_request", {"conversation_id": "fuzz-1", "kind": "rueckruf", "details": f"x{NUL}"}, "details"),
    ("book_appointment", {"conversation_id": "fuzz-1", "patient_ref": NUL, "slot_id": "s"}, "patient_ref"),
    (
        "cancel_appointment",
        {"conversation_id": NUL, "patient_ref": "p", "appointment_id": "a"},
        "conversation_id",
    ),
    ("practice_info", {"conversation_id": f"x{NUL}"}, "conversation_id"),
]


@pytest.mark.parametrize(("tool", "body", "field"), TOOL_CASES)
async def test_nul_in_a_tool_body_is_invalid_request_naming_the_field(
    live: Live, tool: str, body: dict[str, Any], field: str
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        response = await client.post(f"/tools/{tool}", json=body, headers=credentials("/tools"))
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert response.json()["fields"] == [field]


@pytest.mark.parametrize(
    ("tool", "body", "code"),
    [
        ("identify_patient", IDENTIFY | {"birth_date": date}, "invalid_birth_date")
        for date in ("31.12.9999", "0001-01-01", "99999-01-01", "0000-00-00", "1.1.1", "²³.1.1980")
    ]
    + [
        (
            "find_slots",
            {"conversation_id": "fuzz-1", "visit_type": "Akutsprechstunde", key: date},
            "invalid_date",
        )
        for key in ("earliest", "latest")
        for date in ("31.12.9999", "9999-12-31", "0001-01-01", "99999-01-01", "1.1.2000")
    ],
)
async def test_extreme_dates_are_spoken_answers(
    live: Live, tool: str, body: dict[str, Any], code: str
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        response = await client.post(f"/tools/{tool}", json=body, headers=credentials("/tools"))
    assert (response.status_code, response.json()["code"]) == (200, code)


@pytest.mark.parametrize(
    "path", ["/tools/identify_patient", "/tools/find_slots", "/webhooks/elevenlabs/conversation-init"]
)
async def test_deeply_nested_json_bodies_are_a_422(live: Live, path: str) -> None:
    """Just under the 64 KiB limit, as deep as that allows; pydantic's parser stops at its own depth."""
    depth = 30_000
    body = b'{"conversation_id": "fuzz-1", "x": ' + b"[" * depth + b"]" * depth + b"}"
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        response = await client.post(path, content=body, headers=credentials(path))
    assert response.status_code == 422
    assert_no_internal(response)


@pytest.mark.parametrize(
    "path",
    ["/staff/calls/conv%00x", "/staff/requests?cursor=%00", "/staff/messages?status=sent&cursor=a%00"],
)
async def test_nul_in_a_staff_url_is_a_400(live: Live, path: str) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        response = await client.get(path, headers=credentials("/staff"))
    assert response.status_code == 400


async def test_nul_in_a_staff_body_is_a_422(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        response = await client.post(
            "/staff/requests/r1/complete", json={"by": "A\u0000", "note": "x"}, headers=credentials("/staff")
        )
    assert response.status_code == 422


def assert_no_internal(response: httpx.Response) -> None:
    with contextlib.suppress(ValueError):
        assert response.json().get("code") != "internal"
