"""Urgent requests off-screen: one SMS to the practice's staff mobile per urgent request, outside the quiet
hours, with no details of the request; through the real notifier, NATS, Postgres and the sipgate fake."""

import asyncio
import datetime as dt
import uuid
from pathlib import Path

import pytest
import yaml
from nats.js import JetStreamContext

from ignis.contracts import subjects
from ignis.contracts.requests import RequestCreated, RequestKind
from tests.conftest import TEST_PRACTICE
from tests.fakes.sipgate import FakeSipgate
from tests.notifier.conftest import Clock

STAFF_MOBILE = "0170 5550001"
# 12:00 in Berlin on a weekday: well outside the quiet hours (21:00-08:00).
NOON = dt.datetime(2027, 2, 3, 11, 0, tzinfo=dt.UTC)


@pytest.fixture
def practice_file(tmp_path: Path) -> Path:
    path = tmp_path / "practice.yaml"
    practice = {**TEST_PRACTICE, "sms": {"staff_mobile": STAFF_MOBILE}}
    path.write_text(yaml.safe_dump(practice, allow_unicode=True), encoding="utf-8")
    return path


def created(urgent: bool, kind: RequestKind = RequestKind.rueckruf) -> RequestCreated:
    return RequestCreated(
        event_id=uuid.uuid4(),
        occurred_at=NOON,
        request_id=str(uuid.uuid4()),
        request_kind=kind,
        urgent=urgent,
    )


async def publish(js: JetStreamContext, event: RequestCreated, msg_id: str | None = None) -> None:
    """As the patients service's outbox relay does (another `msg_id`: a copy JetStream does not dedupe)."""
    await js.publish(
        subjects.REQUEST_CREATED,
        event.model_dump_json().encode(),
        stream=subjects.EVENTS_STREAM,
        headers={"Nats-Msg-Id": msg_id or str(event.event_id)},
    )


async def handled(js: JetStreamContext, within_seconds: float = 10.0) -> None:
    """The notifier's consumer of requests has acknowledged everything published so far."""
    deadline = asyncio.get_running_loop().time() + within_seconds
    while asyncio.get_running_loop().time() < deadline:
        info = await js.consumer_info(subjects.EVENTS_STREAM, subjects.NOTIFIER_REQUESTS_CONSUMER)
        if not info.num_pending and not info.num_ack_pending:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("request events not acknowledged")


@pytest.mark.usefixtures("notifier", "clean_database")
class TestStaffAlerts:
    async def test_an_urgent_request_is_texted_once_without_its_details(
        self, js: JetStreamContext, sipgate: FakeSipgate, clock: Clock
    ) -> None:
        clock.fixed = NOON
        event = created(urgent=True)
        await publish(js, event)
        await publish(js, event, msg_id="a-copy")  # delivered twice: still one SMS
        await publish(js, created(urgent=False))  # not urgent: the inbox is enough
        await handled(js)
        assert [(sms["recipient"], sms["message"]) for sms in sipgate.sent] == [
            (
                "+491705550001",
                "Ignis: Neue dringende Anfrage (Rückruf). Bitte im Eingang der Praxis-App ansehen.",
            )
        ]

    async def test_no_alert_in_the_quiet_hours(
        self, js: JetStreamContext, sipgate: FakeSipgate, clock: Clock
    ) -> None:
        clock.fixed = dt.datetime(2027, 2, 3, 22, 30, tzinfo=dt.UTC)  # 23:30 in Berlin
        await publish(js, created(urgent=True))
        await handled(js)
        assert sipgate.requests == []

    async def test_sipgate_down_the_alert_comes_with_the_redelivery(
        self, js: JetStreamContext, sipgate: FakeSipgate, clock: Clock
    ) -> None:
        clock.fixed = NOON
        sipgate.answers[:] = [503]  # nothing sent, worth trying again
        await publish(js, created(urgent=True, kind=RequestKind.rezept))
        await handled(js, within_seconds=30)
        assert [r.status for r in sipgate.requests] == [503, 204]
        assert "(Rezept)" in sipgate.sent[0]["message"]
