"""The probes of `ignis doctor` against real local servers: DNS, TCP, TLS, a tiny SIP peer and HTTPS.

Nothing here leaves the machine: the certificates come from a throw-away trustme CA, the SIP peer and the
HTTPS gateway listen on 127.0.0.1 in the test's event loop.
"""

import asyncio
import re
import ssl
import time
from typing import Literal

import pytest

from ignis.kit.embedded import free_port
from ignis.provision.probes import Probe, https_health, resolve, sip_options, tcp_connect, tls_handshake
from tests.fakes.network import Gateway, SipRequest, listening, sip_peer

ELEVENLABS_URI = "sip:+4930123456@sip.rtc.elevenlabs.io"
MANDATORY = ("via", "max-forwards", "from", "to", "call-id", "cseq", "contact", "accept", "content-length")


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


# --- DNS and TCP ---------------------------------------------------------------------------------------


async def test_resolve_localhost() -> None:
    probe = await resolve("localhost")
    assert probe.ok
    assert "127.0.0.1" in probe.detail or "::1" in probe.detail


async def test_resolve_fails_for_a_reserved_invalid_name() -> None:
    probe = await resolve("ignis-doctor.invalid")
    assert not probe.ok
    assert probe.detail.startswith("does not resolve")


async def test_tcp_connect_to_a_listening_server() -> None:
    async with listening(hang_up) as port:
        probe = await tcp_connect("127.0.0.1", port)
    assert probe == Probe(True, f"connected to 127.0.0.1:{port}")


async def test_tcp_connect_to_a_closed_port_is_refused() -> None:
    assert await tcp_connect("127.0.0.1", free_port(), timeout=2) == Probe(False, "connection refused")


# --- TLS -----------------------------------------------------------------------------------------------


async def test_tls_handshake_with_the_ca_verifies_chain_and_hostname(
    server_tls: ssl.SSLContext, ca_pem: str
) -> None:
    async with listening(hang_up, server_tls) as port:
        probe = await tls_handshake("localhost", port, cafile=ca_pem)
    assert probe.ok, probe.detail
    assert re.fullmatch(r"TLSv1\.[23], CN=localhost, expires \d{4}-\d\d-\d\d", probe.detail)


async def test_tls_handshake_fails_for_an_unknown_ca(server_tls: ssl.SSLContext) -> None:
    async with listening(hang_up, server_tls) as port:
        probe = await tls_handshake("localhost", port)
    assert not probe.ok
    assert probe.detail.startswith("certificate verify failed: ")
    assert "issuer" in probe.detail or "self-signed" in probe.detail


async def test_tls_handshake_fails_for_a_wrong_server_hostname(
    server_tls: ssl.SSLContext, ca_pem: str
) -> None:
    async with listening(hang_up, server_tls) as port:
        probe = await tls_handshake("127.0.0.1", port, server_hostname="sip.example.org", cafile=ca_pem)
    assert not probe.ok
    assert probe.detail.startswith("certificate verify failed: Hostname mismatch")
    assert "sip.example.org" in probe.detail


async def test_tls_handshake_times_out_against_a_silent_plain_server() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    async with listening(silent) as port:
        started = time.monotonic()
        probe = await tls_handshake("127.0.0.1", port, timeout=0.3)
    assert probe == Probe(False, "timed out after 0.3s")
    assert time.monotonic() - started < 1.5


# --- SIP -----------------------------------------------------------------------------------------------


def problems(request: SipRequest, uri: str, transport: str) -> list[str]:
    """What makes `request` not a well-formed RFC 3261 OPTIONS; empty when it is one."""
    found = []
    if request.request_line != f"OPTIONS {uri} SIP/2.0":
        found.append(f"request line {request.request_line!r}")
    found += [f"no {name}" for name in MANDATORY if not request.headers.get(name)]
    via = request.headers.get("via", "")
    if not re.match(rf"SIP/2\.0/{transport.upper()} \S+:\d+;branch=z9hG4bK\w+", via):
        found.append(f"Via {via!r}")
    if request.headers.get("max-forwards") != "70":
        found.append("Max-Forwards is not 70")
    if not re.search(r";tag=\w+", request.headers.get("from", "")):
        found.append("From without tag")
    if request.headers.get("to") != f"<{uri}>":
        found.append(f"To {request.headers.get('to')!r}")
    if request.headers.get("cseq") != "1 OPTIONS":
        found.append(f"CSeq {request.headers.get('cseq')!r}")
    if request.headers.get("accept") != "application/sdp":
        found.append("Accept is not application/sdp")
    if request.headers.get("content-length") != "0" or request.body:
        found.append("a body")
    return found


