"""How fast a burst of bookings becomes SMS: appointment events through JetStream, the notifier's consumer,
its plan in Postgres, the patients service's contact check and the provider, as `ignis up` runs them.

Publishes --events `appointment.booked` events at once (as the scheduler's outbox relay would after a
busy minute) for fictitious patients with SMS consent, and measures each from its `occurred_at` to its
confirmation's `finished_at` (the provider answered); ok/s is SMS/s. The provider is `log` (no network), so
the numbers are Ignis' own share. The floor is the same burst on a stream of its own to a consumer that
does nothing. (--seconds does not apply: the burst is done when every event is.)

    python bench/sms_latency.py [--events 2000]
"""

import asyncio
import contextlib
import datetime as dt
import json
import time
import uuid
from collections import Counter

import floor
import harness
import nats
from harness import Sample
from nats.aio.msg import Msg
from sqlalchemy import insert, text

from ignis.cli.setup import migrate_all
from ignis.contracts import subjects
from ignis.contracts.scheduling import AppointmentBooked
from ignis.kit.clock import utcnow
from ignis.kit.db import create_engine
from ignis.patients.models import Patient

WITHIN_SECONDS = 180.0
SENT = frozenset({"sent"})


async def seed(database_url: str, count: int) -> list[uuid.UUID]:
    await migrate_all(database_url)
    now = utcnow()
    rows = [row | {"sms_consent": True, "sms_consent_at": now} for row in harness.fictitious_patients(count)]
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(Patient), rows)
    finally:
        await engine.dispose()
    return [row["id"] for row in rows]


def booked(index: int, patient_id: uuid.UUID) -> AppointmentBooked:
    start = utcnow().replace(microsecond=0) + dt.timedelta(days=3, minutes=index)
    return AppointmentBooked(
        event_id=uuid.uuid4(),
        occurred_at=utcnow(),
        appointment_id=uuid.uuid4(),
        patient_id=patient_id,
        practitioner_id="weber",
        visit_type_id="akut",
        start=start,
        end=start + dt.timedelta(minutes=10),
    )


async def burst(sut: harness.System, patients: list[uuid.UUID], cpu: Counter[str]) -> list[Sample]:
    """All bookings published at once; then each event's way to its SMS, from the notifier's table. `cpu`
    receives the CPU seconds each kind of process spent from the first publish until the last SMS."""
    before = sut.cpu_by_kind()
    nc = await nats.connect(sut.nats_url)
    js = nc.jetstream()
    events = [booked(i, p) for i, p in enumerate(patients)]
    await asyncio.gather(
        *(
            js.publish(
                subjects.APPOINTMENT_BOOKED,
                e.model_dump_json().encode(),
                stream=subjects.EVENTS_STREAM,
                headers={"Nats-Msg-Id": str(e.event_id)},
            )
            for e in events
        )
    )
    await nc.close()
    sent = {e.event_id: e.occurred_at.timestamp() for e in events}
    engine = create_engine(sut.database_url, pool_size=1)
    query = text("SELECT event_id, status, finished_at FROM notifier.message WHERE template = 'confirmation'")
    deadline = time.monotonic() + WITHIN_SECONDS
    try:
        while True:
            async with engine.connect() as conn:
                rows = (await conn.execute(query)).all()
            done = [r for r in rows if r.status not in ("pending", "claimed", "sending")]
            if len(done) >= len(events) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()
    cpu.update(sut.cpu_by_kind())
    cpu.subtract(before)
    samples = [Sample(sent[r.event_id], sent[r.event_id], r.finished_at.timestamp(), r.status) for r in done]
    missing = len(events) - len(samples)
    return samples + [Sample(0.0, 0.0, 0.0, "timeout")] * missing


async def floor_burst(sut: harness.System, count: int) -> list[Sample]:
    """The same burst to the floor's consumer, from each publish to the floor saying it saw the message."""
    nc = await nats.connect(sut.nats_url)
    js, seen, everything = nc.jetstream(), {}, asyncio.Event()

    async def on_seen(msg: Msg) -> None:
        seen[json.loads(msg.data)["n"]] = time.perf_counter()
        if len(seen) == count:
            everything.set()

    await nc.subscribe(floor.SEEN, cb=on_seen)
    began = time.perf_counter()
    await asyncio.gather(*(js.publish(floor.EVENTS, json.dumps({"n": n}).encode()) for n in range(count)))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(everything.wait(), WITHIN_SECONDS)
    await nc.close()
    return [
        Sample(began, began, seen[n], "sent") if n in seen else Sample(0, 0, 0, "timeout")
        for n in range(count)
    ]


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--events", type=int, default=2000, help="bookings in the burst")
    args = parser.parse_args()
    patients: list[uuid.UUID] = []

    async def setup(sut: harness.System) -> dict[str, str]:
        patients.extend(await seed(sut.database_url, args.events))
        return {"IGNIS_SMS_PROVIDER": "log"}

    load = f"{args.events} events at once"
    with harness.system(setup, args) as sut, asyncio.Runner() as runner:
        empty = floor_burst(sut, args.events)
        base = harness.measure(
            sut, runner, "floor: JetStream, empty consumer", load, empty, SENT, paced=False
        )
        cpu: Counter[str] = Counter()
        sms = harness.measure(
            sut, runner, "booking → SMS sent", load, burst(sut, patients, cpu), SENT, paced=False
        )
    sent = max(1, sum(1 for s in sms.samples if s.outcome == "sent"))
    per_sms = ", ".join(f"{kind} {1000 * seconds / sent:.2f}" for kind, seconds in cpu.most_common())
    notes = [f"CPU ms per SMS sent (from the first publish to the last SMS): {per_sms}"]
    harness.report("sms", args, [sms.row(base), base.row()], notes)


if __name__ == "__main__":
    main()
