"""`in_rounds`: what commits while a woken round gathers goes in that round; nothing waits for the poll."""

import asyncio

from ignis.kit.rounds import in_rounds


async def _run(gather_seconds: float, wakes: int, poll_seconds: float = 30.0) -> list[int]:
    """Rounds run (each noting how many wakes had come by then) when `wakes` commits wake the work 5 ms
    apart, after the first round found nothing."""
    wake, woken, rounds = asyncio.Event(), [0], []

    async def round_() -> None:
        rounds.append(woken[0])

    task = asyncio.create_task(in_rounds(round_, wake, poll_seconds, "test", gather_seconds))
    try:
        await asyncio.sleep(0.02)  # the first round has run and found nothing
        for _ in range(wakes):
            woken[0] += 1
            wake.set()
            await asyncio.sleep(0.005)
        await asyncio.sleep(gather_seconds + 0.1)
    finally:
        task.cancel()
    return rounds


async def test_wakes_within_the_gathering_window_make_one_round() -> None:
    rounds = await _run(gather_seconds=0.2, wakes=5)
    assert rounds == [0, 5]  # one round after the start, one for all five commits


async def test_without_a_window_each_wake_makes_its_round() -> None:
    rounds = await _run(gather_seconds=0.0, wakes=5)
    assert rounds == [0, 1, 2, 3, 4, 5]


async def test_a_woken_round_does_not_wait_for_the_poll() -> None:
    rounds = await _run(gather_seconds=0.05, wakes=1, poll_seconds=30.0)
    assert rounds == [0, 1]


async def test_unwoken_work_still_runs_every_poll() -> None:
    rounds = await _run(gather_seconds=0.05, wakes=0, poll_seconds=0.03)
    assert len(rounds) >= 3