@pytest.mark.parametrize("transport", ["tcp", "tls"])
async def test_sip_options_gets_200_from_a_sip_server(
    transport: Literal["tcp", "tls"], server_tls: ssl.SSLContext, ca_pem: str
) -> None:
    async with sip_peer("ok", server_tls if transport == "tls" else None) as (peer, port):
        probe = await sip_options(
            "localhost", port, transport, request_uri=ELEVENLABS_URI, cafile=ca_pem, timeout=2
        )
    assert probe == Probe(True, "SIP/2.0 200 OK")
    [request] = peer.requests
    assert problems(request, ELEVENLABS_URI, transport) == []


async def test_sip_options_default_request_uri_is_the_host() -> None:
    async with sip_peer("ok") as (peer, port):
        probe = await sip_options("127.0.0.1", port, "tcp", timeout=2)
    assert probe.ok
    [request] = peer.requests
    assert problems(request, "sip:127.0.0.1", "tcp") == []


async def test_sip_options_each_probe_is_a_new_transaction() -> None:
    async with sip_peer("ok") as (peer, port):
        await sip_options("127.0.0.1", port, "tcp", timeout=2)
        await sip_options("127.0.0.1", port, "tcp", timeout=2)
    first, second = (request.headers for request in peer.requests)
    for name in ("call-id", "via", "from"):
        assert first[name] != second[name], name


async def test_sip_options_404_still_proves_a_sip_server_answers() -> None:
    async with sip_peer("404") as (_, port):
        probe = await sip_options("127.0.0.1", port, "tcp", request_uri=ELEVENLABS_URI, timeout=2)
    assert probe == Probe(True, "SIP/2.0 404 Not Found")


async def test_sip_options_skips_provisional_responses_and_reads_the_body() -> None:
    async with sip_peer("trying") as (_, port):
        probe = await sip_options("127.0.0.1", port, "tcp", timeout=2)
    assert probe == Probe(True, "SIP/2.0 200 OK")


@pytest.mark.parametrize("transport", ["tcp", "tls"])
async def test_sip_options_times_out_when_nobody_answers(
    transport: Literal["tcp", "tls"], server_tls: ssl.SSLContext, ca_pem: str
) -> None:
    async with sip_peer("silent", server_tls if transport == "tls" else None) as (peer, port):
        started = time.monotonic()
        probe = await sip_options("localhost", port, transport, timeout=0.3, cafile=ca_pem)
        elapsed = time.monotonic() - started
    assert probe == Probe(False, "no SIP answer within 0.3s")
    assert elapsed < 1.0
    assert len(peer.requests) == 1


async def test_sip_options_rejects_a_peer_that_is_not_sip() -> None:
    async with sip_peer("garbage") as (_, port):
        probe = await sip_options("127.0.0.1", port, "tcp", timeout=2)
    assert probe == Probe(False, "not a SIP response: 'HELLO friend, this is no SIP server'")


async def test_sip_options_to_a_closed_port_is_refused() -> None:
    assert await sip_options("127.0.0.1", free_port(), "tcp", timeout=2) == Probe(False, "connection refused")


async def test_sip_options_over_tls_verifies_the_certificate(server_tls: ssl.SSLContext) -> None:
    async with sip_peer("ok", server_tls) as (peer, port):
        probe = await sip_options("localhost", port, "tls", timeout=2)
    assert not probe.ok
    assert probe.detail.startswith("certificate verify failed: ")
    assert peer.requests == []


async def test_sip_options_when_the_peer_hangs_up() -> None:
    async with listening(hang_up) as port:
        probe = await sip_options("127.0.0.1", port, "tcp", timeout=2)
    assert not probe.ok
    assert probe.detail in ("connection closed without a SIP answer", "connection reset")


# --- HTTPS ---------------------------------------------------------------------------------------------


async def test_https_health_passes_with_a_trusted_certificate(
    public_gateway: Gateway, ca_pem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", ca_pem)
    assert await https_health(public_gateway.url, timeout=3) == Probe(True, "answered 200")
    assert await https_health(public_gateway.url + "/", timeout=3) == Probe(True, "answered 200")


async def test_https_health_fails_for_an_untrusted_certificate(
    public_gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    probe = await https_health(public_gateway.url, timeout=3)
    assert not probe.ok
    assert probe.detail.startswith("certificate not valid: ")


async def test_https_health_fails_for_plain_http(public_gateway: Gateway) -> None:
    probe = await https_health(f"http://127.0.0.1:{public_gateway.port}", timeout=3)
    assert probe == Probe(False, "not HTTPS: ElevenLabs requires https")


async def test_https_health_fails_when_healthz_is_not_200(
    public_gateway: Gateway, ca_pem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", ca_pem)
    public_gateway.status = 503
    assert await https_health(public_gateway.url, timeout=3) == Probe(False, "answered 503")


async def test_https_health_when_nothing_listens(ca_pem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", ca_pem)
    probe = await https_health(f"https://127.0.0.1:{free_port()}", timeout=3)
    assert probe == Probe(False, "connection refused")
