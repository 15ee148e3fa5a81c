"""Latency of the `identify_patient` tool through the whole system, against the same lookup in-process.

A caller waits in silence while a tool runs, so the path gateway → NATS → patients → Postgres must stay
within p50 ≤ 5 ms and p99 ≤ 25 ms at 200 calls/s on a 2-core box. This starts the real system (`ignis up`
on a throw-away embedded NATS and Postgres with extra fictitious patients), drives the tool over HTTP with
aiohttp (httpx itself is the bottleneck at 50 concurrent callers) at fixed open-loop rates and with
closed-loop concurrent callers, and runs `service.identify` directly against the same database as the
floor that HTTP and the bus add to.

    python bench/tool_latency.py [--seconds 10] [--rates 50,200,500] [--concurrency 50] [--patients 10000]
"""

import argparse
import datetime as dt
import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import (
    LATENCY_HEADER,
    InProcess,
    Run,
    Started,
    ToolClient,
    at_rates,
    bench_parser,
    closed_loop,
    fictitious_patients,
    http_client,
    in_process,
    latency_row,
    measure,
    percentile,
    report_cpu,
    report_system,
    run_notes,
    running,
    start_system,
    table,
)
from sqlalchemy import insert, text

from ignis.cli.setup import migrate_all, seed_all
from ignis.contracts.patients import IdentifyPatient, PatientIdentified
from ignis.kit.clock import utcnow
from ignis.kit.db import create_engine
from ignis.patients.identity import identify
from ignis.patients.matching import NameMatch, match_name, normalise, phonetic
from ignis.patients.models import Patient
from ignis.patients.repository import PatientRepository
from ignis.patients.settings import PatientsSettings

# The demo practice's Anna Müller, as the agent would pass her (umlaut spelled out, German date).
LAST_NAME, BIRTH_DATE, BIRTH_DATE_TEXT = "Mueller", dt.date(1980, 3, 12), "12.03.1980"
CALLER_ID = "+4930123456"
WARMUP_CALLS = 200
GOAL_RATE, GOAL_P50_MS, GOAL_P99_MS = 200.0, 5.0, 25.0
IDENTIFIED = frozenset({"identified"})


# --- the system under test -------------------------------------------------------------------------------


def patients_around_mueller(count: int) -> Iterator[dict[str, Any]]:
    """Random patients around the demo ones; none of them makes "Mueller, 12.03.1980" ambiguous."""
    yield from fictitious_patients(
        count,
        reject=lambda last_name, birth_date: (
            birth_date == BIRTH_DATE and match_name(LAST_NAME, last_name) is not NameMatch.NONE
        ),
    )
    # Neighbours on Anna Müller's own birth date, so her lookup has other candidates to reject.
    for first_name, last_name in (("Jonas", "Weber"), ("Mia", "Schneider"), ("Paul", "Kaya")):
        yield {**_neighbour(first_name, last_name), "id": uuid.uuid4()}


def _neighbour(first_name: str, last_name: str) -> dict[str, Any]:
    return {
        "first_name": first_name,
        "last_name": last_name,
        "salutation": None,
        "birth_date": BIRTH_DATE,
        "last_name_key": normalise(last_name),
        "last_name_phonetic": phonetic(last_name),
        "phone": None,
        "insurance": "gesetzlich",
        "sms_consent": False,
        "sms_consent_at": None,
    }


async def prepare_database(url: str, patients: int) -> None:
    """Schema, demo practice and `patients` more fictitious patients, analysed like a table in service."""
    await migrate_all(url)
    await seed_all(url, None)
    engine = create_engine(url, pool_size=1)
    try:
        rows = list(patients_around_mueller(patients)) if patients else []
        async with engine.begin() as conn:
            for i in range(0, len(rows), 2000):
                await conn.execute(insert(Patient), rows[i : i + 2000])
            await conn.execute(text("ANALYZE patients.patient"))
    finally:
        await engine.dispose()


def start(args: argparse.Namespace) -> Started:
    async def setup(_home: Path, database_url: str) -> dict[str, str]:
        await prepare_database(database_url, args.patients)
        return {}

    return start_system(setup)


# --- callers ---------------------------------------------------------------------------------------------


