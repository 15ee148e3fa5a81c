"""The SIP bridge end to end on loopback: registration at "sipgate", calls to "ElevenLabs", rejections."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from ignis.practice.config import DEMO_PRACTICE, load_practice
from ignis.provision.doctor import Check, Doctor
from ignis.provision.settings import ProvisionSettings
from tests.sip_bridge.conftest import Bridge, options_ping, stop


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
        [check] = asyncio.run(Doctor(settings, load_practice(DEMO_PRACTICE)).bridge())
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
