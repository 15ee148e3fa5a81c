"""Network probes behind `ignis doctor`: each answers one question about the call path with a `Probe`.

A call crosses DNS, TCP, TLS, SIP (sipgate → ElevenLabs) and HTTPS (ElevenLabs → our gateway); when it
fails, the practice only hears silence. So every probe is bounded by `timeout`, never raises for a network
failure and says in a few words what it saw, for a human reading the doctor's report.
"""

# Each probe takes `timeout` on purpose: doctor sets one budget per probe, and a probe that is cancelled
# from outside could not say what it saw.
# ruff: noqa: ASYNC109

import asyncio
import contextlib
import datetime as dt
import ipaddress
import re
import secrets
import socket
import ssl
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import httpx

# A SIP response's body is SDP at most; anything bigger is not a SIP server answering us.
_MAX_BODY = 64 * 1024
_MAX_LINE = 8 * 1024
_STATUS_LINE = re.compile(r"SIP/2\.0 ([1-6]\d\d)(?: (.*))?")
_E = TypeVar("_E", bound=BaseException)


@dataclass(frozen=True)
class Probe:
    """The outcome of one probe: `detail` is what was seen, short ("SIP/2.0 200 OK", "connection refused")."""

    ok: bool
    detail: str


async def resolve(host: str, timeout: float = 5.0) -> Probe:
    """Resolve `host` to its A/AAAA addresses, as the SIP and HTTPS clients will."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except TimeoutError:
        return Probe(False, f"no DNS answer within {timeout:g}s")
    except (OSError, UnicodeError) as exc:
        return Probe(False, _network_error(exc))
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    return Probe(bool(addresses), ", ".join(addresses) or "no addresses")


async def tcp_connect(host: str, port: int, timeout: float = 5.0) -> Probe:
    """Open (and close) a TCP connection: tells a firewall or a stopped server apart from a TLS problem."""
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        async with asyncio.timeout_at(deadline):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return Probe(False, f"timed out after {timeout:g}s")
    except (OSError, UnicodeError) as exc:
        return Probe(False, _network_error(exc))
    peer = writer.get_extra_info("peername")
    await _close(writer, deadline)
    return Probe(True, f"connected to {_hostport(peer[0], peer[1])}")


async def tls_handshake(
    host: str,
    port: int,
    timeout: float = 5.0,
    *,
    server_hostname: str | None = None,
    cafile: str | None = None,
) -> Probe:
    """Complete a TLS handshake verifying chain and hostname, as a strict peer (ElevenLabs, sipgate) would.

    The default trust store is used (it honours `SSL_CERT_FILE`); `cafile` replaces it, e.g. for a
    practice's own CA.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        context = _client_context(cafile)
    except (OSError, ssl.SSLError) as exc:
        return Probe(False, f"cannot load CA file {cafile}: {exc}")
    try:
        async with asyncio.timeout_at(deadline):
            _, writer = await _open_tls(host, port, context, server_hostname, timeout)
    except TimeoutError:
        return Probe(False, f"timed out after {timeout:g}s")
    except (OSError, UnicodeError) as exc:
        return Probe(False, _network_error(exc))
    detail = _describe_tls(writer.get_extra_info("ssl_object"))
    await _close(writer, deadline)
    return Probe(True, detail)


