"""The SIP bridge end to end on loopback: registration at "sipgate", calls to "ElevenLabs", rejections."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ignis.practice.config import DEMO_PRACTICE, load_practice
from ignis.provision.doctor import Check, Doctor
from ignis.provision.settings import ProvisionSettings
from tests.sip_bridge.conftest import CALLEE, CALLER, NUMBER, Bridge, SipMessage, options_ping, stop


def test_registers_with_digest_and_reregisters_before_expiry(tmp_path: Path) -> None:
    b = Bridge(tmp_path)
    registrar = b.registrar()
    b.start()
    try:
        state = b.wait_reg(True)
        assert state.registered, state.detail
        # The scenario challenges, checks the digest, grants 10 s, and then demands a second (again
        # challenged) REGISTER before those 10 s are over; it only exits 0 if all of that happened.
        registrar.assert_passed(timeout=15)
        state = b.reg_state()
        assert state.registered, state.detail
        assert "expires in 2" in state.detail or "expires in 3" in state.detail  # the renewed 300 s
        script = subprocess.run(
            [sys.executable, "-m", "ignis.provision.bridge_status", "--out", str(b.out)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert script.returncode == 0, script.stdout + script.stderr
        assert script.stdout.startswith("registered at 127.0.0.1")
        assert "s3cr" not in script.stdout
    finally:
        b.stop()
        stop(registrar.proc)


def test_wrong_credentials_leave_the_bridge_unregistered(tmp_path: Path) -> None:
    b = Bridge(tmp_path)
    registrar = b.registrar()
    b.start(IGNIS_SIP_REGISTRAR_PASSWORD="wrong")
    try:
        rc, errors = registrar.finish(timeout=10)  # the registrar answered the bad digest with 403
        assert rc == 0, errors
        state = b.wait_reg(False)
        assert not state.registered
        assert state.detail.startswith("unregistered at 127.0.0.1"), state.detail
        script = subprocess.run(
            [sys.executable, "-m", "ignis.provision.bridge_status", "--out", str(b.out)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert script.returncode == 1, script.stdout + script.stderr
        assert script.stdout.startswith("unregistered")
    finally:
        b.stop()
        stop(registrar.proc)


def test_status_without_a_running_bridge(tmp_path: Path) -> None:
    script = subprocess.run(
        [sys.executable, "-m", "ignis.provision.bridge_status", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert script.returncode == 2
    assert script.stdout.startswith("bridge not reachable")


def test_answers_options(bridge: Bridge) -> None:
    assert options_ping(bridge.port) == "SIP/2.0 200 OK"


def test_call_is_forwarded_and_caller_hangs_up(bridge: Bridge) -> None:
    """INVITE with Request-URI sip:+49301234567@<target>, over TCP, Record-Route; ACK, re-INVITE, BYE."""
    elevenlabs = bridge.elevenlabs("elevenlabs_answer")
    sipgate = bridge.sipgate("sipgate_call")
    sipgate.assert_passed()
    elevenlabs.assert_passed()


def test_elevenlabs_transfers_and_hangs_up(bridge: Bridge) -> None:
    """REFER and BYE from ElevenLabs reach sipgate over UDP through the bridge."""
    elevenlabs = bridge.elevenlabs("elevenlabs_refer_bye")
    sipgate = bridge.sipgate("sipgate_call_callee_bye")
    sipgate.assert_passed()
    elevenlabs.assert_passed()


def test_cancel_before_answer(bridge: Bridge) -> None:
    elevenlabs = bridge.elevenlabs("elevenlabs_cancelled")
    sipgate = bridge.sipgate("sipgate_cancel")
    sipgate.assert_passed()
    elevenlabs.assert_passed()


def test_invite_from_a_foreign_address_is_rejected(bridge: Bridge) -> None:
    foreign = bridge.sipgate("foreign_invite", source="127.0.0.2")
    foreign.assert_passed()  # the scenario expects the 403
    assert "INVITE from 127.0.0.2" in bridge.log.read_text()


@pytest.mark.parametrize("scenario", ["elevenlabs_answer"])
def test_ruri_assertion_really_checks(bridge: Bridge, tmp_path: Path, scenario: str) -> None:
    """The ElevenLabs scenario fails when the number differs: the forwarding tests are not vacuous."""
    wrong = tmp_path / "scenario.xml"
    text = (Path(__file__).parent / "scenarios" / f"{scenario}.xml").read_text()
    wrong.write_text(text.replace(r"\+49301234567", r"\+49301234568"))
    uas = subprocess.Popen(
        [
            "sipp",
            "-sf",
            str(wrong),
            "-t",
            "t1",
            "-i",
            "127.0.0.1",
            "-p",
            str(bridge.elevenlabs_port),
            "-m",
            "1",
            "-timeout",
            "10s",
            "-nostdin",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        sipgate = bridge.sipgate("sipgate_call")
        sipgate.finish(timeout=20)
        assert uas.wait(20) != 0
    finally:
        stop(uas)


def test_doctor_reports_the_bridge_registration(tmp_path: Path) -> None:
    """`ignis doctor` with IGNIS_SIP_BRIDGE_DIR: registered passes; wrong credentials and no bridge fail."""

    def bridge_check(folder: Path) -> Check:
        settings = ProvisionSettings(home=tmp_path, sip_bridge_dir=folder, _env_file=None)
        check, _media = asyncio.run(Doctor(settings, load_practice(DEMO_PRACTICE)).bridge())
        return check

    missing = bridge_check(tmp_path / "nowhere")
    assert (missing.outcome, missing.name) == ("fail", "SIP bridge")
    assert missing.detail.startswith("not reachable")

    for password, outcome in (("wrong", "fail"), (None, "pass")):
        (workdir := tmp_path / f"b-{outcome}").mkdir()
        b = Bridge(workdir)
        registrar = b.registrar()
        b.start(**({"IGNIS_SIP_REGISTRAR_PASSWORD": password} if password else {}))
        try:
            b.wait_reg(outcome == "pass")
            check = bridge_check(b.out)
            assert (check.name, check.outcome) == ("SIP bridge registered at sipgate", outcome), check.detail
            assert ("registered at 127.0.0.1" if outcome == "pass" else "unregistered") in check.detail
        finally:
            b.stop()
            stop(registrar.proc)


@dataclass(frozen=True)
class Shape:
    """From/To/Privacy as sipgate may send them, and the caller ElevenLabs must then be told."""

    caller: str
    callee: str
    from_uri: str  # the From URI ElevenLabs receives
    caller_id: str | None  # its X-CALLER-ID; None: no such header
    privacy: str = "none"


ANONYMOUS = "sip:anonymous@anonymous.invalid"
SHAPES = {
    "e164-without-plus": Shape(CALLER, CALLEE, "sip:+4915112345678@sipconnect.sipgate.de", "+4915112345678"),
    "sip-id-to-national-from": Shape(
        "<sip:03012345678@sipgate.de>",
        "<sip:1234567e0@sipgate.de>",
        "sip:+493012345678@sipgate.de",
        "+493012345678",
    ),
    "national-to-0049-from": Shape(
        '"Praxis Nord" <sip:004915112345678@sipconnect.sipgate.de>',
        "<sip:0301234567@sipconnect.sipgate.de>",
        "sip:+4915112345678@sipconnect.sipgate.de",
        "+4915112345678",
    ),
    "plus-e164-both": Shape(
        "<sip:+4915112345678@sipconnect.sipgate.de;user=phone>",
        '"Praxis" <sip:+49301234567@sipconnect.sipgate.de;user=phone>',
        "sip:+4915112345678@sipconnect.sipgate.de",
        "+4915112345678",
    ),
    "anonymous-invalid": Shape(
        '"Anonymous" <sip:anonymous@anonymous.invalid>',
        "<sip:0049301234567@sipconnect.sipgate.de>",
        ANONYMOUS,
        None,
    ),
    "anonymous-user": Shape("<sip:anonymous@sipconnect.sipgate.de>", CALLEE, ANONYMOUS, None),
    "privacy-id": Shape(CALLER, CALLEE, ANONYMOUS, None, privacy="id"),
    "sip-id-caller": Shape("<sip:1234567e0@sipgate.de>", CALLEE, "sip:1234567e0@sipgate.de", None),
}


def uri_of(header: str) -> str:
    return SipMessage.parse(f"X\nH: {header}\n\n").uri("H") or ""


def requests(messages: list[SipMessage], method: str) -> list[SipMessage]:
    return [m for m in messages if m.start.startswith(f"{method} ")]


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_elevenlabs_sees_the_imported_number_and_the_caller_in_e164(bridge: Bridge, shape: Shape) -> None:
    """Issue 14 (5): To is the number as imported (LiveKit matches on To), From the caller in E.164 or
    anonymous, X-CALLER-ID only for a known caller; sipgate gets its own From/To back in the replies,
    and the re-INVITE and BYE sipgate sends later reach ElevenLabs rewritten the same way."""
    elevenlabs = bridge.elevenlabs("elevenlabs_answer")
    sipgate = bridge.sipgate("sipgate_call", caller=shape.caller, callee=shape.callee, privacy=shape.privacy)
    sipgate.assert_passed()
    elevenlabs.assert_passed()

    received = elevenlabs.received()
    invite, reinvite = requests(received, "INVITE")
    [bye] = requests(received, "BYE")
    for request in (invite, reinvite, bye):
        assert request.uri("To") == f"sip:{NUMBER}@127.0.0.1:{bridge.elevenlabs_port}", request.start
        assert request.uri("From") == shape.from_uri, request.start
    assert invite.header("X-CALLER-ID") == shape.caller_id
    if shape.caller_id is None:
        assert "15112345678" not in "\n".join(value for _, value in invite.headers if "vsf=" not in value)

    ok = next(
        m for m in sipgate.received() if m.start.startswith("SIP/2.0 200") and "INVITE" in m.header("CSeq")
    )
    assert (ok.uri("From"), ok.uri("To")) == (uri_of(shape.caller), uri_of(shape.callee))


@pytest.mark.parametrize(
    "shape", [SHAPES["sip-id-to-national-from"], SHAPES["privacy-id"]], ids=["number", "withheld"]
)
def test_elevenlabs_requests_reach_sipgate_with_its_own_from_and_to(bridge: Bridge, shape: Shape) -> None:
    """REFER and BYE from ElevenLabs carry the rewritten dialog; the bridge turns them back into sipgate's."""
    elevenlabs = bridge.elevenlabs("elevenlabs_refer_bye")
    sipgate = bridge.sipgate(
        "sipgate_call_callee_bye", caller=shape.caller, callee=shape.callee, privacy=shape.privacy
    )
    sipgate.assert_passed()
    elevenlabs.assert_passed()
    received = sipgate.received()
    for request in (*requests(received, "REFER"), *requests(received, "BYE")):
        assert (request.uri("From"), request.uri("To")) == (uri_of(shape.callee), uri_of(shape.caller))
    assert len(requests(received, "REFER")) == len(requests(received, "BYE")) == 1
