"""The gateway's HTTP edge in plain ASGI: body limits before anything reads a body, and safe headers.

Plain ASGI (like `RequestIds`) rather than Starlette's `BaseHTTPMiddleware`: no task per request, and the
limit applies to the `receive` channel itself, so no route can read more than its limit.
"""

import json
import re
from collections.abc import Sequence

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_DIGITS = re.compile(rb"[0-9]{1,19}")


class BodyTooLarge(Exception):
    """Raised into the app by `receive` once a body passed its limit; the middleware answers 413."""


class BodyLimit:
    """Refuse a body beyond its route's limit with 413 `too_large`: at once by `Content-Length`, and while
    streaming (chunked or a lying length) as soon as the bytes received pass it, never reading the rest.

    `limits` are `(path prefix, bytes)`, the first matching prefix wins; every other path gets `default`.
    """

    def __init__(self, app: ASGIApp, limits: Sequence[tuple[str, int]], default: int) -> None:
        self.app = app
        self.limits = tuple(limits)
        self.default = default

    def limit_for(self, path: str) -> int:
        return next((limit for prefix, limit in self.limits if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if _DIGITS.fullmatch(declared) and int(declared) > limit:
            await too_large(send)
            return
        received = 0
        exceeded = started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the app makes of the exception (FastAPI: a 400), the answer is 413
                return
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            pass
        except ClientDisconnect:  # the client (or the body timeout) hung up: there is no one to answer
            return
        if exceeded and not started:
            await too_large(send)


async def too_large(send: Send) -> None:
    body = json.dumps({"ok": False, "code": "too_large"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            # The rest of the body is never read, so the connection cannot carry another request.
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """`X-Content-Type-Options: nosniff` on every response, and `Cache-Control: no-store` on those under
    `no_store_prefixes` (the staff API's patient data must stay out of browser and proxy caches)."""

    def __init__(self, app: ASGIApp, no_store_prefixes: Sequence[str]) -> None:
        self.app = app
        self.no_store_prefixes = tuple(no_store_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(b"x-content-type-options", b"nosniff")]
        if scope["path"].startswith(self.no_store_prefixes):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in extra}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = [*kept, *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
