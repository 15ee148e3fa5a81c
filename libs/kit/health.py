"""A service's own small HTTP endpoint, per replica: `/healthz` (alive), `/readyz` (NATS and database
answer) and `/metrics` (Prometheus). A NATS ping goes to a queue group, so any replica may answer it; a
probe of a pod must ask that pod. Plain asyncio: the service has no web framework, and needs none for this.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest

logger = logging.getLogger("ignis.health")

# What a durable consumer has not yet taken, and what it took but has not acknowledged: a growing number
# means the service falls behind (or keeps failing), long before a patient notices.
CONSUMER_PENDING = Gauge("ignis_consumer_pending", "messages the consumer has not yet received", ["consumer"])
CONSUMER_ACK_PENDING = Gauge(
    "ignis_consumer_ack_pending", "messages received but not yet acknowledged", ["consumer"]
)

Check = Callable[[], Awaitable[str | None]]  # None when fine, else what is wrong


class HealthServer:
    def __init__(self, host: str, port: int, ready: Check, refresh: Callable[[], Awaitable[None]]) -> None:
        self.host, self.port = host, port
        self.ready = ready
        self.refresh = refresh  # updates gauges that are read on demand (e.g. consumer pending)
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            method, path, *_ = request.decode("latin-1").split(" ", 2)
            status, content_type, body = await self._answer(method, path.split("?")[0])
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ValueError, ConnectionError, asyncio.IncompleteReadError):
            pass  # a client that sent no proper request gets nothing
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method != "GET":
            return "405 Method Not Allowed", "text/plain", b"GET only\n"
        if path == "/healthz":
            return "200 OK", "text/plain", b"ok\n"
        if path == "/readyz":
            problem = await self.ready()
            if problem:
                return "503 Service Unavailable", "text/plain", f"not ready: {problem}\n".encode()
            return "200 OK", "text/plain", b"ready\n"
        if path == "/metrics":
            try:
                await self.refresh()
            except Exception:  # a metric that cannot be read now must not hide the others
                logger.warning("metrics refresh failed", exc_info=True)
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
        return "404 Not Found", "text/plain", b"/healthz, /readyz or /metrics\n"
