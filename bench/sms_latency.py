"""How fast a booking becomes an SMS: appointment events through JetStream, the notifier's consumer, its
plan in Postgres, the patients service's contact check and the provider, as `ignis up` runs them.

Publishes `appointment.booked` events (as the scheduler's outbox relay does) for fictitious patients with
SMS consent, at a fixed open-loop rate, and measures from each event's `occurred_at` to its confirmation's
`finished_at` (the provider answered), plus the throughput. The provider is `log` (no network), so the
numbers are Ignis' own share; sipgate's answer time comes on top.

    python bench/sms_latency.py [--events 500] [--rate 50] [--keep]
"""

import argparse
import asyncio
import datetime as dt
import time
import uuid

import nats
from harness import fictitious_patients, percentile, start_system, stop_and_clean, table
from sqlalchemy import insert, text

from ignis.cli.setup import migrate_all
from ignis.contracts import subjects
from ignis.contracts.scheduling import AppointmentBooked
from ignis.kit.clock import utcnow
from ignis.kit.db import create_engine
from ignis.patients.models import Patient


async def seed(database_url: str, count: int) -> list[uuid.UUID]:
    await migrate_all(database_url)
    rows = [row | {"sms_consent": True, "sms_consent_at": utcnow()} for row in fictitious_patients(count)]
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(Patient), rows)
    finally:
        await engine.dispose()
    return [row["id"] for row in rows]


async def publish(
    nats_url: str, patients: list[uuid.UUID], rate: float, sent: dict[uuid.UUID, dt.datetime]
) -> float:
    """Publish one booking per patient at `rate` per second, noting each event's time in `sent`; returns
    the seconds it took."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    start = time.perf_counter()
    for index, patient_id in enumerate(patients):
        await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
        appointment_start = utcnow().replace(microsecond=0) + dt.timedelta(days=3, minutes=index)
        event = AppointmentBooked(
            event_id=uuid.uuid4(),
            occurred_at=utcnow(),
            appointment_id=uuid.uuid4(),
            patient_id=patient_id,
            practitioner_id="weber",
            visit_type_id="akut",
            start=appointment_start,
            end=appointment_start + dt.timedelta(minutes=10),
        )
        sent[event.event_id] = event.occurred_at
        await js.publish(
            subjects.APPOINTMENT_BOOKED,
            event.model_dump_json().encode(),
            stream=subjects.EVENTS_STREAM,
            headers={"Nats-Msg-Id": str(event.event_id)},
        )
    took = time.perf_counter() - start
    await nc.close()
    return took


async def collect(
    database_url: str, count: int, within_seconds: float
) -> list[tuple[dt.datetime, dt.datetime]]:
    """(created_at, finished_at) of every sent confirmation, once all `count` are done (or time is up)."""
    engine = create_engine(database_url, pool_size=1)
    deadline = time.monotonic() + within_seconds
    try:
        while True:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        text(
                            "SELECT status, event_id, finished_at FROM notifier.message "
                            "WHERE template = 'confirmation'"
                        )
                    )
                ).all()
            done = [r for r in rows if r.status not in ("pending", "claimed", "sending")]
            if len(done) >= count or time.monotonic() > deadline:
                return [(r.event_id, r.finished_at) for r in done if r.status == "sent"]
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--keep", action="store_true", help="keep data and logs")
    args = parser.parse_args()

    patients: list[uuid.UUID] = []

    async def setup(_home: object, database_url: str) -> dict[str, str]:
        patients.extend(await seed(database_url, args.events))
        return {"IGNIS_SMS_PROVIDER": "log"}

    up = start_system(setup, roles=("patients", "notifier"))
    system, database_url = up.system, up.database_url
    try:
        sent: dict[uuid.UUID, dt.datetime] = {}
        started = time.time()
        took = asyncio.run(publish(system.nats_url, patients, args.rate, sent))
        rows = asyncio.run(collect(database_url, len(patients), within_seconds=120))
        finished = time.time() - started
        latencies = sorted((done - sent[event_id]).total_seconds() * 1000 for event_id, done in rows)
        print(f"\n{len(patients)} bookings published in {took:.1f} s ({len(patients) / took:.0f}/s)")
        print(
            table(
                ["measure", "n", "p50 ms", "p99 ms", "max ms", "throughput /s"],
                [
                    [
                        "event → SMS sent",
                        str(len(latencies)),
                        f"{percentile(latencies, 50):.1f}",
                        f"{percentile(latencies, 99):.1f}",
                        f"{latencies[-1]:.1f}" if latencies else "-",
                        f"{len(latencies) / finished:.0f}",
                    ]
                ],
            )
        )
        if len(latencies) < len(patients):
            print(f"!! only {len(latencies)} of {len(patients)} confirmations were sent")
    finally:
        stop_and_clean(system, args.keep)


if __name__ == "__main__":
    main()
