"""Real SIP on loopback: the bridge (Kamailio, rendered by deploy/sip-bridge/render.py) between sipp
processes playing sipgate (registrar on UDP, caller on UDP) and ElevenLabs (callee on TCP).

Nothing is skipped: without `kamailio`, `kamcmd` or `sipp` on PATH the tests fail and say which
Debian package to install.
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

from ignis.kit.embedded import free_port
from ignis.provision import bridge_status as status

ROOT = Path(__file__).parents[2]
BRIDGE_DIR = ROOT / "deploy" / "sip-bridge"
SCENARIOS = Path(__file__).parent / "scenarios"

SIP_USER = "1234567t0"
SIP_PASSWORD = "s3cr:et"  # the registrar scenario checks exactly these (a ':' tests db_text escaping)
NUMBER = "+49301234567"
# What sipgate sends by default: the caller in E.164 without "+" (display name and user), the practice's
# number likewise (help.sipgate.de, trunking caller ID; sipgate's API uses this form everywhere).
CALLER = '"4915112345678" <sip:4915112345678@sipconnect.sipgate.de>'
CALLEE = "<sip:49301234567@sipconnect.sipgate.de>"

TOOLS = {"kamailio": "kamailio", "kamcmd": "kamailio", "sipp": "sip-tester", "rtpengine": "rtpengine-daemon"}


def load_script(name: str) -> ModuleType:
    """deploy/sip-bridge/<name>.py as a module (the folder name is not importable)."""
    spec = importlib.util.spec_from_file_location(f"sip_bridge_{name}", BRIDGE_DIR / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


render = load_script("render")


@pytest.fixture(scope="session", autouse=True)
def sip_tools() -> None:
    missing = [f"{tool} (apt-get install {pkg})" for tool, pkg in TOOLS.items() if not shutil.which(tool)]
    if not list(Path("/usr/lib").glob("*/kamailio/modules/tls.so")):
        missing.append("Kamailio's TLS module (apt-get install kamailio-tls-modules)")
    if not list(Path("/usr/lib").glob("*/kamailio/modules/rtpengine.so")):
        missing.append("Kamailio's rtpengine module (apt-get install kamailio)")
    if missing:
        pytest.fail("the SIP bridge tests need " + ", ".join(missing), pytrace=False)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End a process this suite started (its own process group), politely first."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@dataclass
class Sipp:
    proc: subprocess.Popen[bytes]
    workdir: Path
    name: str

    def finish(self, timeout: float = 20) -> tuple[int, str]:
        """Wait for sipp to end: its exit status and its error trace."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stop(self.proc)
        errors = "\n".join(
            p.read_text(errors="replace") for p in self.workdir.glob(f"{self.name}_*_errors.log")
        )
        return self.proc.returncode, errors

    def assert_passed(self, timeout: float = 20) -> None:
        rc, errors = self.finish(timeout)
        assert rc == 0, f"sipp {self.name} failed (exit {rc}):\n{errors[-3000:]}"

    def received(self) -> list[SipMessage]:
        """The SIP messages this sipp received, in order (from its -trace_msg log)."""
        log = "\n".join(
            p.read_text(errors="replace") for p in self.workdir.glob(f"{self.name}_*_messages.log")
        )
        return [SipMessage.parse(part) for part in RECEIVED.findall(log)]


RECEIVED = re.compile(r"message received \[\d+\] bytes :\n\n(.*?)(?=\n-{20,}|\Z)", re.S)


@dataclass(frozen=True)
class SipMessage:
    start: str  # request or status line
    headers: list[tuple[str, str]]
    body: str

    @classmethod
    def parse(cls, text: str) -> SipMessage:
        head, _, body = text.replace("\r\n", "\n").partition("\n\n")
        start, *lines = head.split("\n")
        pairs = [line.partition(":") for line in lines if ":" in line]
        return cls(start, [(name.strip().lower(), value.strip()) for name, _, value in pairs], body)

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name.lower()), None)

    def uri(self, name: str) -> str | None:
        """The URI of a From/To-like header, without display name and parameters."""
        value = self.header(name)
        match = re.search(r"<([^>]*)>", value) if value else None
        return match.group(1) if match else (value.split(";")[0] if value else None)


