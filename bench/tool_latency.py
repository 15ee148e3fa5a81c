"""`identify_patient` through the whole system (gateway → NATS → patients → Postgres), against the same
lookup in-process and the stack's floor.

Starts `ignis up` with 10,000 fictitious patients besides the demo ones, then measures, each for --seconds:
(every call identifies Anna Müller, each from its own caller number, as 200 calls a second come from 200
phones; all of them share her name's identification budget, whose lock serialises them: the worst case)
the tool over HTTP open loop at --rate and with --callers closed-loop callers (its capacity), the floor
under both loads, and `identify` called in this process at --rate and with --callers callers (Ignis record
mode only: in FHIR record mode the patients are on the FHIR server, seeded there, and the in-process runs
are left out).

    python bench/tool_latency.py [--seconds 60] [--rate 200] [--callers 50] [--patients 10000]
        [--record ignis|fhir]
"""

import asyncio
import contextlib
import datetime as dt
import itertools
from typing import Any

import harness
import uvloop
from harness import closed_loop, closed_run, open_run, percentile
from sqlalchemy import insert, text

from ignis.cli.setup import migrate_all, seed_all
from ignis.contracts.patients import IdentifyPatient, PatientIdentified
from ignis.kit.clock import utcnow
from ignis.kit.db import create_engine, get_autocommit_session, make_sessionmaker
from ignis.patients.identity import identify
from ignis.patients.matching import NameMatch, match_name
from ignis.patients.models import Patient
from ignis.patients.repository import PatientRepository
from ignis.patients.settings import PatientsSettings

# The demo practice's Anna Müller, as the agent passes her (umlaut spelled out, German date).
LAST_NAME, BIRTH_DATE = "Mueller", dt.date(1980, 3, 12)
IDENTIFIED = frozenset({"identified"})


def fictitious(patients: int) -> list[dict[str, Any]]:
    """Patients besides the demo ones, none making Anna Müller ambiguous."""
    rows = list(
        harness.fictitious_patients(
            patients,
            reject=lambda name, born: (
                born == BIRTH_DATE and match_name(LAST_NAME, name) is not NameMatch.NONE
            ),
        )
    )
    # Neighbours on her birth date, so her lookup has candidates to reject.
    for row in [r for r in rows if match_name(LAST_NAME, r["last_name"]) is NameMatch.NONE][:3]:
        row["birth_date"] = BIRTH_DATE
    return rows


async def prepare_database(url: str, rows: list[dict[str, Any]]) -> None:
    """The patients, analysed."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            for i in range(0, len(rows), 2000):
                await conn.execute(insert(Patient), rows[i : i + 2000])
            await conn.execute(text("ANALYZE patients.patient"))
    finally:
        await engine.dispose()


def caller(n: int) -> str:
    """The n-th call's number: each call its own, so the caller budgets (5 failures) never lock."""
    return f"+49301{n % 10_000_000:07d}"


class InProcess:
    """`identify` as the patients handler calls it, in this process: a unit of work per call, no bus."""

    def __init__(self, sut: harness.System) -> None:
        self.engine = create_engine(sut.database_url)
        self.sessionmaker = make_sessionmaker(self.engine)
        self.settings = PatientsSettings(_env_file=None, home=sut.home, database_url=sut.database_url)
        self.ids = itertools.count()

    async def __call__(self) -> str:
        n = next(self.ids)
        cmd = IdentifyPatient(
            conversation_id=f"bench-local-{n}",
            caller_id=caller(n),
            last_name=LAST_NAME,
            birth_date=BIRTH_DATE,
        )
        async with contextlib.aclosing(get_autocommit_session(self.sessionmaker, None)) as unit_of_work:
            async for session in unit_of_work:  # the handler's unit of work
                reply = await identify(PatientRepository(session), self.settings, cmd, utcnow())
        return "identified" if isinstance(reply, PatientIdentified) else reply.code.value


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop calls/s")
    parser.add_argument("--callers", type=int, default=50, help="closed-loop callers")
    parser.add_argument(
        "--patients", type=int, default=10_000, help="fictitious patients besides the demo ones"
    )
    args = parser.parse_args()

    async def setup(sut: harness.System) -> dict[str, str]:
        await migrate_all(sut.database_url)
        await seed_all(sut.database_url, None)  # the demo practice
        patients = fictitious(args.patients)
        if sut.fhir_url:  # the demo practice's Anna Müller and the others, on the practice's FHIR server
            anna = {"first_name": "Anna", "last_name": "Müller", "birth_date": BIRTH_DATE}
            resources = [harness.fhir_patient(p) for p in [anna | {"salutation": "Frau"}, *patients]]
            await harness.seed_fhir(sut.fhir_url, resources)
        else:
            await prepare_database(sut.database_url, patients)
        return {}

    rows: list[dict[str, Any]] = []
    with harness.system(setup, args) as sut:
        with harness.http(sut) as (runner, client, floor):
            ids = itertools.count()

            async def call() -> str:
                n = next(ids)
                body = {
                    "conversation_id": f"bench-http-{n}",
                    "caller_id": caller(n),
                    "last_name": LAST_NAME,
                    "birth_date": BIRTH_DATE.strftime("%d.%m.%Y"),
                }
                return (await client.post("identify_patient", body))[0]

            runner.run(closed_loop(call, 10, 60, limit=harness.WARMUP_CALLS))
            s, rate, callers = args.seconds, args.rate, args.callers
            floor_open = open_run(sut, runner, "floor", floor, rate, s, harness.FLOOR_ANSWER)
            http_open = open_run(sut, runner, "identify_patient HTTP", call, rate, s, IDENTIFIED)
            floor_closed = closed_run(sut, runner, "floor", floor, callers, s, harness.FLOOR_ANSWER)
            http_closed = closed_run(sut, runner, "identify_patient HTTP", call, callers, s, IDENTIFIED)
        if args.record == "fhir":
            rows = [http_open.row(floor_open), floor_open.row(), http_closed.row(floor_closed)]
            harness.report("identify", args, [*rows, floor_closed.row()], [])
            return
        local = InProcess(sut)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # uvloop, as the services run
            runner.run(closed_loop(local, 10, 60, limit=harness.WARMUP_CALLS))
            local_open = open_run(sut, runner, "identify in-process", local, rate, s, IDENTIFIED)
            local_closed = closed_run(sut, runner, "identify in-process", local, callers, s, IDENTIFIED)
            runner.run(local.engine.dispose())
    rows = [
        http_open.row(floor_open),
        local_open.row(),
        floor_open.row(),
        http_closed.row(floor_closed),
        local_closed.row(),
        floor_closed.row(),
    ]
    bus = percentile(http_open.latencies(), 50) / percentile(local_open.latencies(), 50)
    notes = [f"identify at {rate:g}/s: through the gateway p50 = {bus:.1f} × in-process p50 (the bus's cost)"]
    harness.report("identify", args, rows, notes)


if __name__ == "__main__":
    main()
