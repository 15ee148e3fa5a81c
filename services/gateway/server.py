"""uvicorn for the gateway, with deadlines uvicorn lacks: idle and slowloris connections are closed.

uvicorn's keep-alive timeout only starts after a first response, and its httptools protocol has no limit on
how long (or how large) a request's head may take. `GuardedHttpToolsProtocol` adds both: a connection must
deliver a request line and headers within `header_timeout` seconds of opening (or of that request's first
byte on a kept-alive connection), about `MAX_HEAD_BYTES` of them at most, and then the body within
`body_timeout`; otherwise it is closed.

A request refused before its body was read (413) is closed gracefully ("lingering close", as nginx does):
the answer and a FIN go out, what the client still sends is discarded for `LINGER_SECONDS`, and only then is
the socket closed; closing at once with unread data makes the kernel send a reset, and a client that is
still sending would lose the answer.
"""

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ignis.gateway.settings import GatewaySettings

# Headers of a real caller (ElevenLabs, a dashboard, Prometheus) are a few KiB; httptools sets no limit.
MAX_HEAD_BYTES = 64 * 1024
LINGER_SECONDS = 2.0
_TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request's head and body (class attributes,
    set by `guarded_protocol`)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._in_head = True
        self._heads_completed = 0
        self._body_pending = False
        self._lingering = False
        self._raw: asyncio.Transport | None = None

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self._raw is not None and not self._raw.is_closing():
            self._raw.close()

    @property
    def lingering(self) -> bool:
        return self._lingering

    def close_transport(self) -> None:
        """What uvicorn's `transport.close()` does here: linger if the request's body is still coming."""
        assert self._raw is not None
        if self._lingering or self._raw.is_closing():
            return
        if not self._body_pending or not self._raw.can_write_eof():
            self._raw.close()
            return
        self._linger()

    def _linger(self) -> None:
        assert self._raw is not None
        self._lingering = True
        self._raw.write_eof()
        self._raw.resume_reading()  # uvicorn may have paused it while the app did not read
        self._arm(LINGER_SECONDS)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._raw = transport
        super().connection_made(_LingeringTransport(transport, self))  # type: ignore[arg-type]
        self._arm(self.header_timeout)  # an idle connection that never sends a byte is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._lingering = False
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the rest of a refused body: read and dropped
        in_head, heads = self._in_head, self._heads_completed
        super().data_received(data)
        # Counted once parsed, and only while one head is still unfinished: a read that completes a head
        # carries the body (and maybe the whole message) too, which is no header. A head is refused beyond
        # MAX_HEAD_BYTES plus at most the one read that would have completed it.
        still_in_head = in_head and self._in_head and heads == self._heads_completed
        if still_in_head and self._raw is not None and not self._raw.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._raw.write(_TOO_LARGE)
                self._linger()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        if self._deadline is None:  # a kept-alive connection's next request: its own deadline
            self._arm(self.header_timeout)

    def on_headers_complete(self) -> None:
        self._heads_completed += 1
        self._in_head, self._head_bytes, self._body_pending = False, 0, True
        self._arm(self.body_timeout)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()  # from here on, the app's own budgets and uvicorn's keep-alive apply
        self._in_head, self._head_bytes, self._body_pending = True, 0, False  # next: the next request
        super().on_message_complete()


class _LingeringTransport:
    """The socket's transport as uvicorn sees it, except that `close()` may linger (see the module)."""

    def __init__(self, transport: asyncio.Transport, protocol: GuardedHttpToolsProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    def close(self) -> None:
        self._protocol.close_transport()

    def is_closing(self) -> bool:
        return self._protocol.lingering or self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def guarded_protocol(header_timeout: float, body_timeout: float) -> type[GuardedHttpToolsProtocol]:
    return type(
        "GatewayHttpProtocol",
        (GuardedHttpToolsProtocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )


def run(settings: GatewaySettings, factory: str = "ignis.gateway.main:create_app") -> None:
    """Serve the gateway (or an app `factory` composed around it) in the foreground until SIGTERM or
    Ctrl-C."""
    uvicorn.run(
        factory,
        factory=True,
        host=settings.gateway_host,
        port=settings.gateway_port,
        loop="uvloop",
        http=guarded_protocol(settings.gateway_header_timeout_seconds, settings.gateway_body_timeout_seconds),
        access_log=False,
        log_config=None,  # the app installs the PII-safe logging itself
        server_header=False,  # no product and version for whoever scans the host
        timeout_graceful_shutdown=10,
        limit_concurrency=settings.gateway_limit_concurrency,
        timeout_keep_alive=settings.gateway_keep_alive_seconds,
    )
