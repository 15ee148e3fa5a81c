"""`ignis doctor` against local stand-ins for the whole call path: a SIP peer with a certificate (as
ElevenLabs' SIP edge), the ElevenLabs API fake provisioned by `ignis provision`, an HTTPS gateway, a local
/readyz and the sipgate fake. All pass; then each check is broken on its own and must fail with its fix."""

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from typer.testing import CliRunner

from ignis.cli.main import app
from ignis.kit.embedded import free_port
from ignis.practice.config import DEMO_PRACTICE, load_practice
from ignis.provision.agent import render_texts
from ignis.provision.doctor import Check, Doctor
from ignis.provision.settings import ProvisionSettings
from ignis.provision.workspace import RETRIES_FOR, Workspace, connect
from tests.fakes import serving
from tests.fakes import sipgate as sipgate_fake
from tests.fakes.elevenlabs import FakeElevenLabs
from tests.fakes.network import Gateway, listening, sip_peer
from tests.fakes.sipgate import FakeSipgate

TOOL_SECRET = "doctor-tool-secret-0123456789"
SIP_PASSWORD = "doctor-sip-password-0123456789"
CHECKS = 20


@dataclass
class Ready:
    """The local gateway's /readyz."""

    port: int
    status: int = 200


@pytest.fixture(scope="module")
async def ready_server() -> AsyncIterator[Ready]:
    ready = Ready(free_port())

    async def readyz(request: Request) -> JSONResponse:
        return JSONResponse({"ready": ready.status == 200}, status_code=ready.status)

    async with serving(Starlette(routes=[Route("/readyz", readyz)]), ready.port):
        yield ready


@pytest.fixture
def ready(ready_server: Ready) -> Ready:
    ready_server.status = 200
    return ready_server


@dataclass
class World:
    settings: ProvisionSettings
    elevenlabs: FakeElevenLabs
    sipgate: FakeSipgate
    public_gateway: Gateway
    ready: Ready


