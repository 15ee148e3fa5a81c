"""The notifier killed (SIGKILL) while sipgate holds its request: after a restart the SMS is `unknown`,
never sent a second time, and the restarted notifier goes on sending what is new."""

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from ignis.contracts import subjects
from ignis.notifier.dispatcher import BATCH
from tests.conftest import TEST_DATA_KEYS, verified_caller
from tests.factories import MUELLER
from tests.fakes import sipgate as fake
from tests.fakes.sipgate import HANG, FakeSipgate
from tests.notifier.conftest import forget_history, messages, publish, settled
from tests.notifier.test_notifier import booked_event, in_days
from tests.pii import find_pii

SEND_TIMEOUT_SECONDS = 3.0


class NotifierProcess:
    """`ignis serve notifier` as a process of its own, as a container or `ignis up` runs it."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ignis.cli.main", "serve", "notifier"],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def notifier_process(
    nats_url: str, database_url: str, practice_file: Path, sipgate: FakeSipgate, tmp_path: Path
) -> Iterator[NotifierProcess]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("IGNIS_")} | {
        "IGNIS_HOME": str(tmp_path),
        "IGNIS_DATA_KEYS": TEST_DATA_KEYS,  # the test reads the SMS texts it wrote
        "IGNIS_NATS_URL": nats_url,
        "IGNIS_DATABASE_URL": database_url,
        "IGNIS_PRACTICE_FILE": str(practice_file),
        "IGNIS_LOG_FORMAT": "json",
        "IGNIS_SMS_PROVIDER": "sipgate",
        "IGNIS_SIPGATE_API_URL": sipgate.url,
        "IGNIS_SIPGATE_TOKEN_ID": fake.TOKEN_ID,
        "IGNIS_SIPGATE_TOKEN": fake.TOKEN,
        "IGNIS_SMS_TIMEOUT_SECONDS": str(SEND_TIMEOUT_SECONDS),
    }
    notifier = NotifierProcess(env, tmp_path / "notifier.log")
    yield notifier
    notifier.kill()
    assert not find_pii(notifier.log.read_text(errors="replace")), "patient data in the notifier's log"


@pytest.mark.usefixtures("services")
async def test_killed_while_sending_never_sends_twice(
    notifier_process: NotifierProcess,
    nats_url: str,
    engine: AsyncEngine,
    sipgate: FakeSipgate,
    js: JetStreamContext,
) -> None:
    await forget_history(nats_url)
    caller = await verified_caller(engine, MUELLER)
    sipgate.answers.append(HANG)
    notifier_process.start()
    await publish(js, subjects.APPOINTMENT_BOOKED, booked_event(caller.patient_id, in_days(3)))

    assert len(await sipgate.wait_for_requests(1, within_seconds=30)) == 1
    notifier_process.kill()  # sipgate has the request; the notifier never learns what became of it
    [confirmation] = await messages(engine, template="confirmation")
    assert confirmation["status"] == "sending"

    notifier_process.start()
    # Once the dead sender's request must have timed out (timeout + margin), the message is unknown.
    [confirmation] = await settled(engine, 1, within_seconds=60, template="confirmation")
    assert confirmation["status"] == "unknown"
    assert confirmation["reason"].startswith("the notifier stopped while sending")

    # The restarted notifier works, and the unknown SMS was not sent again meanwhile.
    await publish(js, subjects.APPOINTMENT_BOOKED, booked_event(caller.patient_id, in_days(4)))
    rows = await settled(engine, 2, within_seconds=30, template="confirmation")
    assert sorted(r["status"] for r in rows) == ["sent", "unknown"]
    assert [r.status for r in sipgate.requests] == [HANG, 204]


BURST = 120  # bookings: several of the dispatcher's batches


@pytest.mark.usefixtures("services")
async def test_killed_mid_burst_each_sms_still_at_most_once_and_the_rest_sent_after_a_restart(
    notifier_process: NotifierProcess,
    nats_url: str,
    engine: AsyncEngine,
    sipgate: FakeSipgate,
    js: JetStreamContext,
) -> None:
    """Killed while a batch of a burst is with sipgate, then every event delivered again (its consumer
    deleted, so the restarted notifier reads the burst from the start): no SMS goes out twice, each of
    the batch that was on its way is `unknown`, and every other one is sent once."""
    await forget_history(nats_url)
    caller = await verified_caller(engine, MUELLER)
    sipgate.answers.append(HANG)  # the first request of the first batch: the batch waits for it
    start = in_days(3)
    for n in range(BURST):  # distinct times, so distinct texts
        await publish(
            js,
            subjects.APPOINTMENT_BOOKED,
            booked_event(caller.patient_id, start + dt.timedelta(minutes=10 * n)),
        )

    notifier_process.start()  # the burst is waiting: its first batches are planned and sent at once
    assert len(await sipgate.wait_for_requests(1, within_seconds=30)) >= 1
    notifier_process.kill()
    assert len(sipgate.requests) < BURST  # the burst was cut short
    await js.delete_consumer(subjects.EVENTS_STREAM, subjects.NOTIFIER_APPOINTMENTS_CONSUMER)

    notifier_process.start()
    rows = await settled(engine, BURST, within_seconds=90, template="confirmation")
    assert len(rows) == BURST  # the events delivered again planned nothing new
    statuses = {r["status"] for r in rows}
    assert statuses <= {"sent", "unknown"}, statuses
    requested = [r.body["message"] for r in sipgate.requests]
    assert len(requested) == len(set(requested)), "an SMS was requested twice"
    texts = {r["body"]: r["status"] for r in rows}
    assert len(texts) == BURST
    assert set(requested) <= set(texts)
    assert all(text in requested for text, status in texts.items() if status == "sent")
    hung = sipgate.requests[0].body["message"]
    assert texts[hung] == "unknown"
    # What was on its way when the notifier was killed is one batch at most; everything else was sent.
    assert 1 <= sum(status == "unknown" for status in texts.values()) <= BATCH
