"""`ignis serve gateway` as a real process on a socket: idle, slowloris and slow-body connections are
closed within their deadlines, the concurrency limit holds, and a 20 MB webhook is refused unread."""

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ignis.kit.embedded import free_port
from tests.conftest import TOOL_SECRET, WEBHOOK_SECRET

HEADER_TIMEOUT = 1.5
BODY_TIMEOUT = 2.5
CONCURRENCY = 80
# Deadlines fire on the server's loop; the margin covers a busy 2-core CI machine.
MARGIN = 1.5
TWENTY_MB = 20 * 1000 * 1000


@dataclass
class Server:
    port: int
    url: str

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)


@pytest.fixture(scope="module")
def server(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("gateway-home")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("IGNIS_")} | {
        "IGNIS_HOME": str(home),
        "IGNIS_NATS_URL": nats_url,
        "IGNIS_GATEWAY_PORT": str(port),
        "IGNIS_TOOL_SECRET": TOOL_SECRET,
        "IGNIS_ELEVENLABS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "IGNIS_GATEWAY_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "IGNIS_GATEWAY_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        "IGNIS_GATEWAY_LIMIT_CONCURRENCY": str(CONCURRENCY),
        "IGNIS_LOG_FORMAT": "text",
    }
    log = Path(home) / "gateway.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "ignis.cli.main", "serve", "gateway"],
            env=env,
            cwd=home,  # no developer's .env
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.1)
        yield Server(port, url)
    finally:
        process.terminate()
        process.wait(15)
    assert "Exception in ASGI application" not in log.read_text(), (
        "a hostile connection reached the app as an error"
    )


async def closed_after(reader: asyncio.StreamReader, started: float, limit: float) -> float:
    """Seconds from `started` until the server closed the connection (fails beyond `limit`)."""
    async with asyncio.timeout(limit):
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass
    return time.monotonic() - started


async def trickle(writer: asyncio.StreamWriter, first: bytes, drip: bytes) -> None:
    """A slowloris: a request begun, then a byte or a header now and then, never finished."""
    with contextlib.suppress(ConnectionError):
        writer.write(first)
        while not writer.is_closing():
            await asyncio.sleep(0.3)
            writer.write(drip)
            await writer.drain()


async def test_idle_slowloris_and_slow_body_connections_are_closed_in_time(server: Server) -> None:
    started = time.monotonic()
    idle = [await server.connect() for _ in range(50)]
    slow_head = [await server.connect() for _ in range(20)]
    slow_body = [await server.connect() for _ in range(5)]
    drips = [
        asyncio.create_task(
            trickle(writer, b"POST /tools/identify_patient HTTP/1.1\r\nHost: x\r\n", b"X-A: b\r\n")
        )
        for _, writer in slow_head
    ]
    head = b"POST /tools/identify_patient HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
    drips += [asyncio.create_task(trickle(writer, head, b"{")) for _, writer in slow_body]

    async with httpx.AsyncClient(base_url=server.url) as client:  # a real caller is served meanwhile
        served = await client.get("/healthz", timeout=2)
        assert served.status_code == 200
        assert "server" not in served.headers

    heads = await asyncio.gather(
        *(closed_after(reader, started, HEADER_TIMEOUT + MARGIN) for reader, _ in idle + slow_head)
    )
    bodies = await asyncio.gather(
        *(closed_after(reader, started, HEADER_TIMEOUT + BODY_TIMEOUT + MARGIN) for reader, _ in slow_body)
    )
    for task in drips:
        task.cancel()
    for _, writer in idle + slow_head + slow_body:
        writer.close()
    measured = f"idle/slowloris closed after {min(heads):.2f}-{max(heads):.2f} s, slow bodies after "
    logging.getLogger("tests").warning(measured + f"{min(bodies):.2f}-{max(bodies):.2f} s")
    assert min(heads) >= HEADER_TIMEOUT - 0.2
    assert max(heads) <= HEADER_TIMEOUT + MARGIN
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/healthz", timeout=2)).status_code == 200