async def sip_options(
    host: str,
    port: int,
    transport: Literal["tcp", "tls"],
    timeout: float = 5.0,
    *,
    request_uri: str | None = None,
    server_hostname: str | None = None,
    cafile: str | None = None,
) -> Probe:
    """Send a SIP OPTIONS and wait for a final response: proves a SIP server, not just a port, answers.

    Any final response counts (a 404 or 403 from a server that does not know us still proves the path);
    provisional ones (100 Trying) are skipped. `detail` is the status line.
    """
    if transport not in ("tcp", "tls"):
        return Probe(False, f"unsupported transport {transport!r}")
    deadline = asyncio.get_running_loop().time() + timeout
    stage = "connect"
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout_at(deadline):
            if transport == "tls":
                context = _client_context(cafile)
                reader, writer = await _open_tls(host, port, context, server_hostname, timeout)
            else:
                reader, writer = await asyncio.open_connection(host, port, limit=_MAX_LINE)
            stage = "answer"
            local = writer.get_extra_info("sockname")
            writer.write(_options_request(request_uri or f"sip:{_bracket(host)}", transport, local))
            await writer.drain()
            return await _final_response(reader)
    except TimeoutError:
        if stage == "connect":
            return Probe(False, f"timed out after {timeout:g}s")
        return Probe(False, f"no SIP answer within {timeout:g}s")
    except (OSError, UnicodeError, ssl.SSLError) as exc:
        return Probe(False, _network_error(exc))
    finally:
        if writer is not None:
            await _close(writer, deadline)


async def https_health(public_url: str, timeout: float = 5.0, *, path: str = "/healthz") -> Probe:
    """GET the gateway's health endpoint over its public URL, as ElevenLabs will call the gateway.

    ElevenLabs only calls https:// tools with a publicly trusted certificate, so plain http and any
    certificate problem fail here rather than in the first real call.
    """
    parts = urlsplit(public_url)
    if parts.scheme == "http":
        return Probe(False, "not HTTPS: ElevenLabs requires https")
    if parts.scheme != "https" or not parts.hostname:
        return Probe(False, f"not an https:// URL: {public_url!r}")
    url = public_url.rstrip("/") + "/" + path.lstrip("/")
    try:
        async with (
            asyncio.timeout(timeout),
            httpx.AsyncClient(verify=True, trust_env=True, timeout=timeout, follow_redirects=False) as client,
        ):
            response = await client.get(url)
    except (TimeoutError, httpx.TimeoutException):
        return Probe(False, f"no answer within {timeout:g}s")
    except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
        verify_error = _cause(exc, ssl.SSLCertVerificationError)
        if verify_error is not None:
            return Probe(False, f"certificate not valid: {_verify_message(verify_error)}")
        return Probe(False, _network_error(exc))
    if response.status_code == 200:
        return Probe(True, "answered 200")
    return Probe(False, f"answered {response.status_code}")


def _client_context(cafile: str | None) -> ssl.SSLContext:
    """A verifying client context: the default trust store, or only `cafile` when given."""
    return ssl.create_default_context(cafile=cafile)


async def _open_tls(
    host: str, port: int, context: ssl.SSLContext, server_hostname: str | None, seconds: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect and handshake; a stuck peer must not hold the closing handshake for asyncio's default 30 s."""
    return await asyncio.open_connection(
        host,
        port,
        ssl=context,
        server_hostname=server_hostname or host,
        ssl_handshake_timeout=seconds,
        ssl_shutdown_timeout=min(seconds, 1.0),
        limit=_MAX_LINE,
    )


def _describe_tls(ssl_object: ssl.SSLObject | None) -> str:
    """'TLSv1.3, CN=localhost, expires 2030-01-01': enough to spot a wrong or expiring certificate."""
    if ssl_object is None:
        return "TLS established"
    cert: dict[str, Any] = dict(ssl_object.getpeercert() or {})  # typeshed: a union of shapes
    names = [value for rdn in cert.get("subject", ()) for key, value in rdn if key == "commonName"]
    if names:
        subject = f"CN={names[0]}"
    else:
        alt_names = [value for _, value in cert.get("subjectAltName", ())]
        subject = f"SAN={alt_names[0]}" if alt_names else "no subject name"
    parts = [ssl_object.version() or "TLS", subject]
    not_after = cert.get("notAfter")
    if isinstance(not_after, str):
        expiry = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), dt.UTC)
        parts.append(f"expires {expiry:%Y-%m-%d}")
    return ", ".join(parts)