def sipp(workdir: Path, scenario: str, *args: str, timeout: int = 15) -> Sipp:
    """Start sipp with a scenario of scenarios/; it runs one call and leaves its traces in workdir."""
    run_dir = workdir / f"sipp-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir()
    cmd = [
        "sipp",
        "-sf",
        str(SCENARIOS / f"{scenario}.xml"),
        "-m",
        "1",
        "-timeout",
        f"{timeout}s",
        "-trace_err",
        "-trace_msg",
        "-nostdin",
        *args,
    ]
    proc = subprocess.Popen(
        cmd, cwd=run_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    return Sipp(proc, run_dir, scenario)


def options_ping(port: int, timeout: float = 0.5) -> str | None:
    """Send an OPTIONS over UDP to the bridge; its status line, or None without answer."""
    call_id = uuid.uuid4().hex
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        local = sock.getsockname()[1]
        msg = (
            f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{call_id[:10]}\r\n"
            f"From: <sip:probe@127.0.0.1>;tag={call_id[:6]}\r\nTo: <sip:127.0.0.1:{port}>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        sock.sendto(msg.encode(), ("127.0.0.1", port))
        try:
            data = sock.recv(65535)
        except TimeoutError:
            return None
    return data.decode(errors="replace").split("\r\n", 1)[0]


@dataclass
class Bridge:
    """A rendered and running bridge on 127.0.0.1."""

    workdir: Path
    port: int = field(default_factory=free_port)
    registrar_port: int = field(default_factory=free_port)
    elevenlabs_port: int = field(default_factory=free_port)
    ng_port: int = field(default_factory=lambda: free_port())
    rtp_low: int = field(default_factory=lambda: random.randrange(20000, 29000, 100))
    proc: subprocess.Popen[bytes] | None = None
    media: subprocess.Popen[bytes] | None = None

    @property
    def out(self) -> Path:
        return self.workdir / "bridge"

    @property
    def log(self) -> Path:
        return self.workdir / "kamailio.log"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            "IGNIS_SIP_REGISTRAR": f"127.0.0.1:{self.registrar_port}",
            "IGNIS_SIP_REGISTRAR_USERNAME": SIP_USER,
            "IGNIS_SIP_REGISTRAR_PASSWORD": SIP_PASSWORD,
            "IGNIS_SIP_REGISTRAR_EXPIRES": "10",
            "IGNIS_SIP_BRIDGE_REG_TIMER_SECONDS": "1",
            "IGNIS_SIP_BRIDGE_REG_RETRY_SECONDS": "2",
            "IGNIS_SIP_NUMBER": NUMBER,
            "IGNIS_SIP_BRIDGE_TARGET": f"127.0.0.1:{self.elevenlabs_port}",
            "IGNIS_SIP_BRIDGE_TRANSPORT": "tcp",
            "IGNIS_SIP_BRIDGE_ALLOWED": "127.0.0.1/32",
            "IGNIS_SIP_BRIDGE_LISTEN": "127.0.0.1",
            "IGNIS_SIP_BRIDGE_PORT": str(self.port),
            "IGNIS_SIP_BRIDGE_MEDIA": "relay",
            "IGNIS_SIP_BRIDGE_RTPENGINE_NG_PORT": str(self.ng_port),
            "IGNIS_SIP_BRIDGE_RTP_PORTS": f"{self.rtp_low}-{self.rtp_low + 99}",
        }
        env.update(overrides)
        return env

    def start(self, **overrides: str) -> None:
        assert render.main(["--out", str(self.out)], environ=self.env(**overrides)) == 0
        if self.env(**overrides)["IGNIS_SIP_BRIDGE_MEDIA"] == "srtp":
            self.start_media()
        cmd = render.kamailio_command(self.out)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"kamailio exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            if options_ping(self.port, 0.2):
                return
        pytest.fail(f"kamailio did not answer OPTIONS within 10 s:\n{self.log.read_text()[-3000:]}")

    def start_media(self) -> None:
        """rtpengine as render.py configured it, answering ng pings before Kamailio starts."""
        with (self.workdir / "rtpengine.log").open("wb") as log:
            self.media = subprocess.Popen(
                render.rtpengine_command(self.out),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.media.poll() is not None:
                pytest.fail(f"rtpengine exited {self.media.returncode}:\n{self.media_log()[-3000:]}")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(0.2)
                sock.sendto(b"probe d7:command4:pinge", ("127.0.0.1", self.ng_port))
                try:
                    if b"pong" in sock.recv(1000):
                        return
                except OSError:
                    time.sleep(0.1)
        pytest.fail(f"rtpengine did not answer on its ng port within 10 s:\n{self.media_log()[-3000:]}")

    def media_log(self) -> str:
        return (self.workdir / "rtpengine.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
        if self.media is not None:
            stop(self.media)

    def reg_state(self) -> status.RegState:
        return status.query(f"unix:{self.out / 'run' / 'kamailio_ctl'}")

    def wait_reg(self, registered: bool, timeout: float = 8) -> status.RegState:
        deadline = time.monotonic() + timeout
        state = self.reg_state()
        while state.registered != registered and time.monotonic() < deadline:
            time.sleep(0.2)
            state = self.reg_state()
        return state

    def registrar(self) -> Sipp:
        """sipp playing sipgate's registrar (UDP) on registrar_port."""
        return sipp(self.workdir, "registrar", "-i", "127.0.0.1", "-p", str(self.registrar_port), timeout=30)

    def elevenlabs(self, scenario: str, *args: str) -> Sipp:
        """sipp playing ElevenLabs (TCP) on elevenlabs_port, listening once this returns."""
        uas = sipp(
            self.workdir, scenario, "-t", "t1", "-i", "127.0.0.1", "-p", str(self.elevenlabs_port), *args
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.elevenlabs_port), timeout=0.2):
                    return uas
            except OSError:
                time.sleep(0.05)
        pytest.fail("sipp (ElevenLabs) did not listen")

    def sipgate(
        self,
        scenario: str,
        source: str = "127.0.0.1",
        *,
        caller: str = CALLER,
        callee: str = CALLEE,
        privacy: str = "none",
        args: tuple[str, ...] = (),
    ) -> Sipp:
        """sipp playing sipgate sending to the bridge over UDP from source, with these From/To/Privacy."""
        keys = ("-key", "caller", caller, "-key", "callee", callee, "-key", "privacy", privacy, *args)
        return sipp(
            self.workdir,
            scenario,
            "-i",
            source,
            "-p",
            str(free_port(source)),
            *keys,
            f"127.0.0.1:{self.port}",
        )


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """One registered bridge for the call tests of a module (media relayed: SDP untouched)."""
    yield from registered(Bridge(tmp_path_factory.mktemp("sip-bridge")))


@pytest.fixture(scope="module")
def srtp_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """A registered bridge that anchors media in rtpengine: plain RTP to sipgate, SRTP to ElevenLabs."""
    yield from registered(Bridge(tmp_path_factory.mktemp("sip-bridge-srtp")), IGNIS_SIP_BRIDGE_MEDIA="srtp")


def registered(b: Bridge, **overrides: str) -> Iterator[Bridge]:
    registrar = b.registrar()
    try:
        b.start(**overrides)
        state = b.wait_reg(True)
        assert state.registered, state.detail
        yield b
    finally:
        b.stop()
        stop(registrar.proc)
