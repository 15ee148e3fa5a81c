"""Post-call records: from the signed webhook through JetStream into the patients service, once each,
linked to the patient verified in that call, even when the service was down while they arrived."""

import asyncio
import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import nats
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ignis.contracts import subjects
from ignis.gateway.auth import sign_elevenlabs
from ignis.gateway.settings import GatewaySettings
from ignis.kit.clock import utcnow
from ignis.patients.models import Call
from ignis.patients.repository import PatientRepository
from tests.conftest import WEBHOOK_SECRET
from tests.factories import MUELLER, patient

FIXTURES = Path(__file__).parent.parent / "fixtures" / "elevenlabs"

pytestmark = pytest.mark.usefixtures("clean_database")


def event(name: str, conversation_id: str) -> bytes:
    payload = json.loads((FIXTURES / f"{name}.json").read_text())
    payload["data"]["conversation_id"] = conversation_id
    if name == "post_call_transcription":
        payload["data"]["metadata"]["phone_call"] = {
            "type": "sip_trunking",
            "external_number": "0151 23456789",
        }
    return json.dumps(payload).encode()


async def deliver(gateway: httpx.AsyncClient, body: bytes) -> None:
    response = await gateway.post(
        "/webhooks/elevenlabs/post-call",
        content=body,
        headers={"ElevenLabs-Signature": sign_elevenlabs(body, WEBHOOK_SECRET)},
    )
    assert response.status_code == 200, response.text


async def calls(engine: AsyncEngine, expected: int, within_seconds: float = 10) -> list[Call]:
    deadline = asyncio.get_running_loop().time() + within_seconds
    while True:
        async with AsyncSession(engine) as session:
            rows = list((await session.execute(select(Call).order_by(Call.conversation_id))).scalars())
        if len(rows) >= expected or asyncio.get_running_loop().time() > deadline:
            return rows
        await asyncio.sleep(0.1)


@pytest.mark.usefixtures("fresh_stream")
class TestCallRecords:
    async def test_record_is_linked_to_the_patient_verified_in_that_call(
        self,
        gateway: httpx.AsyncClient,
        engine: AsyncEngine,
        patients_service: Callable[[], AbstractAsyncContextManager[None]],
    ) -> None:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            repo = PatientRepository(session)
            anna = await repo.add(patient(MUELLER))
            await repo.issue_ref("conv_anna", anna.id, "pr_anna", utcnow().replace(year=2100))
        async with patients_service():
            await deliver(gateway, event("post_call_transcription", "conv_anna"))
            await deliver(gateway, event("post_call_transcription", "conv_anna"))  # delivered twice
            [record] = await calls(engine, 1)
            await asyncio.sleep(0.5)
            assert len(await calls(engine, 2, within_seconds=0)) == 1
        assert record.patient_id == anna.id
        assert record.kind == "post_call_transcription"
        assert record.caller_number == "+4915123456789"
        assert (record.duration_secs, record.call_successful, record.summary) == (22, "success", "…")
        assert record.transcript is not None
        assert record.transcript[0]["message"] == "Hey there angelo. How are you?"
        assert record.retain_until > utcnow()

    async def test_the_raw_event_leaves_the_stream_once_its_record_is_stored(
        self,
        gateway: httpx.AsyncClient,
        engine: AsyncEngine,
        nats_url: str,
        patients_service: Callable[[], AbstractAsyncContextManager[None]],
    ) -> None:
        """The record is the one copy of the transcript (purged with it); ElevenLabs' retry of the same
        event afterwards is still recognised by its Nats-Msg-Id and stores nothing twice."""
        connection = await nats.connect(nats_url)
        js = connection.jetstream()
        try:
            await deliver(gateway, event("post_call_transcription", "conv_gone"))
            assert (await js.stream_info(subjects.WEBHOOKS_STREAM)).state.messages == 1
            async with patients_service():
                await calls(engine, 1)
                for _ in range(50):
                    if not (await js.stream_info(subjects.WEBHOOKS_STREAM)).state.messages:
                        break
                    await asyncio.sleep(0.1)
                assert (await js.stream_info(subjects.WEBHOOKS_STREAM)).state.messages == 0
                retry = await gateway.post(
                    "/webhooks/elevenlabs/post-call",
                    content=(body := event("post_call_transcription", "conv_gone")),
                    headers={"ElevenLabs-Signature": sign_elevenlabs(body, WEBHOOK_SECRET)},
                )
                assert retry.json()["code"] == "duplicate"
                await asyncio.sleep(0.5)
                assert len(await calls(engine, 2, within_seconds=0)) == 1
            assert (await js.stream_info(subjects.WEBHOOKS_STREAM)).state.messages == 0
        finally:
            await connection.close()

    async def test_webhooks_sent_while_the_service_was_down_arrive_once_after_it_restarts(
        self,
        gateway: httpx.AsyncClient,
        engine: AsyncEngine,
        patients_service: Callable[[], AbstractAsyncContextManager[None]],
    ) -> None:
        conversations = [f"conv_{uuid.uuid4().hex[:6]}" for _ in range(3)]
        for conversation in conversations:
            await deliver(gateway, event("post_call_transcription", conversation))
        await deliver(gateway, event("post_call_transcription", conversations[0]))  # ElevenLabs' retry
        await deliver(gateway, event("call_initiation_failure", "conv_busy"))
        assert await calls(engine, 1, within_seconds=0) == []
        async with patients_service():
            records = await calls(engine, 4)
        assert sorted(r.conversation_id for r in records) == sorted([*conversations, "conv_busy"])
        failure = next(r for r in records if r.conversation_id == "conv_busy")
        assert (failure.kind, failure.failure_reason, failure.patient_id) == (
            "call_initiation_failure",
            "busy",
            None,
        )
        async with AsyncSession(engine) as session:
            assert await session.scalar(select(func.count()).select_from(Call)) == 4


