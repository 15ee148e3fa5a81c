"""A conversation's ref is resolved once for the calls that only read, and never past its expiry, KEEP, or
the patient's erasure; calls that write always ask the patients service."""

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import nats
import pytest

from ignis.contracts import subjects
from ignis.contracts.patients import ErasePatient, PatientErased, PatientRefResolved
from ignis.kit.clock import utcnow
from ignis.scheduler import handlers
from ignis.scheduler.refs import ResolvedRefs
from tests.conftest import Caller
from tests.scheduler.test_booking import offered, tool

NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


class Clock:
    """Seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def answer(
    patient_id: str = "p1", expires_in: dt.timedelta | None = dt.timedelta(hours=2)
) -> PatientRefResolved:
    return PatientRefResolved(
        patient_id=patient_id, expires_at=None if expires_in is None else NOW + expires_in
    )


class TestResolvedRefs:
    def test_an_answer_is_used_again_in_its_conversation_only_and_for_keep_at_most(self) -> None:
        clock = Clock()
        refs = ResolvedRefs(keep_seconds=60, clock=clock)
        refs.put("conv", "pr_1", answer(), NOW)
        clock.seconds += 59
        assert refs.get("conv", "pr_1", NOW) == answer()
        assert refs.get("other-conv", "pr_1", NOW) is None
        assert refs.get("conv", "pr_2", NOW) is None
        clock.seconds += 1
        assert refs.get("conv", "pr_1", NOW) is None
        assert len(refs) == 0  # dropped, not only ignored

    def test_never_past_the_refs_expiry(self) -> None:
        refs = ResolvedRefs()
        refs.put("conv", "pr_1", answer(expires_in=dt.timedelta(seconds=10)), NOW)
        assert refs.get("conv", "pr_1", NOW + dt.timedelta(seconds=9)) is not None
        assert refs.get("conv", "pr_1", NOW + dt.timedelta(seconds=10)) is None

    def test_an_answer_that_does_not_say_until_when_is_not_kept(self) -> None:
        refs = ResolvedRefs()
        refs.put("conv", "pr_1", answer(expires_in=None), NOW)
        refs.put("conv", "pr_2", answer(expires_in=dt.timedelta(0)), NOW)
        assert len(refs) == 0

    def test_an_erased_patients_answers_are_forgotten_and_one_still_on_its_way_is_not_kept(self) -> None:
        clock = Clock()
        refs = ResolvedRefs(keep_seconds=60, clock=clock)
        refs.put("conv-a", "pr_1", answer("erased"), NOW)
        refs.put("conv-b", "pr_2", answer("erased"), NOW)
        refs.put("conv-c", "pr_3", answer("kept"), NOW)
        refs.forget_patient("erased")
        assert refs.get("conv-a", "pr_1", NOW) is None
        assert refs.get("conv-b", "pr_2", NOW) is None
        assert refs.get("conv-c", "pr_3", NOW) is not None
        refs.put("conv-d", "pr_4", answer("erased"), NOW)  # asked before the erasure, answered after
        assert refs.get("conv-d", "pr_4", NOW) is None

    def test_the_oldest_go_first_beyond_the_limit(self) -> None:
        refs = ResolvedRefs(limit=2)
        for i in range(3):
            refs.put("conv", f"pr_{i}", answer(), NOW)
        assert len(refs) == 2
        assert refs.get("conv", "pr_0", NOW) is None
        assert refs.get("conv", "pr_2", NOW) is not None

    def test_a_fresh_answer_replaces_the_kept_one_and_its_age(self) -> None:
        clock = Clock()
        refs = ResolvedRefs(keep_seconds=60, clock=clock)
        refs.put("conv", "pr_1", answer("old"), NOW)
        clock.seconds += 1
        refs.put("conv", "pr_2", answer(), NOW)
        clock.seconds += 29
        refs.put("conv", "pr_1", answer("new"), NOW)
        clock.seconds += 40  # pr_2 is stale by then; pr_1 was kept again 40 s ago
        assert refs.get("conv", "pr_2", NOW) is None
        kept = refs.get("conv", "pr_1", NOW)
        assert kept is not None
        assert kept.patient_id == "new"

    async def test_a_quiet_process_drops_its_answers_after_keep_without_another_call(self) -> None:
        refs = ResolvedRefs(keep_seconds=0.05)
        refs.put("conv", "pr_1", answer(), NOW)
        sweeping = asyncio.create_task(refs.sweep_every_keep())
        try:
            await asyncio.sleep(0.2)
            assert len(refs) == 0
        finally:
            sweeping.cancel()


@pytest.fixture
async def resolutions(nats_url: str) -> AsyncIterator[list[bytes]]:
    """Every request the patients service gets to resolve a ref (a copy, beside its queue group)."""
    nc = await nats.connect(nats_url)
    seen: list[bytes] = []

    async def record(message: nats.aio.msg.Msg) -> None:
        seen.append(message.data)

    await nc.subscribe(subjects.PATIENTS_RESOLVE_REF, cb=record)
    await nc.flush()
    try:
        yield seen
    finally:
        await nc.close()


@pytest.mark.usefixtures("services")
class TestThroughTheSystem:
    async def test_reading_calls_of_a_conversation_ask_once_and_a_booking_asks_again(
        self, client: httpx.AsyncClient, caller: Caller, resolutions: list[bytes]
    ) -> None:
        slots = await offered(client, caller, patient_ref=caller.patient_ref)
        await offered(client, caller, patient_ref=caller.patient_ref, part_of_day="nachmittag")
        assert (await tool(client, "list_appointments", caller.body()))["code"] == "appointments"
        await asyncio.sleep(0.1)  # the spy's copies arrive beside the service's
        assert len(resolutions) == 1

        booked = await tool(client, "book_appointment", caller.body(slot_id=slots[0]["slot_id"]))
        assert booked["code"] == "booked"
        await asyncio.sleep(0.1)
        assert len(resolutions) == 2

    async def test_the_ref_in_another_conversation_is_refused_though_an_answer_is_kept(
        self, client: httpx.AsyncClient, caller: Caller
    ) -> None:
        await offered(client, caller, patient_ref=caller.patient_ref)
        stolen = {"conversation_id": "another-call", "patient_ref": caller.patient_ref}
        assert (await tool(client, "list_appointments", stolen))["code"] == "not_verified"
        assert (await tool(client, "find_slots", {**stolen, "visit_type": "akut"}))["code"] == "not_verified"

    async def test_after_an_erasure_the_ref_books_nothing_at_once_and_reads_nothing_soon(
        self, client: httpx.AsyncClient, caller: Caller, nats_url: str
    ) -> None:
        slots = await offered(client, caller, patient_ref=caller.patient_ref)
        assert (await tool(client, "list_appointments", caller.body()))["code"] == "appointments"

        nc = await nats.connect(nats_url)  # as the staff app erases: the patients service, then the event
        try:
            erase = ErasePatient(patient_id=caller.patient_id).model_dump_json().encode()
            await nc.request(subjects.erase_patient("patients"), erase, timeout=5)
        finally:
            await nc.close()

        booking = await tool(client, "book_appointment", caller.body(slot_id=slots[0]["slot_id"]))
        assert booking["code"] == "not_verified"
        for _ in range(50):  # the scheduler hears the erasure event within moments
            if (await tool(client, "list_appointments", caller.body()))["code"] == "not_verified":
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the erased patient's ref still lists appointments after 5 s")
        reply = await tool(client, "find_slots", caller.body(visit_type="akut"))
        assert reply["code"] == "not_verified"

    async def test_the_relay_publishes_an_erasure_acknowledged_by_jetstream_alone(
        self, nats_url: str
    ) -> None:
        """Every replica hears the erasure outside its queue group, and never answers the publish: the
        relay's JetStream publish reads the first reply to its inbox as the stream's acknowledgement."""
        nc = await nats.connect(nats_url)
        try:
            replies: list[bytes] = []

            async def record(message: nats.aio.msg.Msg) -> None:
                replies.append(message.data)

            inbox = nc.new_inbox()
            await nc.subscribe(inbox, cb=record)
            event = PatientErased(event_id=uuid.uuid4(), occurred_at=utcnow(), patient_id=uuid.uuid4())
            await nc.publish(subjects.PATIENT_ERASED, event.model_dump_json().encode(), reply=inbox)
            await asyncio.sleep(0.5)
            assert len(replies) == 1
            assert json.loads(replies[0])["stream"] == subjects.EVENTS_STREAM
        finally:
            await nc.close()


def test_every_replica_hears_erasures_outside_its_queue_group_and_the_durable_consumer() -> None:
    """The test system runs one scheduler, whose durable consumer also forgets: so the subscription that
    reaches every replica is checked as declared."""
    hearing = [
        s
        for s in handlers.router.subscribers
        if s._subject == subjects.PATIENT_ERASED
        and not getattr(s, "queue", None)
        and getattr(s, "stream", None) is None
    ]
    assert len(hearing) == 1
