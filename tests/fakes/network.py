"""Local stand-ins for the network around a practice, for `ignis doctor` and its probes: a tiny SIP peer
(as ElevenLabs' SIP edge answers OPTIONS) and an HTTPS gateway with a certificate of a throw-away CA.

Everything listens on 127.0.0.1 in the test's event loop.
"""

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import trustme
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ignis.kit.embedded import free_port
from tests.fakes import serving

Mode = Literal["ok", "404", "trying", "silent", "garbage"]


@contextlib.asynccontextmanager
async def listening(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[int]:
    """A local asyncio server on a free port; yields the port."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


@dataclass
class SipRequest:
    """One request as the peer parsed it."""

    request_line: str
    headers: dict[str, str]  # lower-cased name → value
    body: bytes


@dataclass
class SipPeer:
    """A tiny SIP UAS: parses what arrives, records it, answers according to `mode`."""

    mode: Mode
    requests: list[SipRequest] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode().removesuffix("\r\n\r\n").split("\r\n")
            headers = {}
            for line in lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(SipRequest(request_line, headers, body))
            await self.answer(reader, writer, headers)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the probe gave up (timeout): nothing to answer
        except Exception as exc:
            self.errors.append(exc)
        finally:
            writer.close()

    async def answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, headers: dict[str, str]
    ) -> None:
        if self.mode == "silent":
            await reader.read()  # until the probe hangs up
        elif self.mode == "garbage":
            writer.write(b"HELLO friend, this is no SIP server\r\n\r\n")
            await writer.drain()
        elif self.mode == "trying":
            sdp = b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            writer.write(response("100 Trying", headers) + response("200 OK", headers, sdp))
            await writer.drain()
        else:
            status = "200 OK" if self.mode == "ok" else "404 Not Found"
            message = response(status, headers)
            for start in range(0, len(message), 7):  # dribble it out: the probe must reassemble it
                writer.write(message[start : start + 7])
                await writer.drain()
                await asyncio.sleep(0.001)


def response(status: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """A response echoing the request's Via/From/To/Call-ID/CSeq, the To with the peer's tag."""
    lines = [
        f"SIP/2.0 {status}",
        f"Via: {headers['via']}",
        f"From: {headers['from']}",
        f"To: {headers['to']};tag=peer-7",
        f"Call-ID: {headers['call-id']}",
        f"CSeq: {headers['cseq']}",
        "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS",
        *(["Content-Type: application/sdp"] if body else []),
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@contextlib.asynccontextmanager
async def sip_peer(mode: Mode, tls: ssl.SSLContext | None = None) -> AsyncIterator[tuple[SipPeer, int]]:
    peer = SipPeer(mode)
    async with listening(peer.handle, tls) as port:
        yield peer, port
    if peer.errors:
        raise AssertionError(f"the SIP peer failed: {peer.errors}")


@dataclass
class Gateway:
    """The public side of a gateway as ElevenLabs sees it; `status` is what /healthz answers."""

    url: str
    port: int
    status: int = 200


@contextlib.asynccontextmanager
async def https_gateway(leaf: trustme.LeafCert, folder: Path) -> AsyncIterator[Gateway]:
    """A gateway's public /healthz over HTTPS on a free port, with `leaf`'s certificate."""
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(certfile))
    leaf.private_key_pem.write_to_path(str(keyfile))
    port = free_port()
    gateway = Gateway(url=f"https://localhost:{port}", port=port)

    async def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok" if gateway.status == 200 else "not ready", status_code=gateway.status)

    app = Starlette(routes=[Route("/healthz", healthz)])
    async with serving(app, port, ssl_certfile=str(certfile), ssl_keyfile=str(keyfile)):
        yield gateway