def _options_request(request_uri: str, transport: str, local: tuple[str, int, *tuple[int, ...]]) -> bytes:
    """An RFC 3261 OPTIONS: strict SIP servers drop requests that lack any mandatory header."""
    local_host, local_port = _bracket(local[0]), local[1]
    tag, call_id, branch = secrets.token_hex(6), secrets.token_hex(12), secrets.token_hex(8)
    lines = [
        f"OPTIONS {request_uri} SIP/2.0",
        f"Via: SIP/2.0/{transport.upper()} {local_host}:{local_port};branch=z9hG4bK{branch};rport",
        "Max-Forwards: 70",
        f'From: "Ignis doctor" <sip:doctor@{local_host}>;tag={tag}',
        f"To: <{request_uri}>",
        f"Call-ID: {call_id}@{local_host}",
        "CSeq: 1 OPTIONS",
        f"Contact: <sip:doctor@{local_host}:{local_port};transport={transport}>",
        "Accept: application/sdp",
        "User-Agent: ignis-doctor",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _final_response(reader: asyncio.StreamReader) -> Probe:
    """Read responses until a final one; a first line that is no SIP status line means the peer is not SIP."""
    while True:
        status_line = await _read_line(reader)
        while status_line == "":  # CRLF keep-alives may precede a message on a stream transport
            status_line = await _read_line(reader)
        if status_line is None:
            return Probe(False, "connection closed without a SIP answer")
        match = _STATUS_LINE.fullmatch(status_line)
        if match is None:
            return Probe(False, f"not a SIP response: {status_line[:60]!r}")
        length = 0
        while (line := await _read_line(reader)) != "":
            if line is None:
                return Probe(False, f"connection closed inside the response to {status_line!r}")
            name, _, value = line.partition(":")
            if name.strip().lower() in ("content-length", "l"):
                try:
                    length = int(value.strip())
                except ValueError:
                    return Probe(False, f"bad Content-Length in {status_line!r}: {value.strip()[:20]!r}")
        if not 0 <= length <= _MAX_BODY:
            return Probe(False, f"implausible Content-Length {length} in {status_line!r}")
        try:
            await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            return Probe(False, f"connection closed inside the body of {status_line!r}")
        if int(match.group(1)) >= 200:
            return Probe(True, status_line)


async def _read_line(reader: asyncio.StreamReader) -> str | None:
    """One CRLF-terminated line (buffered across partial reads); None at end of stream."""
    try:
        raw = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raw = exc.partial  # the peer hung up mid-line: let the caller judge what it sent
    except asyncio.LimitOverrunError:
        return "<over-long line>"
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


async def _close(writer: asyncio.StreamWriter, deadline: float) -> None:
    """Close politely while the probe's time lasts, then hard: closing must never outlive the probe."""
    writer.close()
    try:
        async with asyncio.timeout_at(deadline):
            await writer.wait_closed()
    except (TimeoutError, OSError, ssl.SSLError):
        writer.transport.abort()


def _network_error(exc: BaseException) -> str:
    """A few words a human understands, instead of an exception's repr."""
    verify_error = _cause(exc, ssl.SSLCertVerificationError)
    if verify_error is not None:
        return f"certificate verify failed: {_verify_message(verify_error)}"
    if _cause(exc, ConnectionRefusedError) is not None:
        return "connection refused"
    gai = _cause(exc, socket.gaierror)
    if gai is not None:
        return f"does not resolve: {gai.strerror or gai}"
    ssl_error = _cause(exc, ssl.SSLError)
    if ssl_error is not None:
        return f"TLS handshake failed: {ssl_error.reason or ssl_error}"
    if _cause(exc, ConnectionResetError) is not None:
        return "connection reset"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def _verify_message(exc: ssl.SSLCertVerificationError) -> str:
    return str(exc.verify_message or exc.reason or exc)


def _cause(exc: BaseException, kind: type[_E]) -> _E | None:
    """The first exception of `kind` in `exc`'s chain: httpx wraps the ssl and socket errors it hit."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _bracket(host: str) -> str:
    """IPv6 literals need brackets inside SIP URIs and Via headers."""
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]"
    return host


def _hostport(host: str, port: int) -> str:
    return f"{_bracket(host)}:{port}"
