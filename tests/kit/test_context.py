"""Handlers resolve their dependencies on the event loop: a tool call never waits for a worker thread
(FastStream's own `Context` and sync dependencies each cost a thread hop per message: +0.5 ms and a third of
a service's capacity)."""

from collections.abc import Callable
from typing import Any

import anyio.to_thread
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import HEADERS, verified_caller


async def test_tool_calls_use_no_worker_thread(
    client: httpx.AsyncClient, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller = await verified_caller(engine)
    hops: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(func, "__qualname__", repr(func)))
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)

    async def tool(name: str, **body: Any) -> dict[str, Any]:
        response = await client.post(f"/tools/{name}", json=body, headers=HEADERS)
        assert response.status_code == 200, response.text
        return dict(response.json())

    identified = await tool(
        "identify_patient", conversation_id="conv-hops", last_name="Müller", birth_date="12.03.1980"
    )
    assert identified["code"] == "identified"
    offer = await tool("find_slots", conversation_id=caller.conversation_id, visit_type="akut")
    assert offer["code"] == "slots"
    booked = await tool("book_appointment", **caller.body(slot_id=offer["slots"][0]["slot_id"]))
    assert booked["code"] == "booked"
    listed = await tool("list_appointments", **caller.body())
    assert listed["code"] == "appointments"
    assert hops == []
