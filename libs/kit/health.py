"""A service's own HTTP endpoint, per replica: `/healthz` (alive), `/readyz` (NATS and database answer) and
`/metrics` (Prometheus), as FastStream ASGI routes that uvicorn serves beside the broker (kit.service). A NATS
ping goes to a queue group, so any replica may answer it; a probe of a pod must ask that pod.
"""

import logging
from collections.abc import Awaitable, Callable

from faststream.asgi import AsgiResponse, HttpHandler, get
from faststream.asgi.types import Scope
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest

logger = logging.getLogger("ignis.health")

# What a durable consumer has not yet taken, and what it took but has not acknowledged: a growing number
# means the service falls behind (or keeps failing), long before a patient notices.
CONSUMER_PENDING = Gauge("ignis_consumer_pending", "messages the consumer has not yet received", ["consumer"])
CONSUMER_ACK_PENDING = Gauge(
    "ignis_consumer_ack_pending", "messages received but not yet acknowledged", ["consumer"]
)

Check = Callable[[], Awaitable[str | None]]  # None when fine, else what is wrong
TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def health_routes(ready: Check, refresh: Callable[[], Awaitable[None]]) -> list[tuple[str, HttpHandler]]:
    """The three routes; `refresh` updates the gauges that are read on demand (e.g. consumer pending)."""

    @get(include_in_schema=False)
    async def healthz(scope: Scope) -> AsgiResponse:  # noqa: ARG001
        return AsgiResponse(b"ok\n", 200, TEXT)

    @get(include_in_schema=False)
    async def readyz(scope: Scope) -> AsgiResponse:  # noqa: ARG001
        if problem := await ready():
            return AsgiResponse(f"not ready: {problem}\n".encode(), 503, TEXT)
        return AsgiResponse(b"ready\n", 200, TEXT)

    @get(include_in_schema=False)
    async def metrics(scope: Scope) -> AsgiResponse:  # noqa: ARG001
        try:
            await refresh()
        except Exception:  # a metric that cannot be read now must not hide the others
            logger.warning("metrics refresh failed", exc_info=True)
        return AsgiResponse(generate_latest(REGISTRY), 200, {"Content-Type": CONTENT_TYPE_LATEST})

    return [("/healthz", healthz), ("/readyz", readyz), ("/metrics", metrics)]