def staff(gateway_settings: GatewaySettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {gateway_settings.staff_token.get_secret_value()}"}


@pytest.mark.usefixtures("fresh_stream")
class TestStaffCalls:
    async def test_done_means(
        self,
        gateway: httpx.AsyncClient,
        gateway_settings: GatewaySettings,
        engine: AsyncEngine,
        patients_service: Callable[[], AbstractAsyncContextManager[None]],
    ) -> None:
        """A signed webhook sent while the patients service is down shows up, once, in the staff API after
        it restarts, linked to the patient identified in that call."""
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            repo = PatientRepository(session)
            anna = await repo.add(patient(MUELLER))
            await repo.issue_ref("conv_done", anna.id, "pr_done", utcnow().replace(year=2100))
        await deliver(gateway, event("post_call_transcription", "conv_done"))
        await deliver(gateway, event("post_call_transcription", "conv_done"))
        for other in ("conv_b", "conv_c"):
            await deliver(gateway, event("post_call_transcription", other))
        async with patients_service():
            await calls(engine, 3)
            first = (await gateway.get("/staff/calls?limit=2", headers=staff(gateway_settings))).json()
            second = (
                await gateway.get(
                    f"/staff/calls?limit=2&cursor={first['next_cursor']}", headers=staff(gateway_settings)
                )
            ).json()
            detail = (await gateway.get("/staff/calls/conv_done", headers=staff(gateway_settings))).json()
            missing = await gateway.get("/staff/calls/conv_nobody", headers=staff(gateway_settings))
            bad_cursor = await gateway.get("/staff/calls?cursor=%25%25", headers=staff(gateway_settings))
        items = first["items"] + second["items"]
        assert (len(first["items"]), len(second["items"]), second["next_cursor"]) == (2, 1, None)
        assert sorted(i["conversation_id"] for i in items) == ["conv_b", "conv_c", "conv_done"]
        linked = next(i for i in items if i["conversation_id"] == "conv_done")
        assert linked["patient"] == {"patient_id": str(anna.id), "name": "Anna Müller"}
        assert all("transcript" not in i for i in items), "the list view carries no transcript"
        assert detail["transcript"][0]["message"] == "Hey there angelo. How are you?"
        assert detail["caller_number"] == "+4915123456789"
        assert (missing.status_code, bad_cursor.status_code) == (404, 400)

    @pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic abc", "Bearer "])
    async def test_staff_token_required(self, gateway: httpx.AsyncClient, header: str | None) -> None:
        headers = {"Authorization": header} if header is not None else {}
        response = await gateway.get("/staff/calls", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_service_down_is_503(
        self, gateway: httpx.AsyncClient, gateway_settings: GatewaySettings
    ) -> None:
        response = await gateway.get("/staff/calls", headers=staff(gateway_settings))
        assert response.status_code == 503