class Identify:
    """`identify_patient` over HTTP, one conversation per call."""

    def __init__(self, client: ToolClient) -> None:
        self.client = client
        self.ids = itertools.count()

    async def __call__(self) -> str:
        body = {
            "conversation_id": f"bench-http-{next(self.ids)}",
            "caller_id": CALLER_ID,
            "last_name": LAST_NAME,
            "birth_date": BIRTH_DATE_TEXT,
        }
        code, _ = await self.client.post("identify_patient", body)
        return code


class InProcessIdentify(InProcess):
    """The same lookup in this process: `service.identify`, as the patients handler calls it."""

    def __init__(self, database_url: str, home: Path) -> None:
        super().__init__(database_url)
        self.settings = PatientsSettings(_env_file=None, home=home, database_url=database_url)

    async def identify(self) -> str:
        cmd = IdentifyPatient(
            conversation_id=f"bench-local-{next(self.ids)}", last_name=LAST_NAME, birth_date=BIRTH_DATE
        )
        async with self.sessionmaker() as session, session.begin():
            reply = await identify(PatientRepository(session), self.settings, cmd, utcnow())
        return "identified" if isinstance(reply, PatientIdentified) else reply.code.value


def run_http(started: Started, args: argparse.Namespace) -> tuple[list[Run], str]:
    with http_client(started, connections=max(1000, 2 * args.concurrency)) as (runner, client):
        call = Identify(client)
        runner.run(closed_loop(call, 20, seconds=60, limit=WARMUP_CALLS))
        runs = at_rates(started, runner, "http open", call, args.rates, args.seconds, IDENTIFIED)
        label = f"http closed c={args.concurrency}"
        work = closed_loop(call, args.concurrency, args.seconds)
        runs.append(measure(started.system, runner, label, work, IDENTIFIED))
        return runs, runner.run(client.get("/metrics"))


def run_in_process(started: Started, args: argparse.Namespace) -> list[Run]:
    system = started.system
    local = InProcessIdentify(started.database_url, system.home)
    with in_process(local) as runner:
        runner.run(closed_loop(local.identify, 10, seconds=60, limit=WARMUP_CALLS))
        work = closed_loop(local.identify, 1, args.seconds)
        runs = [measure(system, runner, "in-process sequential", work, IDENTIFIED)]
        label = f"in-process c={args.concurrency}"
        work = closed_loop(local.identify, args.concurrency, args.seconds)
        runs.append(measure(system, runner, label, work, IDENTIFIED))
        return runs


# --- report ----------------------------------------------------------------------------------------------


def report(runs: list[Run]) -> None:
    print("\nidentify_patient latency in ms, measured from the moment each call was sent")
    print(
        "(open loop: lag = how late the generator sent a call, sched p99 = p99 measured from its schedule)\n"
    )
    print(table(LATENCY_HEADER, [latency_row(run) for run in runs]))
    report_cpu(runs, ["gateway", "patients", "postgres", "nats", "other", "bench"])

    notes = run_notes(runs, "not identified")
    goal = next((r for r in runs if r.rate == GOAL_RATE), None)
    if goal is not None:
        lat = goal.latencies_ms()
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        verdict = "MET" if p50 <= GOAL_P50_MS and p99 <= GOAL_P99_MS and not goal.failures() else "MISSED"
        print(
            f"\nGoal at {GOAL_RATE:g} calls/s: p50 ≤ {GOAL_P50_MS:g} ms and p99 ≤ {GOAL_P99_MS:g} ms, "
            f"all identified: {verdict} (p50 {p50:.2f} ms, p99 {p99:.2f} ms)"
        )
    if notes:
        print("\n" + "\n".join(notes))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser(
        __doc__,
        seconds="duration of each measured run",
        rates=[50.0, 200.0, 500.0],
        rates_help="open-loop rates in calls/s, comma-separated",
    )
    parser.add_argument("--concurrency", type=int, default=50, help="callers of the closed-loop runs")
    parser.add_argument(
        "--patients", type=int, default=10_000, help="fictitious patients besides the demo ones"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    announce = f"Starting the system with {args.patients} extra patients …"
    with running(announce, lambda: start(args), args.keep) as started:
        started.ready(f"measuring {args.seconds:g} s per run:")
        runs, metrics = run_http(started, args)
        runs += run_in_process(started, args)
        report(runs)
        report_system(started.system, metrics)


if __name__ == "__main__":
    main()
