"""Local stand-ins for what Ignis talks to but cannot reach from a test: the SaaS APIs (ElevenLabs,
sipgate), built from their documentation, and the network around a practice (SIP peer, HTTPS gateway)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from ignis.kit.embedded import free_port


@contextlib.asynccontextmanager
async def serving(app: Any, port: int | None = None, **tls: str) -> AsyncIterator[int]:
    """Serve an ASGI `app` with uvicorn on 127.0.0.1 in the test's event loop; yields the port.
    `tls`: uvicorn's `ssl_certfile` / `ssl_keyfile` for HTTPS."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="off", access_log=False, **tls
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, no event)
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task
