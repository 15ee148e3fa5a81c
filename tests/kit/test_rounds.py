"""`in_rounds`: a woken round gathers what commits within its window into one round, and nothing waits for
the poll."""

import asyncio

from ignis.kit.rounds import in_rounds


async def _run(
    gather_seconds: float, wakes: int, poll_seconds: float = 30.0, quiet: float = 0.02
) -> list[tuple[int, float]]:
    """Rounds run, each as (wakes come by then, seconds since the first wake), when `wakes` commits wake
    the work 5 ms apart, `quiet` seconds after the first round (which found nothing)."""
    loop = asyncio.get_running_loop()
    wake, woken, rounds = asyncio.Event(), [0], []
    first_wake = [loop.time()]

    async def round_() -> None:
        rounds.append((woken[0], loop.time() - first_wake[0]))

    task = asyncio.create_task(in_rounds(round_, wake, poll_seconds, "test", gather_seconds))
    try:
        await asyncio.sleep(quiet)
        first_wake[0] = loop.time()
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
    assert [n for n, _ in rounds] == [0, 5]  # the round at start, then one for all five commits


async def test_without_a_window_each_wake_makes_its_round() -> None:
    rounds = await _run(gather_seconds=0.0, wakes=5)
    assert [n for n, _ in rounds] == [0, 1, 2, 3, 4, 5]


async def test_a_lone_wake_is_served_after_the_window_not_the_poll() -> None:
    rounds = await _run(gather_seconds=0.1, wakes=1, poll_seconds=30.0, quiet=0.3)
    assert [n for n, _ in rounds] == [0, 1]
    assert 0.09 <= rounds[1][1] < 0.3  # the window (less the clock's resolution), far from the poll


async def test_unwoken_work_still_runs_every_poll() -> None:
    rounds = await _run(gather_seconds=0.05, wakes=0, poll_seconds=0.03)
    assert len(rounds) >= 3
