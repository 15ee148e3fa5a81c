"""Work that drains a table in rounds (the outbox relay, the SMS dispatcher): a round soon after being
woken (something was just committed), else every `poll_seconds` (other replicas' rows, due times); a failing
round is logged and retried at the next one, since the rows wait safely in the database.

A woken round starts `GATHER_SECONDS` late, so that what commits meanwhile goes in the same round: under
load each booking would otherwise cost a round of its own (a read, a publish or a request to another
service, a write), and a round's cost hardly depends on how many rows it takes. Nobody waits on these
rounds (an event reaches its consumers, an SMS its provider, that much later).
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

GATHER_SECONDS = 0.05


async def in_rounds(
    round_: Callable[[], Awaitable[None]],
    wake: asyncio.Event,
    poll_seconds: float,
    what: str,
    gather_seconds: float = GATHER_SECONDS,
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
            await asyncio.sleep(gather_seconds)  # woken: gather what commits meanwhile
        wake.clear()
