"""Issue 14 (6): with IGNIS_SIP_BRIDGE_MEDIA=srtp, rtpengine anchors the media of every call: sipgate
offers and gets plain RTP, ElevenLabs (set to require encryption) gets SRTP with SDES keys, the codecs
pass unchanged, and audio really crosses the bridge in both directions, encrypted only towards ElevenLabs.

The sipp scenarios check the SDP; the media addresses in it are sockets of this test, which sends RTP as
sipgate and SRTP as ElevenLabs and checks what arrives on the other side."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ignis.practice.config import DEMO_PRACTICE, load_practice
from ignis.provision.doctor import Doctor
from ignis.provision.settings import ProvisionSettings
from tests.sip_bridge.conftest import Bridge, SipMessage, Sipp, render
from tests.sip_bridge.srtp import SrtpKey, rtp

PCMA = bytes(range(0x50, 0x50 + 160))  # one 20 ms PCMA frame, recognisable after the relay
MEDIA = re.compile(r"c=IN IP4 (\S+).*?m=audio (\d+) ", re.S)


@contextmanager
def udp_socket() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(2)
        yield sock


def media_address(message: SipMessage) -> tuple[str, int]:
    match = MEDIA.search(message.body)
    assert match, f"no media address in\n{message.body}"
    return match.group(1), int(match.group(2))


def wait_for(sipp: Sipp, start: str, timeout: float = 8) -> SipMessage:
    """The first message sipp received whose first line starts with `start` (its trace is live)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in sipp.received() if m.start.startswith(start) and m.body]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"sipp {sipp.name} received no {start!r} with SDP within {timeout} s")


def receive(sock: socket.socket, count: int) -> list[bytes]:
    packets = []
    try:
        while len(packets) < count:
            packets.append(sock.recv(2048))
    except TimeoutError:
        pass
    return packets


def test_plain_rtp_from_sipgate_is_srtp_towards_elevenlabs_and_back(srtp_bridge: Bridge) -> None:
    el_key = SrtpKey(os.urandom(16), os.urandom(14))
    with udp_socket() as sipgate_media, udp_socket() as elevenlabs_media:
        elevenlabs = srtp_bridge.elevenlabs(
            "elevenlabs_srtp",
            *("-key", "el_media_port", str(elevenlabs_media.getsockname()[1])),
            *("-key", "el_key", el_key.inline()),
        )
        sipgate = srtp_bridge.sipgate(
            "sipgate_media", args=("-key", "sg_media_port", str(sipgate_media.getsockname()[1]))
        )
        offer = wait_for(elevenlabs, "INVITE ")
        answer = wait_for(sipgate, "SIP/2.0 200")

        # What sipgate gets: plain RTP/AVP, ElevenLabs' codec choice, no keys, rtpengine's address.
        assert re.search(r"^m=audio \d+ RTP/AVP 8 101$", answer.body, re.M), answer.body
        assert "a=crypto" not in answer.body
        assert "a=fingerprint" not in answer.body
        assert media_address(answer) != ("127.0.0.1", elevenlabs_media.getsockname()[1])
        # What ElevenLabs gets: sipgate's codecs in sipgate's order, over SRTP with an SDES key.
        assert re.search(r"^m=audio \d+ RTP/SAVP 9 8 0 101$", offer.body, re.M), offer.body
        assert media_address(offer) != ("127.0.0.1", sipgate_media.getsockname()[1])
        suites = re.findall(r"^a=crypto:(\d+) (\S+) inline:", offer.body, re.M)
        assert suites == [("1", "AES_CM_128_HMAC_SHA1_80"), ("2", "AES_CM_128_HMAC_SHA1_32")]
        bridge_key = SrtpKey.from_sdp(offer.body)

        # sipgate -> ElevenLabs: 20 plain RTP packets in, SRTP under the bridge's offered key out.
        ssrc = 0x5167A7E0
        for seq in range(1, 21):
            sipgate_media.sendto(rtp(seq, seq * 160, ssrc, PCMA), media_address(answer))
            time.sleep(0.02)
        to_elevenlabs = receive(elevenlabs_media, 20)
        assert len(to_elevenlabs) >= 15, f"{len(to_elevenlabs)} of 20 packets reached ElevenLabs"
        for packet in to_elevenlabs:
            assert len(packet) == 12 + len(PCMA) + 10  # the HMAC-SHA1-80 tag of SRTP
            assert PCMA not in packet  # encrypted
            assert bridge_key.unprotect(packet)[12:] == PCMA

        # ElevenLabs -> sipgate: SRTP under ElevenLabs' answered key in, plain RTP out.
        for seq in range(1, 21):
            plain = rtp(seq, seq * 160, 0xE1E7E1AB, PCMA[::-1])
            elevenlabs_media.sendto(el_key.protect(plain), media_address(offer))
            time.sleep(0.02)
        to_sipgate = receive(sipgate_media, 20)
        assert len(to_sipgate) >= 15, f"{len(to_sipgate)} of 20 packets reached sipgate"
        assert all(packet[12:] == PCMA[::-1] for packet in to_sipgate)

        sipgate.assert_passed()  # re-INVITE (again RTP/AVP back) and BYE
        elevenlabs.assert_passed()  # the re-offer again RTP/SAVP with a=crypto


