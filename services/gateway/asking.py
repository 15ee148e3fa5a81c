"""How every gateway route asks a service over NATS: one rule for waiting, asking again and failing.

A reply that does not come (no responder, timeout) becomes `ErrorReply(unavailable)`, one that cannot be
read or a broker failure `ErrorReply(internal)`; so a route turns one type into what its client hears (a
tool's German reply, an HTTP status, a fallback), and every failure is logged and counted the same way.
"""

import asyncio
import logging
from collections.abc import Mapping
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, TypeAdapter

from ignis.contracts.base import ErrorCode, ErrorReply
from ignis.kit import bus
from ignis.kit.errors import ServiceError

logger = logging.getLogger("ignis.gateway.asking")
T = TypeVar("T")

# Pause before asking again when no replica answered at once (one may be restarting).
RETRY_PAUSE_SECONDS = 0.25


async def ask_service(
    request: Request,
    subject: str,
    query: BaseModel,
    reply: TypeAdapter[T],
    within_seconds: float,
    *,
    again_within_seconds: float | None = None,
    context: Mapping[str, object] | None = None,
) -> T | ErrorReply:
    """The service's reply to `query` (an `ErrorReply` included), or an `ErrorReply` saying why none came.

    Each attempt waits `within_seconds`. With `again_within_seconds` (a command its service recognises when
    repeated), an unanswered one is asked again until that budget is spent: a replica may have died with
    the reply. `context` is added to the log lines (never patient data).
    """
    state = request.app.state
    extra = {"subject": subject, **(context or {})}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(within_seconds, again_within_seconds or 0.0)
    attempt = 0
    while True:
        attempt += 1
        # Each attempt waits as long as the first: asking a slow (not dead) replica again sooner would only
        # add load when the service is busiest.
        started = loop.time()
        try:
            answer = await bus.ask(
                state.broker, query, subject, reply, min(within_seconds, deadline - started)
            )
        except ServiceError as exc:
            if exc.code is not ErrorCode.unavailable:
                logger.error("unexpected reply", extra=extra)
                return ErrorReply(code=exc.code, message=exc.message)
            state.metrics.bus_timeouts.labels(subject).inc()
            logger.warning("service unavailable", extra={**extra, "reason": exc.message, "attempt": attempt})
            if again_within_seconds is None or deadline - loop.time() < 0.1:
                return ErrorReply(code=exc.code, message=exc.message)
            if loop.time() - started < RETRY_PAUSE_SECONDS:  # no responders: give a restart a moment
                await asyncio.sleep(min(RETRY_PAUSE_SECONDS, max(0.0, deadline - loop.time() - 0.1)))
            continue
        except Exception as exc:  # the broker itself failed: the client still gets an answer
            logger.error("request failed", extra={**extra, "reason": type(exc).__name__})
            return ErrorReply(code=ErrorCode.internal, message=f"request failed ({type(exc).__name__})")
        if isinstance(answer, ErrorReply) and answer.code is ErrorCode.internal:
            logger.error("service failed", extra=extra)
        return answer
