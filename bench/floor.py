"""The stack's floor: what FastAPI, uvicorn, NATS and FastStream cost with nothing of Ignis in them. A
gateway answers `POST /tools/<name>` by asking a responder over NATS, whose handler is empty; both run as
Ignis' processes do (uvicorn on uvloop and httptools, a FastStream broker at each end). The responder also
consumes a JetStream stream as the notifier consumes events (a durable pull consumer, one message at a
time) and only says it saw each one. The harness starts both beside the system and drives them with the
same generator at the same load.

    python bench/floor.py responder NATS_URL
    python bench/floor.py gateway NATS_URL PORT
"""

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from faststream import FastStream
from faststream.nats import JStream, NatsBroker, PullSub

SUBJECT = "bench.floor"
EVENTS, SEEN = "bench.floor.event", "bench.floor.seen"  # a JetStream subject, and where the floor says so


def responder(nats_url: str) -> None:
    broker = NatsBroker(nats_url, logger=None)

    @broker.subscriber(SUBJECT, queue=SUBJECT)
    async def empty(_: dict[str, Any]) -> dict[str, Any]:
        return {}

    @broker.subscriber(
        EVENTS,
        stream=JStream("BENCH_FLOOR", subjects=[EVENTS]),
        durable="floor",
        pull_sub=PullSub(batch_size=1, timeout=5.0),
    )
    async def seen(body: dict[str, Any]) -> None:
        await broker.publish(body, SEEN)

    asyncio.run(FastStream(broker).run())


def gateway(nats_url: str, port: int) -> None:
    broker = NatsBroker(nats_url, logger=None)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await broker.start()
        yield
        await broker.stop()

    app = FastAPI(lifespan=lifespan)

    @app.get("/readyz")
    async def ready() -> dict[str, Any]:
        await (await broker.request({}, SUBJECT, timeout=2)).decode()
        return {"ok": True}

    @app.post("/tools/{_name}")
    async def tool(_name: str, body: dict[str, Any]) -> dict[str, Any]:
        await (await broker.request(body, SUBJECT, timeout=5)).decode()
        return {"ok": True, "code": "floor"}

    uvicorn.run(app, port=port, loop="uvloop", http="httptools", log_level="warning", access_log=False)


if __name__ == "__main__":
    if sys.argv[1] == "responder":
        responder(sys.argv[2])
    else:
        gateway(sys.argv[2], int(sys.argv[3]))
