"""Work that drains a table in rounds (the outbox relay, the SMS dispatcher): a round at once when woken
(something was just committed), else every `poll_seconds` (other replicas' rows, due times); a failing
round is logged and retried at the next one, since the rows wait safely in the database."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


async def in_rounds(
    round_: Callable[[], Awaitable[None]], wake: asyncio.Event, poll_seconds: float, what: str
) -> None:
    """Run `round_` until cancelled."""
    logger = logging.getLogger("ignis.rounds")
    while True:
        try:
            await round_()
        except asyncio.CancelledError:
            raise
        except Exception:  # NATS or the database is away: nothing is lost, the next round retries
            logger.warning(f"{what} failed; retrying", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), poll_seconds)
        wake.clear()
