"""render.py: settings -> Kamailio config; the TLS, ElevenLabs-digest and SRTP variants pass `kamailio -c`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.sip_bridge.conftest import Bridge, render


def check_config(out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kamailio", "-c", "-f", str(out / "kamailio.cfg"), "-a", "no", "-Y", str(out / "run")],
        capture_output=True,
        text=True,
        check=False,
    )


def test_missing_credentials_name_the_variable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = Bridge(tmp_path).env()
    del env["IGNIS_SIP_REGISTRAR_PASSWORD"]
    assert render.main(["--out", str(tmp_path / "out")], environ=env) == 2
    assert "IGNIS_SIP_REGISTRAR_PASSWORD" in capsys.readouterr().err


def test_udp_transport_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = Bridge(tmp_path).env(IGNIS_SIP_BRIDGE_TRANSPORT="udp")
    assert render.main(["--out", str(tmp_path / "out")], environ=env) == 2
    assert "tcp or tls" in capsys.readouterr().err


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env = Bridge(tmp_path).env()
    number = env.pop("IGNIS_SIP_NUMBER")
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"# comment\nIGNIS_SIP_NUMBER='{number}'\nexport IGNIS_SIP_BRIDGE_PORT=1\n")
    out = tmp_path / "out"
    assert render.main(["--env-file", str(dotenv), "--out", str(out)], environ=env) == 0
    cfg = (out / "kamailio.cfg").read_text()
    assert f'#!define TARGET_URI "sip:{number}@{env["IGNIS_SIP_BRIDGE_TARGET"]}"' in cfg
    assert f"listen=udp:127.0.0.1:{env['IGNIS_SIP_BRIDGE_PORT']}" in cfg
    assert (out / "db" / "uacreg").stat().st_mode & 0o077 == 0
    assert r"s3cr\:et" in (out / "db" / "uacreg").read_text()


def test_production_defaults(tmp_path: Path) -> None:
    env = {
        "IGNIS_SIP_REGISTRAR_USERNAME": "1234567t0",
        "IGNIS_SIP_REGISTRAR_PASSWORD": "pw",
        "IGNIS_SIP_NUMBER": "+4930123456",
        "IGNIS_SIP_BRIDGE_ALLOWED": "217.10.64.0/20, 212.9.32.1",
        "IGNIS_SIP_BRIDGE_PUBLIC_ADDRESS": "203.0.113.7",
    }
    out = tmp_path / "out"
    assert render.main(["--out", str(out)], environ=env) == 0
    cfg = (out / "kamailio.cfg").read_text()
    assert '#!define TARGET_URI "sip:+4930123456@sip.rtc.elevenlabs.io"' in cfg
    assert '#!define COUNTRY_CODE "49"' in cfg
    assert '#!define TARGET_DST "sip:sip.rtc.elevenlabs.io:5060;transport=tcp"' in cfg
    assert '#!define ALLOWED_SUBNETS "217.10.64.0/20,212.9.32.1/32"' in cfg
    assert "listen=udp:0.0.0.0:5060 advertise 203.0.113.7:5060" in cfg
    assert "sip\\:sipconnect.sipgate.de" in (out / "db" / "uacreg").read_text()
    result = check_config(out)
    assert result.returncode == 0, result.stderr[-2000:]


def test_tls_and_elevenlabs_digest_config_is_valid(tmp_path: Path) -> None:
    if not shutil.which("openssl"):
        pytest.fail("this test needs openssl (apt-get install openssl) for a throw-away certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=bridge.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        check=True,
    )
    env = Bridge(tmp_path).env(
        IGNIS_SIP_BRIDGE_TRANSPORT="tls",
        IGNIS_SIP_BRIDGE_TARGET="sip.rtc.elevenlabs.io",
        IGNIS_SIP_BRIDGE_TLS_CERT=str(cert),
        IGNIS_SIP_BRIDGE_TLS_KEY=str(key),
        IGNIS_SIP_USERNAME="el-user",
        IGNIS_SIP_PASSWORD='p"w',
        IGNIS_SIP_BRIDGE_MEDIA="srtp",
    )
    out = tmp_path / "out"
    assert render.main(["--out", str(out)], environ=env) == 0
    cfg = (out / "kamailio.cfg").read_text()
    assert '#!define TARGET_DST "sip:sip.rtc.elevenlabs.io:5061;transport=tls"' in cfg
    assert "#!define WITH_TLS" in cfg
    assert "#!define WITH_TARGET_AUTH" in cfg
    assert "#!define WITH_SRTP" in cfg
    assert "server_name = sip.rtc.elevenlabs.io" in (out / "tls.cfg").read_text()
    result = check_config(out)
    assert result.returncode == 0, result.stderr[-2000:]


def test_tls_without_certificate_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = Bridge(tmp_path).env(IGNIS_SIP_BRIDGE_TRANSPORT="tls")
    assert render.main(["--out", str(tmp_path / "out")], environ=env) == 2
    assert "IGNIS_SIP_BRIDGE_TLS_CERT" in capsys.readouterr().err