@pytest.fixture
async def world(
    tmp_path: Path,
    elevenlabs: FakeElevenLabs,
    sipgate: FakeSipgate,
    public_gateway: Gateway,
    ready: Ready,
    server_tls: ssl.SSLContext,
    ca_pem: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[World]:
    """Everything working, and provisioned by `ignis provision` itself."""
    monkeypatch.setenv("SSL_CERT_FILE", ca_pem)  # our CA is the one the world trusts here
    async with sip_peer("ok", server_tls) as (_, tls_port), listening(_accept) as tcp_port:
        settings = ProvisionSettings(
            home=tmp_path,
            practice_file=DEMO_PRACTICE,
            public_url=public_gateway.url,
            tool_secret=SecretStr(TOOL_SECRET),
            elevenlabs_api_key=SecretStr(elevenlabs.api_key),
            elevenlabs_api_url=elevenlabs.url,
            elevenlabs_sip_host="localhost",
            elevenlabs_sip_tcp_port=tcp_port,
            elevenlabs_sip_tls_port=tls_port,
            gateway_port=ready.port,
            sms_provider="sipgate",
            sipgate_api_url=sipgate.url,
            sipgate_token_id=sipgate_fake.TOKEN_ID,
            sipgate_token=SecretStr(sipgate_fake.TOKEN),
            sip_username="praxis-weber",
            sip_password=SecretStr(SIP_PASSWORD),
            sip_registrar_username="1234567t0",
            sip_registrar_password=SecretStr("sipgate-sip-password"),
        )
        await asyncio.to_thread(_provision, settings)
        yield World(settings, elevenlabs, sipgate, public_gateway, ready)


async def _accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


def _provision(settings: ProvisionSettings) -> None:
    practice = load_practice(settings.practice_file)
    with connect(settings) as client:
        Workspace(
            client, settings, practice, render_texts(practice), dry_run=True, report=lambda _: None
        ).run()
        Workspace(
            client, settings, practice, render_texts(practice), dry_run=False, report=lambda _: None
        ).run()


async def diagnose(settings: ProvisionSettings) -> dict[str, Check]:
    checks = await Doctor(settings, load_practice(settings.practice_file)).run()
    return {check.name: check for check in checks}


def failed(checks: dict[str, Check]) -> dict[str, Check]:
    return {name: check for name, check in checks.items() if check.outcome == "fail"}


async def test_everything_passes(world: World) -> None:
    checks = await diagnose(world.settings)
    assert failed(checks) == {}
    assert len(checks) == CHECKS
    assert checks["SIP OPTIONS to sip:+49301234567@localhost over TLS"].detail == "SIP/2.0 200 OK"
    assert (
        checks["number +49301234567 in ElevenLabs"].detail
        == "imported as the INVITE's To: sip:+49301234567@localhost"
    )
    assert checks["inbound SIP digest authentication"].detail == "user praxis-weber"
    assert (
        checks["outbound trunk credentials (sipgate)"].detail
        == "user 1234567t0 at sipconnect.sipgate.de over tcp"
    )
    assert checks["post-call webhook delivering"].detail == "enabled"
    assert checks["post-call webhook retries"].detail == "turned on by `ignis provision`"


async def test_number_format_differs(world: World) -> None:
    checks = await diagnose(world.settings.model_copy(update={"sip_number": "49301234567"}))
    check = failed(checks)["number 49301234567 in ElevenLabs"]
    assert check.detail == (
        "imported as '+49301234567', but calls arrive for '49301234567' (To sip:49301234567@localhost)"
    )
    assert "formats must match exactly" in check.fix


async def test_sip_edge_unreachable(world: World) -> None:
    closed = free_port()
    checks = failed(
        await diagnose(
            world.settings.model_copy(
                update={"elevenlabs_sip_tcp_port": closed, "elevenlabs_sip_tls_port": closed}
            )
        )
    )
    assert set(checks) == {
        f"TCP localhost:{closed}",
        f"TLS localhost:{closed}",
        "SIP OPTIONS to sip:+49301234567@localhost over TLS",
    }
    assert all(check.detail == "connection refused" for check in checks.values())
    assert "5060 and 5061" in checks[f"TCP localhost:{closed}"].fix


async def test_sip_peer_silent(world: World, server_tls: ssl.SSLContext) -> None:
    async with sip_peer("silent", server_tls) as (_, port):
        checks = failed(await diagnose(world.settings.model_copy(update={"elevenlabs_sip_tls_port": port})))
    assert list(checks) == ["SIP OPTIONS to sip:+49301234567@localhost over TLS"]


async def test_untrusted_certificates(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")  # the self-signed CA is trusted by nobody
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    checks = failed(await diagnose(world.settings))
    gateway = checks[f"gateway {world.public_gateway.url}/healthz over HTTPS"]
    assert gateway.detail.startswith("certificate not valid")
    assert "valid certificate" in gateway.fix
    assert checks[f"TLS localhost:{world.settings.elevenlabs_sip_tls_port}"].detail.startswith(
        "certificate verify failed"
    )


async def test_gateway_not_healthy_and_services_not_ready(world: World) -> None:
    world.public_gateway.status = 503
    world.ready.status = 503
    checks = failed(await diagnose(world.settings))
    assert checks[f"gateway {world.public_gateway.url}/healthz over HTTPS"].detail == "answered 503"
    assert checks["local services ready"].detail.endswith("answered 503")


async def test_plain_http_public_url(world: World) -> None:
    checks = failed(await diagnose(world.settings.model_copy(update={"public_url": "http://ignis.example"})))
    assert (
        checks["gateway http://ignis.example/healthz over HTTPS"].detail
        == "not HTTPS: ElevenLabs requires https"
    )


async def test_a_tool_pointing_elsewhere(world: World) -> None:
    tool = next(t for t in world.elevenlabs.tools.values() if t["tool_config"]["name"] == "book_appointment")
    tool["tool_config"]["api_schema"]["url"] = "https://old-server.example/tools/book_appointment"
    check = failed(await diagnose(world.settings))[
        f"tools point at {world.public_gateway.url} with the tool secret"
    ]
    assert check.detail == "book_appointment: calls https://old-server.example/tools/book_appointment"
    assert "ignis provision" in check.fix


async def test_a_changed_tool_secret(world: World) -> None:
    checks = failed(await diagnose(world.settings.model_copy(update={"tool_secret": SecretStr("other")})))
    assert (
        "identify_patient: not the current tool secret"
        in checks[f"tools point at {world.public_gateway.url} with the tool secret"].detail
    )


async def test_agent_not_assigned_and_webhooks_missing(world: World) -> None:
    for number in world.elevenlabs.phone_numbers.values():
        number["agent_id"] = None
    world.elevenlabs.settings.pop("webhooks", None)
    world.elevenlabs.settings.pop("conversation_initiation_client_data_webhook", None)
    checks = failed(await diagnose(world.settings))
    assert checks["agent assigned to the number"].detail == "assigned: none"
    assert checks["post-call webhook"].detail == "not set for the workspace"
    assert checks["conversation-init webhook"].detail == "calls nothing"


async def test_wrong_api_key(world: World) -> None:
    checks = failed(
        await diagnose(world.settings.model_copy(update={"elevenlabs_api_key": SecretStr("sk_no")}))
    )
    assert checks["ElevenLabs API key"].detail == "refused (401)"


async def test_sipgate_token_and_web_sms(world: World) -> None:
    world.sipgate.web_sms_booked = False
    checks = failed(await diagnose(world.settings))
    assert list(checks) == ["sipgate Web SMS s0"]
    assert "book Web SMS" in checks["sipgate Web SMS s0"].fix
    wrong = world.settings.model_copy(
        update={"sipgate_token": SecretStr("00000000-0000-4000-8000-000000000000")}
    )
    checks = failed(await diagnose(wrong))
    assert checks["sipgate token"].detail == "refused (401)"


async def test_command_exit_codes(world: World) -> None:
    env = {
        "IGNIS_HOME": str(world.settings.home),
        "IGNIS_PRACTICE_FILE": str(DEMO_PRACTICE),
        "IGNIS_TOOL_SECRET": TOOL_SECRET,
        "IGNIS_ELEVENLABS_API_KEY": world.elevenlabs.api_key,
        "IGNIS_ELEVENLABS_API_URL": world.elevenlabs.url,
        "IGNIS_ELEVENLABS_SIP_HOST": "localhost",
        "IGNIS_ELEVENLABS_SIP_TCP_PORT": str(world.settings.elevenlabs_sip_tcp_port),
        "IGNIS_ELEVENLABS_SIP_TLS_PORT": str(world.settings.elevenlabs_sip_tls_port),
        "IGNIS_GATEWAY_PORT": str(world.ready.port),
        "IGNIS_SMS_PROVIDER": "sipgate",
        "IGNIS_SIPGATE_API_URL": world.sipgate.url,
        "IGNIS_SIPGATE_TOKEN_ID": sipgate_fake.TOKEN_ID,
        "IGNIS_SIPGATE_TOKEN": sipgate_fake.TOKEN,
        "IGNIS_SIP_USERNAME": "praxis-weber",
        "IGNIS_SIP_PASSWORD": SIP_PASSWORD,
    }
    runner = CliRunner()
    good = await asyncio.to_thread(
        runner.invoke, app, ["doctor", "--public-url", world.public_gateway.url], env=env
    )
    assert good.exit_code == 0, good.output
    assert f"All {CHECKS} checks passed." in good.output
    assert "✓ local services ready" in good.output
    assert TOOL_SECRET not in good.output
    world.ready.status = 503
    bad = await asyncio.to_thread(
        runner.invoke, app, ["doctor", "--public-url", world.public_gateway.url], env=env
    )
    assert bad.exit_code == 1
    assert "✗ local services ready" in bad.output
    assert "fix: see which service is down" in bad.output
    assert f"1 of {CHECKS} checks failed." in bad.output


async def test_sip_host_does_not_resolve(world: World) -> None:
    checks = failed(
        await diagnose(world.settings.model_copy(update={"elevenlabs_sip_host": "sip.nowhere.invalid"}))
    )
    dns = checks["DNS of sip.nowhere.invalid"]
    assert dns.detail.startswith("does not resolve")
    assert dns.fix == "check the DNS resolver of this machine"


async def test_an_auto_disabled_webhook_and_retries_off(world: World) -> None:
    [webhook_id] = world.elevenlabs.webhooks
    for _ in range(10):
        world.elevenlabs.deliver(webhook_id, 401)
    home = world.settings.home / "secrets.json"
    home.write_text(json.dumps(json.loads(home.read_text()) | {RETRIES_FOR: "another webhook"}))
    checks = failed(await diagnose(world.settings))
    delivering = checks["post-call webhook delivering"]
    assert delivering.detail.startswith("auto-disabled after repeated failures; last failure: 401 at ")
    assert "ignis reconcile-calls" in delivering.fix
    assert checks["post-call webhook retries"].detail == "not turned on for this webhook"


async def test_trunk_credentials_missing(world: World) -> None:
    number = next(iter(world.elevenlabs.phone_numbers.values()))
    number["inbound_trunk_config"].pop("credentials")
    number["outbound_trunk_config"].pop("credentials")
    checks = failed(await diagnose(world.settings))
    assert checks["inbound SIP digest authentication"].detail == "off"
    assert "IGNIS_SIP_USERNAME" in checks["inbound SIP digest authentication"].fix
    assert checks["outbound trunk credentials (sipgate)"].detail == "none"
    assert "IGNIS_SIP_REGISTRAR_USERNAME" in checks["outbound trunk credentials (sipgate)"].fix


@pytest.mark.parametrize(
    ("api_url", "sip_host", "outcome", "detail"),
    [
        (
            None,
            "sip.rtc.elevenlabs.io",
            "pass",
            "API api.elevenlabs.io (global), SIP sip.rtc.elevenlabs.io (global)",
        ),
        (
            "https://api.eu.residency.elevenlabs.io",
            "sip-static.rtc.eu.residency.elevenlabs.io",
            "pass",
            "API api.eu.residency.elevenlabs.io (eu), SIP sip-static.rtc.eu.residency.elevenlabs.io (eu)",
        ),
        (
            "https://api.eu.residency.elevenlabs.io",
            "sip.rtc.elevenlabs.io",
            "fail",
            "API api.eu.residency.elevenlabs.io (eu), SIP sip.rtc.elevenlabs.io (global)",
        ),
        ("http://127.0.0.1:8765", "localhost", "skip", "not ElevenLabs' own hosts (127.0.0.1, localhost)"),
    ],
)
def test_api_and_sip_edge_in_one_region(
    api_url: str | None, sip_host: str, outcome: str, detail: str, tmp_path: Path
) -> None:
    settings = ProvisionSettings(
        home=tmp_path, _env_file=None, elevenlabs_api_url=api_url, elevenlabs_sip_host=sip_host
    )
    check = Doctor(settings, load_practice(DEMO_PRACTICE)).region()
    assert (check.outcome, check.detail) == (outcome, detail)
    if outcome == "fail":
        assert "same region" in check.fix