async def test_concurrency_limit_then_recovery(server: Server) -> None:
    """Beyond the limit uvicorn answers 503 at once; once the idle connections are closed, 200 again."""
    idle = [await server.connect() for _ in range(CONCURRENCY)]
    await asyncio.sleep(0.5)  # connected is not yet accepted: let the server's loop take them all
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/healthz", timeout=2)).status_code == 503
        await asyncio.gather(
            *(closed_after(reader, time.monotonic(), HEADER_TIMEOUT + MARGIN) for reader, _ in idle)
        )
        assert (await client.get("/healthz", timeout=2)).status_code == 200
    for _, writer in idle:
        writer.close()


async def test_oversized_head_is_refused(server: Server) -> None:
    reader, writer = await server.connect()
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 200_000)  # and never ends
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    async with asyncio.timeout(5):
        answer = await reader.read()
    assert answer.startswith(b"HTTP/1.1 431")
    writer.close()


async def response_of(reader: asyncio.StreamReader) -> tuple[int, dict[str, object]]:
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return int(status_line.split()[1]), json.loads(await reader.readexactly(length))


async def test_twenty_mb_webhook_by_content_length_is_refused_unread(server: Server) -> None:
    reader, writer = await server.connect()
    writer.write(
        b"POST /webhooks/elevenlabs/post-call HTTP/1.1\r\nHost: x\r\n"
        b"ElevenLabs-Signature: t=%d,v0=%s\r\nContent-Length: %d\r\n\r\n"
        % (int(time.time()), b"0" * 64, TWENTY_MB)  # a plausible (if wrong) signature: the size decides
    )
    async with asyncio.timeout(5):  # not one byte of the body was sent: it is refused on its length
        assert await response_of(reader) == (413, {"ok": False, "code": "too_large"})
        assert await reader.read() == b""  # and the connection is closed
    writer.close()


async def test_twenty_mb_chunked_webhook_is_refused_before_the_end(server: Server) -> None:
    """No length to go by, and the body never ends (no last chunk): a 413 can only come from counting."""
    reader, writer = await server.connect()
    writer.write(
        b"POST /webhooks/elevenlabs/post-call HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"ElevenLabs-Signature: t=%d,v0=%s\r\n\r\n" % (int(time.time()), b"0" * 64)  # plausible: read on
    )
    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)

    async def send() -> None:
        with contextlib.suppress(ConnectionError):
            for _ in range(TWENTY_MB // 65536):
                writer.write(chunk)
                await writer.drain()

    sending = asyncio.create_task(send())
    async with asyncio.timeout(10):
        assert await response_of(reader) == (413, {"ok": False, "code": "too_large"})
    sending.cancel()
    writer.close()


@pytest.mark.parametrize(("path", "size", "status"), [
    ("/tools/identify_patient", 100_000, 413),  # over the tool limit: too large, not a header problem
    ("/webhooks/elevenlabs/post-call", 900_000, 401),  # within the limit: read, then the signature
])  # fmt: skip
async def test_a_large_body_in_one_write_is_no_oversized_head(
    server: Server, path: str, size: int, status: int
) -> None:
    """A read that completes the head carries the body too; it must not count as header bytes (431)."""
    body = b'{"x": "' + b"y" * size + b'"}'
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body)}\r\n"
    reader, writer = await server.connect()
    writer.write(head.encode() + b"ElevenLabs-Signature: t=1,v0=" + b"0" * 64 + b"\r\n\r\n" + body)
    async with asyncio.timeout(10):
        assert (await response_of(reader))[0] == status
    writer.close()


async def test_a_webhook_without_a_plausible_signature_is_refused_before_its_body(server: Server) -> None:
    """An attacker cannot make the gateway read megabytes: no signature (or an old one), no upload."""
    for signature in (b"", b"ElevenLabs-Signature: t=1,v0=" + b"0" * 64 + b"\r\n"):
        reader, writer = await server.connect()
        writer.write(
            b"POST /webhooks/elevenlabs/post-call HTTP/1.1\r\nHost: x\r\n"
            + signature
            + b"Content-Length: 4000000\r\n\r\n"
        )
        async with asyncio.timeout(5):  # not one byte of the body was sent
            assert await response_of(reader) == (401, {"ok": False, "code": "invalid_signature"})
        writer.close()
