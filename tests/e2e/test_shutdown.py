"""A rolling update loses no tool call: SIGTERM to a service replica while calls stream in; the replica
drains its subscriptions and finishes what it holds, the other replica takes the rest."""

import asyncio
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.e2e.conftest import Running, ignis_env, ignis_up

pytestmark = pytest.mark.e2e

# find_slots over the demo practice's calendar: the slowest tool, so calls are in flight at the signal.
FIND_SLOTS = {"visit_type": "Vorsorgeuntersuchung", "part_of_day": "nachmittag"}


async def stream_of_calls(running: Running, seconds: float, rate: float) -> list[str]:
    """find_slots at `rate` per second for `seconds`, each in a conversation of its own."""
    async with httpx.AsyncClient(base_url=running.base_url, headers=running.headers, timeout=15) as client:

        async def call(index: int) -> str:
            body = FIND_SLOTS | {"conversation_id": f"rolling-{index}"}
            response = await client.post("/tools/find_slots", json=body)
            return f"{response.status_code}:{response.json().get('code')}"

        tasks = []
        start = time.monotonic()
        for index in range(int(seconds * rate)):
            await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
            tasks.append(asyncio.create_task(call(index)))
        return list(await asyncio.gather(*tasks))


class TestRollingUpdate:
    def test_sigterm_to_a_replica_loses_no_call(
        self, nats_url: str, e2e_database_url: str, tmp_path: Path
    ) -> None:
        env = ignis_env(
            tmp_path / "home",
            IGNIS_NATS_URL=nats_url,
            IGNIS_DATABASE_URL=e2e_database_url,
            IGNIS_REPLICAS='{"scheduler": 2}',
        )
        with ignis_up(env, tmp_path / "ignis.log") as running:
            replicas = [
                child
                for child in psutil.Process(running.process.pid).children(recursive=True)
                if child.cmdline()[-2:] == ["serve", "scheduler"]
            ]
            assert len(replicas) == 2

            async def scenario() -> list[str]:
                calls = asyncio.create_task(stream_of_calls(running, seconds=3, rate=100))
                await asyncio.sleep(1.5)
                replicas[0].send_signal(signal.SIGTERM)
                return await calls

            outcomes = asyncio.run(scenario())
            replicas[0].wait(20)
        assert len(outcomes) == 300
        assert set(outcomes) == {"200:slots"}, {o: outcomes.count(o) for o in set(outcomes)}
