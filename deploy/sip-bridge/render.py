#!/usr/bin/env python3
"""Render the Ignis SIP bridge's Kamailio configuration from the IGNIS_* settings (stdlib only).

    python3 deploy/sip-bridge/render.py [--env-file .env] [--out DIR]

reads the settings from the environment (which wins) and the optional `.env` file, and writes to DIR
(default `$IGNIS_HOME/sip-bridge`, IGNIS_HOME defaulting to `.ignis`):

* `kamailio.cfg`   - the template `kamailio.cfg.in` with the settings prepended as `#!define`s;
* `db/uacreg`      - the registration at sipgate (db_text table, mode 0600: it holds the password);
* `tls.cfg`        - only with IGNIS_SIP_BRIDGE_TRANSPORT=tls;
* `rtpengine.conf` - only with IGNIS_SIP_BRIDGE_MEDIA=srtp: the media relay that turns sipgate's plain RTP
                     into SRTP towards ElevenLabs (run it with `--run-media`, or the printed command);
* `run/`           - Kamailio's runtime dir; the control socket `run/kamailio_ctl` is where
                     `status.py` asks for the registration state.

It prints the commands that start Kamailio (and rtpengine). Exit status 2 and a message naming the
variable when a setting is missing or wrong.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import os
import shlex
import shutil
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "kamailio.cfg.in"
REG_ID = "ignis"  # l_uuid of the registration record; status.py asks for it
DEFAULT_CA = "/etc/ssl/certs/ca-certificates.crt"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable and the fix."""


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int | None

    def with_port(self, default: int) -> str:
        return f"{self.host}:{self.port or default}"

    def __str__(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Settings:
    registrar: HostPort
    registrar_username: str
    registrar_password: str
    registrar_expires: int
    reg_retry_seconds: int
    reg_timer_seconds: int
    number: str
    country_code: str
    target: HostPort
    transport: str
    allowed: tuple[str, ...]
    listen: str
    port: int
    tls_port: int
    public_address: str | None
    tls_cert: str | None
    tls_key: str | None
    tls_ca: str
    tls_verify: bool
    target_auth: tuple[str, str] | None
    media: str  # "srtp": anchored by rtpengine, SRTP towards ElevenLabs; "relay": SDP untouched
    rtp_interface: str
    rtp_ports: tuple[int, int]
    rtpengine_ng_port: int


def parse_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file; comments, blank lines and `export ` prefixes are ignored."""
    values: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _host_port(value: str, name: str) -> HostPort:
    value = value.strip().removeprefix("sip:")
    host, sep, port = value.rpartition(":")
    if not sep:
        return HostPort(value, None)
    if not port.isdigit() or not host:
        raise SettingsError(f"{name}={value!r}: expected host or host:port")
    return HostPort(host, int(port))


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name}={value}: must be at least {minimum}")
    return value


def _required(env: Mapping[str, str], name: str, what: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"set {name} ({what})")
    return value


def resolve_allowed(spec: str, name: str) -> tuple[str, ...]:
    """Comma-separated addresses, CIDRs or host names -> CIDRs (host names resolved now, IPv4 and IPv6)."""
    subnets: list[str] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        try:
            subnets.append(str(ipaddress.ip_network(item, strict=False)))
            continue
        except ValueError:
            pass
        try:
            infos = socket.getaddrinfo(item, None, proto=socket.IPPROTO_UDP)
        except OSError as exc:
            raise SettingsError(f"{name}: cannot resolve {item!r} ({exc})") from None
        for info in infos:
            subnets.append(str(ipaddress.ip_network(info[4][0])))
    unique = tuple(dict.fromkeys(subnets))
    if not unique:
        raise SettingsError(f"{name} is empty: name sipgate's source addresses")
    return unique


def load_settings(env: Mapping[str, str]) -> Settings:
    registrar = _host_port(env.get("IGNIS_SIP_REGISTRAR") or "sipconnect.sipgate.de", "IGNIS_SIP_REGISTRAR")
    number = _required(
        env, "IGNIS_SIP_NUMBER", "the number exactly as imported at ElevenLabs, e.g. +4930123456"
    )
    if any(ch in number for ch in ' "@:;<>'):
        raise SettingsError(f"IGNIS_SIP_NUMBER={number!r}: only the number (digits, optionally a leading +)")
    country_code = (env.get("IGNIS_SIP_BRIDGE_COUNTRY_CODE") or "49").strip().removeprefix("+")
    if not (country_code.isdigit() and 1 <= len(country_code) <= 3 and country_code[0] != "0"):
        raise SettingsError(
            f"IGNIS_SIP_BRIDGE_COUNTRY_CODE={country_code!r}: the country calling code for national "
            "caller numbers (0...), e.g. 49"
        )
    transport = (env.get("IGNIS_SIP_BRIDGE_TRANSPORT") or "tcp").strip().lower()
    if transport not in ("tcp", "tls"):
        raise SettingsError(f"IGNIS_SIP_BRIDGE_TRANSPORT={transport!r}: tcp or tls (ElevenLabs has no UDP)")
    listen = (env.get("IGNIS_SIP_BRIDGE_LISTEN") or "0.0.0.0").strip()
    public = (env.get("IGNIS_SIP_BRIDGE_PUBLIC_ADDRESS") or "").strip() or None
    if public is None and ipaddress.ip_address(listen).is_unspecified:
        raise SettingsError(
            "set IGNIS_SIP_BRIDGE_PUBLIC_ADDRESS (the address sipgate and ElevenLabs reach the bridge at) "
            "or IGNIS_SIP_BRIDGE_LISTEN to a concrete address"
        )
    tls_cert = (env.get("IGNIS_SIP_BRIDGE_TLS_CERT") or "").strip() or None
    tls_key = (env.get("IGNIS_SIP_BRIDGE_TLS_KEY") or "").strip() or None
    if transport == "tls" and not (tls_cert and tls_key):
        raise SettingsError(
            "IGNIS_SIP_BRIDGE_TRANSPORT=tls needs IGNIS_SIP_BRIDGE_TLS_CERT and IGNIS_SIP_BRIDGE_TLS_KEY "
            "(ElevenLabs opens TLS connections back to the bridge for BYE and REFER)"
        )
    user, password = env.get("IGNIS_SIP_USERNAME", ""), env.get("IGNIS_SIP_PASSWORD", "")
    if bool(user) != bool(password):
        raise SettingsError("set both IGNIS_SIP_USERNAME and IGNIS_SIP_PASSWORD, or neither")
    allowed_name = "IGNIS_SIP_BRIDGE_ALLOWED"
    media = _media(env)
    return Settings(
        registrar=registrar,
        registrar_username=_required(env, "IGNIS_SIP_REGISTRAR_USERNAME", "the sipgate trunk's SIP-ID"),
        registrar_password=_required(env, "IGNIS_SIP_REGISTRAR_PASSWORD", "the sipgate trunk's SIP password"),
        registrar_expires=_int(env, "IGNIS_SIP_REGISTRAR_EXPIRES", 300, minimum=10),
        reg_retry_seconds=_int(env, "IGNIS_SIP_BRIDGE_REG_RETRY_SECONDS", 60),
        reg_timer_seconds=_int(env, "IGNIS_SIP_BRIDGE_REG_TIMER_SECONDS", 10),
        number=number,
        country_code=country_code,
        target=_host_port(
            env.get("IGNIS_SIP_BRIDGE_TARGET") or "sip.rtc.elevenlabs.io", "IGNIS_SIP_BRIDGE_TARGET"
        ),
        transport=transport,
        allowed=resolve_allowed(env.get(allowed_name) or registrar.host, allowed_name),
        listen=listen,
        port=_int(env, "IGNIS_SIP_BRIDGE_PORT", 5060),
        tls_port=_int(env, "IGNIS_SIP_BRIDGE_TLS_PORT", 5061),
        public_address=public,
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_ca=(env.get("IGNIS_SIP_BRIDGE_TLS_CA") or DEFAULT_CA).strip(),
        tls_verify=(env.get("IGNIS_SIP_BRIDGE_TLS_VERIFY") or "yes").strip().lower()
        not in ("no", "0", "false"),
        target_auth=(user, password) if user else None,
        media=media,
        rtp_interface=(env.get("IGNIS_SIP_BRIDGE_RTP_INTERFACE") or public or listen).strip(),
        rtp_ports=_port_range(env, "IGNIS_SIP_BRIDGE_RTP_PORTS", "30000-40000"),
        rtpengine_ng_port=_int(env, "IGNIS_SIP_BRIDGE_RTPENGINE_NG_PORT", 2223),
    )


def _media(env: Mapping[str, str]) -> str:
    """srtp wherever rtpengine is installed: whether sipgate's trunk offers SRTP is not documented."""
    name = "IGNIS_SIP_BRIDGE_MEDIA"
    media = (env.get(name) or ("srtp" if shutil.which("rtpengine") else "relay")).strip().lower()
    if media not in ("relay", "srtp"):
        raise SettingsError(
            f"{name}={media!r}: srtp (rtpengine converts RTP to SRTP) or relay (SDP untouched)"
        )
    if media == "srtp" and not shutil.which("rtpengine"):
        raise SettingsError(
            f"{name}=srtp needs rtpengine (apt-get install rtpengine-daemon), or set {name}=relay "
            "and IGNIS_SIP_MEDIA_ENCRYPTION=allowed"
        )
    return media


def _port_range(env: Mapping[str, str], name: str, default: str) -> tuple[int, int]:
    low, sep, high = (env.get(name) or default).strip().partition("-")
    if not (sep and low.isdigit() and high.isdigit() and 1024 <= int(low) < int(high) <= 65535):
        raise SettingsError(f"{name}={low}{sep}{high}: expected a UDP port range like {default}")
    return int(low), int(high)


def cfg_string(value: str) -> str:
    """A Kamailio config string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dbtext_value(value: str) -> str:
    """A db_text column value (':' separates columns)."""
    return (
        value.replace("\\", "\\\\")
        .replace(":", "\\:")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def render_cfg(settings: Settings, out: Path) -> str:
    advertised = _bracket(settings.public_address or settings.listen)
    listen = _bracket(settings.listen)
    advertise = f" advertise {advertised}:{{port}}" if settings.public_address else ""
    default_port = 5061 if settings.transport == "tls" else 5060
    defines = {
        # Request-URI and To towards ElevenLabs: the number exactly as imported.
        "TARGET_URI": cfg_string(f"sip:{settings.number}@{settings.target}"),
        "COUNTRY_CODE": cfg_string(settings.country_code),
        "TARGET_DST": cfg_string(
            f"sip:{settings.target.with_port(default_port)};transport={settings.transport}"
        ),
        "ALLOWED_SUBNETS": cfg_string(",".join(settings.allowed)),
        "DB_URL": cfg_string(f"text://{out / 'db'}"),
        "CTL_SOCKET": cfg_string(f"unix:{out / 'run' / 'kamailio_ctl'}"),
        "REG_CONTACT_ADDR": cfg_string(f"{advertised}:{settings.port}"),
        "REG_TIMER_INTERVAL": str(settings.reg_timer_seconds),
        "REG_RETRY_INTERVAL": str(settings.reg_retry_seconds),
        # Scrambles sipgate's From/To (a withheld caller's number) in the Record-Route parameters that
        # ElevenLabs sees; derived from a secret so that it stays the same across renders (open dialogs).
        "RESTORE_PASSWD": cfg_string(
            hashlib.sha256(b"ignis-sip-bridge-uac:" + settings.registrar_password.encode()).hexdigest()[:32]
        ),
    }
    flags: list[str] = []
    if settings.transport == "tls":
        flags.append("WITH_TLS")
        defines["TLS_CONFIG"] = cfg_string(str(out / "tls.cfg"))
    if settings.media == "srtp":
        flags.append("WITH_SRTP")
        defines["RTPENGINE_SOCK"] = cfg_string(f"udp:127.0.0.1:{settings.rtpengine_ng_port}")
    if settings.target_auth:
        flags.append("WITH_TARGET_AUTH")
        defines["TARGET_AUTH_USER"] = cfg_string(settings.target_auth[0])
        defines["TARGET_AUTH_PASSWORD"] = cfg_string(settings.target_auth[1])
    lines = [
        "#!KAMAILIO",
        "# Generated by deploy/sip-bridge/render.py from the IGNIS_* settings: edit those, not this file.",
        "",
        *(f"#!define {flag}" for flag in flags),
        *(f"#!define {name} {value}" for name, value in defines.items()),
        "",
        f"listen=udp:{listen}:{settings.port}{advertise.format(port=settings.port)}",
        f"listen=tcp:{listen}:{settings.port}{advertise.format(port=settings.port)}",
    ]
    if settings.transport == "tls":
        lines.append(f"listen=tls:{listen}:{settings.tls_port}{advertise.format(port=settings.tls_port)}")
    return "\n".join(lines) + "\n\n" + TEMPLATE.read_text()


def render_uacreg(settings: Settings) -> str:
    user = settings.registrar_username
    columns = [
        "1",
        REG_ID,
        user,  # l_username: the user part of the Contact sipgate sends the calls to
        settings.registrar.host,
        user,
        settings.registrar.host,
        "",  # realm: empty, take the registrar's
        user,
        settings.registrar_password,
        "",
        f"sip:{settings.registrar}",
        str(settings.registrar_expires),
        "0",
        "0",
        "",
        "",
    ]
    header = (
        "id(int,auto) l_uuid(string) l_username(string) l_domain(string) r_username(string) "
        "r_domain(string) realm(string,null) auth_username(string) auth_password(string) "
        "auth_ha1(string,null) auth_proxy(string) expires(int) flags(int) reg_delay(int) "
        "contact_addr(string,null) socket(string,null) "
    )
    return header + "\n" + ":".join(dbtext_value(c) for c in columns) + "\n"


def render_tls(settings: Settings) -> str:
    verify = "yes" if settings.tls_verify else "no"
    return (
        "# Generated by deploy/sip-bridge/render.py.\n"
        "[server:default]\n"
        "method = TLSv1.2+\n"
        f"certificate = {settings.tls_cert}\n"
        f"private_key = {settings.tls_key}\n"
        "verify_certificate = no\n"
        "require_certificate = no\n\n"
        "[client:default]\n"
        "method = TLSv1.2+\n"
        f"verify_certificate = {verify}\n"
        f"require_certificate = {verify}\n"
        f"ca_list = {settings.tls_ca}\n"
        f"server_name = {settings.target.host}\n"
        "server_name_mode = 1\n"
    )


def render_rtpengine(settings: Settings) -> str:
    """rtpengine in userspace (no kernel module: table -1), controlled by Kamailio over ng on loopback."""
    low, high = settings.rtp_ports
    return (
        "# Generated by deploy/sip-bridge/render.py.\n"
        "[rtpengine]\n"
        "table = -1\n"
        f"interface = {settings.rtp_interface}\n"
        f"listen-ng = 127.0.0.1:{settings.rtpengine_ng_port}\n"
        f"port-min = {low}\n"
        f"port-max = {high}\n"
        "timeout = 60\n"
        "silent-timeout = 3600\n"
        "delete-delay = 0\n"
        "log-level = 6\n"
    )


def write(settings: Settings, out: Path) -> Path:
    out = out.resolve()
    (out / "db").mkdir(parents=True, exist_ok=True)
    (out / "run").mkdir(parents=True, exist_ok=True)
    cfg = out / "kamailio.cfg"
    cfg.write_text(render_cfg(settings, out))
    uacreg = out / "db" / "uacreg"
    uacreg.touch(mode=0o600, exist_ok=True)
    uacreg.chmod(0o600)
    uacreg.write_text(render_uacreg(settings))
    (out / "db" / "version").write_text(
        "id(int,auto) table_name(string) table_version(int) \n0:version:1\n1:uacreg:5\n"
    )
    if settings.transport == "tls":
        (out / "tls.cfg").write_text(render_tls(settings))
    if settings.media == "srtp":
        (out / "rtpengine.conf").write_text(render_rtpengine(settings))
    else:
        (out / "rtpengine.conf").unlink(missing_ok=True)  # `ignis doctor` reads srtp from its presence
    cfg.chmod(0o600)  # RESTORE_PASSWD, and with target auth ElevenLabs' digest password
    return cfg


def kamailio_command(out: Path) -> list[str]:
    out = out.resolve()
    return [
        "kamailio",
        "-f",
        str(out / "kamailio.cfg"),
        "-DD",
        "-E",
        "-a",
        "no",
        "-Y",
        str(out / "run"),
        "-w",
        str(out),
        "-m",
        "64",
        "-M",
        "8",
    ]


def rtpengine_command(out: Path) -> list[str]:
    out = out.resolve()
    return ["rtpengine", f"--config-file={out / 'rtpengine.conf'}", "--foreground", "--log-stderr"]


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env-file", type=Path, help="a .env file; the environment overrides it")
    parser.add_argument("--out", type=Path, help="output folder (default: $IGNIS_HOME/sip-bridge)")
    parser.add_argument(
        "--run",
        action="store_true",
        help="then become Kamailio (as a container's entrypoint)",
    )
    parser.add_argument(
        "--run-media",
        action="store_true",
        help="then become rtpengine, the media relay of IGNIS_SIP_BRIDGE_MEDIA=srtp (a second container)",
    )
    args = parser.parse_args(argv)
    env: dict[str, str] = {}
    if args.env_file:
        env.update(parse_env_file(args.env_file))
    env.update(os.environ if environ is None else environ)
    out = args.out or Path(env.get("IGNIS_HOME") or ".ignis") / "sip-bridge"
    try:
        settings = load_settings(env)
    except SettingsError as exc:
        sys.stderr.write(f"sip-bridge: {exc}\n")
        return 2
    cfg = write(settings, out)
    if args.run_media and settings.media != "srtp":
        # Not an error: the media container of a relay bridge has nothing to do (and must not restart).
        sys.stdout.write("sip-bridge: IGNIS_SIP_BRIDGE_MEDIA=relay, no media relay to run\n")
        return 0
    if args.run or args.run_media:
        command = rtpengine_command(out) if args.run_media else kamailio_command(out)
        os.execvp(command[0], command)
    sys.stdout.write(f"wrote {cfg}\n")
    sys.stdout.write("start it with: " + shlex.join(kamailio_command(out)) + "\n")
    if settings.media == "srtp":
        sys.stdout.write("and the media relay with: " + shlex.join(rtpengine_command(out)) + "\n")
    else:
        sys.stdout.write(
            "media: relay (SDP untouched, RTP end to end): ElevenLabs' number needs "
            "IGNIS_SIP_MEDIA_ENCRYPTION=allowed\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
