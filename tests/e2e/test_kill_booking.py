"""A caller is never told the wrong outcome: the scheduler is killed (SIGKILL) while bookings are in flight,
round after round, and every stored booking was answered `booked` (or, when the outcome truly could not be
learned, `unavailable` with a message that says so), never `slot_taken` or an error."""

import asyncio
import datetime as dt
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.e2e.conftest import Running, ignis_env, ignis_up

pytestmark = pytest.mark.e2e

ROUNDS, CALLERS = 6, 5  # find_slots offers at most five


async def call(client: httpx.AsyncClient, name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/tools/{name}", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def verified(client: httpx.AsyncClient, conversation: str) -> str:
    body = {"conversation_id": conversation, "caller_id": "+4930123456", "last_name": "Mueller"}
    found = await call(client, "identify_patient", body | {"birth_date": "12.03.1980"})
    assert found["code"] == "identified", found
    return str(found["patient_ref"])


async def slots(client: httpx.AsyncClient, days_ahead: int, count: int) -> list[str]:
    earliest = (dt.date.today() + dt.timedelta(days=days_ahead)).strftime("%d.%m.%Y")
    offered = await call(
        client,
        "find_slots",
        {
            "conversation_id": "kill-find",
            "visit_type": "Akutsprechstunde",
            "earliest": earliest,
            "limit": count,
        },
    )
    assert offered["code"] == "slots", offered
    return [slot["slot_id"] for slot in offered["slots"]]


async def rounds(running: Running) -> list[tuple[str, dict[str, Any]]]:
    """(conversation, reply) of every booking attempted while the scheduler was being killed."""
    outcomes = []
    async with httpx.AsyncClient(base_url=running.base_url, headers=running.headers, timeout=20) as client:
        for number in range(ROUNDS):
            await wait_for_scheduler(client)
            conversations = [f"kill-{number}-{index}" for index in range(CALLERS)]
            refs = [await verified(client, conversation) for conversation in conversations]
            free = await slots(client, days_ahead=2 + number, count=CALLERS)
            bookings = [
                call(client, "book_appointment", {"conversation_id": c, "patient_ref": r, "slot_id": s})
                for c, r, s in zip(conversations, refs, free, strict=True)
            ]
            tasks = [asyncio.create_task(booking) for booking in bookings]
            await asyncio.sleep(random.uniform(0.005, 0.06))
            running.children()["scheduler"].kill()
            outcomes += zip(conversations, await asyncio.gather(*tasks), strict=True)
    return outcomes


async def wait_for_scheduler(client: httpx.AsyncClient) -> None:
    for _ in range(100):
        if (await client.get("/readyz")).status_code == 200:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("scheduler not back")


async def stored_conversations(database_url: str) -> set[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT conversation_id FROM scheduler.appointment WHERE status = 'booked'")
            )
            return {row[0] for row in rows}
    finally:
        await engine.dispose()


def test_no_caller_is_told_not_booked_for_a_stored_booking(
    nats_url: str, e2e_database_url: str, tmp_path: Path
) -> None:
    env = ignis_env(tmp_path / "home", IGNIS_NATS_URL=nats_url, IGNIS_DATABASE_URL=e2e_database_url)
    with ignis_up(env, tmp_path / "ignis.log") as running:
        outcomes = asyncio.run(rounds(running))
        stored = asyncio.run(stored_conversations(e2e_database_url))
    codes = [reply["code"] for _, reply in outcomes]
    told_wrong = [
        reply["code"]
        for conversation, reply in outcomes
        if conversation in stored and reply["code"] != "booked"
    ]
    unknown = [reply for _, reply in outcomes if reply["code"] == "unavailable"]
    assert len(outcomes) == ROUNDS * CALLERS
    # Every stored booking was confirmed to its caller, and every confirmation was stored.
    assert told_wrong == [], {code: codes.count(code) for code in set(codes)}
    assert {c for c, reply in outcomes if reply["code"] == "booked"} <= stored
    # The retry reaches the restarted scheduler within the budget: nobody is left not knowing.
    assert unknown == [], {code: codes.count(code) for code in set(codes)}
    assert codes.count("booked") == ROUNDS * CALLERS
    assert "process exited, restarting" in running.output()