def test_elevenlabs_scenario_refuses_plain_rtp(bridge: Bridge) -> None:
    """The SRTP-requiring "ElevenLabs" fails on the relayed (plain RTP) offer: its check is real."""
    with udp_socket() as sipgate_media:
        elevenlabs = bridge.elevenlabs("elevenlabs_srtp", "-key", "el_media_port", "9", "-key", "el_key", "x")
        bridge.sipgate("sipgate_media", args=("-key", "sg_media_port", str(sipgate_media.getsockname()[1])))
        rc, errors = elevenlabs.finish(timeout=20)
    assert rc != 0
    assert "RTP/SAVP" in errors


def test_media_defaults_to_srtp_where_rtpengine_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = Bridge(tmp_path).env()
    del env["IGNIS_SIP_BRIDGE_MEDIA"]
    out = tmp_path / "out"
    assert render.main(["--out", str(out)], environ=env) == 0
    assert "#!define WITH_SRTP" in (out / "kamailio.cfg").read_text()
    assert "table = -1" in (out / "rtpengine.conf").read_text()
    assert "rtpengine --config-file=" in capsys.readouterr().out

    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    assert render.main(["--out", str(out)], environ=env) == 0
    assert "#!define WITH_SRTP" not in (out / "kamailio.cfg").read_text()
    assert "IGNIS_SIP_MEDIA_ENCRYPTION=allowed" in capsys.readouterr().out
    assert render.main(["--out", str(out)], environ=env | {"IGNIS_SIP_BRIDGE_MEDIA": "srtp"}) == 2
    assert "apt-get install rtpengine-daemon" in capsys.readouterr().err


def test_late_offer_from_elevenlabs_is_plain_to_sipgate_and_the_answer_srtp(srtp_bridge: Bridge) -> None:
    """INVITE without SDP: ElevenLabs' SRTP offer in the 200 reaches sipgate as plain RTP, sipgate's plain
    answer in the ACK reaches ElevenLabs as SRTP, and RTP from sipgate arrives there as SRTP."""
    el_key = SrtpKey(os.urandom(16), os.urandom(14))
    with udp_socket() as sipgate_media, udp_socket() as elevenlabs_media:
        elevenlabs = srtp_bridge.elevenlabs(
            "elevenlabs_late_offer",
            *("-key", "el_media_port", str(elevenlabs_media.getsockname()[1])),
            *("-key", "el_key", el_key.inline()),
        )
        sipgate = srtp_bridge.sipgate(
            "sipgate_late_offer", args=("-key", "sg_media_port", str(sipgate_media.getsockname()[1]))
        )
        offer = wait_for(sipgate, "SIP/2.0 200")
        assert "a=crypto" not in offer.body
        answer = wait_for(elevenlabs, "ACK ")
        for seq in range(1, 11):
            sipgate_media.sendto(rtp(seq, seq * 160, 0x5167A7E1, PCMA), media_address(offer))
            time.sleep(0.02)
        arrived = receive(elevenlabs_media, 10)
        assert len(arrived) >= 8, f"{len(arrived)} of 10 packets reached ElevenLabs"
        assert all(SrtpKey.from_sdp(answer.body).unprotect(p)[12:] == PCMA for p in arrived)
        sipgate.assert_passed()
        elevenlabs.assert_passed()


@pytest.mark.parametrize(
    ("media", "encryption", "outcome"),
    [
        ("srtp", "required", "pass"),
        ("srtp", "allowed", "pass"),
        ("srtp", "disabled", "fail"),
        ("relay", "allowed", "pass"),
        ("relay", "required", "fail"),
    ],
)
def test_doctor_says_whether_the_media_encryption_fits_the_bridge(
    tmp_path: Path, media: str, encryption: str, outcome: str
) -> None:
    """`ignis doctor`: a number imported with SRTP required behind a bridge that relays sipgate's plain RTP
    (or SRTP disabled behind one that offers SRTP) would have calls without audio; it says so and why."""
    out = tmp_path / "bridge"
    env = Bridge(tmp_path).env(IGNIS_SIP_BRIDGE_MEDIA="srtp")
    assert render.main(["--out", str(out)], environ=env) == 0  # a relay render must drop its rtpengine.conf
    assert render.main(["--out", str(out)], environ=env | {"IGNIS_SIP_BRIDGE_MEDIA": media}) == 0
    settings = ProvisionSettings(
        home=tmp_path, sip_bridge_dir=out, sip_media_encryption=encryption, _env_file=None
    )
    _registration, check = asyncio.run(Doctor(settings, load_practice(DEMO_PRACTICE)).bridge())
    assert (check.name, check.outcome) == (f"SIP media encryption {encryption} fits the bridge", outcome)
    assert ("SRTP" if media == "srtp" else "plain RTP") in check.detail
    if outcome == "fail":
        assert "IGNIS_SIP_MEDIA_ENCRYPTION=" in check.fix
