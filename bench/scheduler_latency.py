"""The scheduler's tools through the whole system: `find_slots` over a busy calendar, and a mixed workload.

Starts `ignis up` (one scheduler process unless --scheduler-replicas) with a bench practice of 10
practitioners, 60 % of every practitioner's bookable time booked up to the horizon, and patients whose
callers are already verified. Then, each for --seconds, beside the stack's floor under the same load:

- `find_slots` open loop at --rate and with --callers closed-loop callers (its capacity), with varied
  wishes (WISHES: mostly the earliest slot, a given day, the afternoon or a given practitioner; sometimes
  a rare visit type found only late in the horizon, or one that fits nowhere);
- the mixed workload open loop at --rate (MIX: identify, find, book a slot just offered to that caller,
  where `slot_taken` is an answer, and list). It runs last, since its bookings change the calendar;
- for each further horizon of --horizons, a system of its own with that horizon, and `find_slots` at --rate.

    python bench/scheduler_latency.py [--seconds 60] [--rate 200] [--callers 50] [--horizons 90,30]
        [--patients 2000] [--booked 0.6] [--scheduler-replicas 1] [--seed 1] [--record ignis|fhir]

With `--record fhir` the patients are Patients and the booked time Appointments on the FHIR server (those of
verified callers with the caller as participant, the others with the practitioner only, as the desk blocks
time); the verifications and the link of each Ignis patient id to its FHIR Patient stay in Postgres.
"""

import argparse
import collections
import datetime as dt
import itertools
import json
import random
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness
import yaml
from harness import Outcome, Run, System, ToolClient, closed_loop, closed_run, open_run, percentile
from sqlalchemy import insert, text

from ignis.cli.setup import migrate_all, seed_all
from ignis.fhir import codes
from ignis.fhir.client import FhirClient, reference
from ignis.fhir.ids import patient_id_of
from ignis.kit.clock import utcnow
from ignis.kit.db import create_engine
from ignis.patients.models import FhirPatient, Patient, Verification
from ignis.practice.config import WEEKDAYS, load_practice
from ignis.scheduler.calendar import Calendar
from ignis.scheduler.fhir_directory import ensure_directory

SEED_BLOCK = dt.timedelta(minutes=10)  # booked time is laid down in blocks of this length
CALLER_SHARE_OF_SEEDED = 0.2  # seeded appointments that belong to a verified caller (list_appointments)
DOCTORS = (
    "Weber",
    "Yilmaz",
    "Schneider",
    "Fischer",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
)
IDS = [f"p{i:02d}" for i in range(1, len(DOCTORS) + 1)]
FOUND = frozenset({"slots", "no_slots"})  # answers of find_slots
ANSWERS = FOUND | {"identified", "booked", "slot_taken", "appointments"}  # answers of the mixed workload
MIX = {"identify_patient": 25, "find_slots": 40, "book_appointment": 20, "list_appointments": 15}


def practice(horizon_days: int) -> dict[str, Any]:
    def hours() -> dict[str, list[str]]:  # fresh lists each time: shared ones would become YAML aliases
        return {day: ["08:00-12:00", "14:00-18:00"] for day in WEEKDAYS[:5]}

    return {
        "name": "Benchpraxis",
        "address": {"street": "Teststraße 1", "postal_code": "10115", "city": "Berlin"},
        "phone": "+49 30 1234567",
        "bundesland": "BE",
        "timezone": "Europe/Berlin",
        "opening_hours": hours(),
        "practitioners": [
            {"id": i, "name": f"Dr. {n}", "hours": hours()} for i, n in zip(IDS, DOCTORS, strict=True)
        ],
        "visit_types": [
            {"id": "akut", "name": "Akutsprechstunde", "minutes": 10},
            {"id": "vorsorge", "name": "Vorsorgeuntersuchung", "minutes": 30, "practitioners": IDS[:5]},
            {"id": "blutabnahme", "name": "Blutabnahme", "minutes": 5, "practitioners": IDS[8:]},
            {"id": "erstgespraech", "name": "Erstgespräch", "minutes": 20},
            # Rare: one practitioner, and an hour free in one piece is rare at 60 % booked.
            {
                "id": "ausfuehrlich",
                "name": "Ausführliche Untersuchung",
                "minutes": 60,
                "practitioners": IDS[-1:],
            },
            # Never at 60 % booked: the search walks the whole horizon and finds nothing.
            {"id": "check", "name": "Großer Gesundheits-Check", "minutes": 120, "practitioners": IDS[-1:]},
        ],
        "booking": {
            "min_notice_minutes": 60,
            "horizon_days": horizon_days,
            "grid_minutes": 5,
            "cancel_until_hours": 24,
        },
    }


# --- the wishes callers have (percent of find_slots calls, and the fields of the call) ----------------------

Draw = Callable[[random.Random, dt.date, int], dict[str, Any]]
WISHES: dict[str, tuple[int, Draw]] = {
    "earliest": (30, lambda rng, today, horizon: {"visit_type": "akut"}),
    "day": (
        20,
        lambda rng, today, horizon: {
            "visit_type": rng.choice(("akut", "Vorsorgeuntersuchung", "erstgespraech")),
            "earliest": (today + dt.timedelta(days=rng.randrange(1, horizon - 1))).isoformat(),
        },
    ),
    "afternoon": (
        15,
        lambda rng, today, h: {
            "visit_type": rng.choice(("akut", "erstgespraech")),
            "part_of_day": "nachmittag",
        },
    ),
    "practitioner": (
        20,
        lambda rng, today, h: {"visit_type": "akut", "practitioner": f"Dr. {rng.choice(DOCTORS)}"},
    ),
    "rare": (
        10,
        lambda rng, today, horizon: {
            "visit_type": "ausfuehrlich",
            "latest": (today + dt.timedelta(days=horizon - 1)).isoformat(),
        },
    ),
    "none": (5, lambda rng, today, horizon: {"visit_type": "check"}),
}


class Wishes:
    """Draws wishes in the proportions of WISHES, at random with a fixed seed."""

    def __init__(self, horizon: int, seed: int) -> None:
        self.today, self.horizon, self.rng = utcnow().date(), horizon, random.Random(seed)

    def draw(self) -> tuple[str, dict[str, Any]]:
        kind = self.rng.choices(list(WISHES), [share for share, _ in WISHES.values()])[0]
        return kind, WISHES[kind][1](self.rng, self.today, self.horizon)


# --- the system under test -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """A patient verified in a conversation of their own, as identify_patient leaves it."""

    conversation_id: str
    patient_ref: str
    last_name: str
    birth_date: dt.date
    unique: bool  # the only patient of their birth date: identify_patient finds exactly them

    def body(self, **fields: Any) -> dict[str, Any]:
        return {"conversation_id": self.conversation_id, "patient_ref": self.patient_ref, **fields}


def appointments(
    calendar: Calendar, booked: float, owners: list[uuid.UUID], rng: random.Random
) -> list[tuple[Any, ...]]:
    """`booked` of every practitioner's bookable 10-minute blocks within the horizon, as COPY rows."""
    policy = calendar.practice.booking
    now = utcnow()
    start, end = (
        now + dt.timedelta(minutes=policy.min_notice_minutes),
        now + dt.timedelta(days=policy.horizon_days),
    )
    today = now.astimezone(calendar.zone).date()
    rows = []
    for practitioner in calendar.practice.practitioners:
        blocks = []
        for offset in range(policy.horizon_days + 1):
            for lo, hi in calendar.working_ranges(practitioner, today + dt.timedelta(days=offset)):
                moment = lo
                while moment + SEED_BLOCK <= hi:
                    if start <= moment and moment + SEED_BLOCK <= end:
                        blocks.append(moment)
                    moment += SEED_BLOCK
        for moment in sorted(rng.sample(blocks, round(booked * len(blocks)))):
            owner = rng.choice(owners) if rng.random() < CALLER_SHARE_OF_SEEDED else random_id(rng)
            row = (
                random_id(rng),
                owner,
                practitioner.id,
                "akut",
                moment,
                moment + SEED_BLOCK,
                "booked",
                "bench-seed",
            )
            rows.append(row)
    return rows


def random_id(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128))


def instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


async def seed_fhir(
    sut: System, practice_file: Path, patients: list[dict[str, Any]], rows: list[tuple[Any, ...]]
) -> list[dict[str, Any]]:
    """Patients and appointments on the FHIR server; the patients' ids become the Ignis ids the scheduler
    derives from them. Returns the rows of `patients.fhir_patient`."""
    fhir_ids = await harness.seed_fhir(sut.fhir_url, [harness.fhir_patient(p) for p in patients])
    of_patient = {}
    for patient, fhir_id in zip(patients, fhir_ids, strict=True):
        old, patient["id"] = patient["id"], patient_id_of(fhir_id)
        of_patient[old] = (patient["id"], fhir_id)
    async with FhirClient(sut.fhir_url) as fhir:  # the scheduler finds these by their Ignis identifiers
        directory = await ensure_directory(fhir, load_practice(practice_file))
    appointments = []
    for _id, owner, practitioner, visit_type, start, end, status, _conversation in rows:
        participant = [{"actor": reference("Practitioner", directory.practitioners[practitioner])}]
        if owner in of_patient:
            participant.append({"actor": reference("Patient", of_patient[owner][1])})
        appointments.append({
            "resourceType": "Appointment",
            "status": status,
            "serviceType": [{"coding": [{"system": codes.IGNIS_VISIT_TYPE, "code": visit_type}]}],
            "start": instant(start),
            "end": instant(end),
            "participant": [p | {"status": "accepted"} for p in participant],
        })  # fmt: skip
    await harness.seed_fhir(sut.fhir_url, appointments)
    return [{"patient_id": key, "fhir_id": fhir_id} for key, fhir_id in of_patient.values()]


async def prepare_database(
    sut: System, practice_file: Path, args: argparse.Namespace, callers: list[Caller]
) -> None:
    """Schema, verified callers and a calendar booked to `args.booked`, analysed like tables in service."""
    url = sut.database_url
    await migrate_all(url)
    await seed_all(url, practice_file)
    rng = random.Random(args.seed)
    patients = list(harness.fictitious_patients(args.patients, seed=args.seed))
    rows = appointments(Calendar(load_practice(practice_file)), args.booked, [p["id"] for p in patients], rng)
    links = await seed_fhir(sut, practice_file, patients, rows) if sut.fhir_url else []
    per_day = collections.Counter(p["birth_date"] for p in patients)
    for i, p in enumerate(patients):
        unique = per_day[p["birth_date"]] == 1
        callers.append(Caller(f"bench-caller-{i}", f"pr_bench_{i}", p["last_name"], p["birth_date"], unique))
    expires = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    verifications = [
        {
            "patient_ref": c.patient_ref,
            "conversation_id": c.conversation_id,
            "patient_id": p["id"],
            "expires_at": expires,
        }
        for c, p in zip(callers, patients, strict=True)
    ]
    columns = [
        "id",
        "patient_id",
        "practitioner_id",
        "visit_type_id",
        "start_at",
        "end_at",
        "status",
        "conversation_id",
    ]
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            for i in range(0, len(patients), 2000):
                if links:
                    await conn.execute(insert(FhirPatient), links[i : i + 2000])
                else:
                    await conn.execute(insert(Patient), patients[i : i + 2000])
                await conn.execute(insert(Verification), verifications[i : i + 2000])
            if not links:
                raw = (await conn.get_raw_connection()).driver_connection
                await raw.copy_records_to_table(
                    "appointment", schema_name="scheduler", records=rows, columns=columns
                )
        async with engine.begin() as conn:
            for table in ("patients.patient", "patients.verification", "scheduler.appointment"):
                await conn.execute(text(f"ANALYZE {table}"))
    finally:
        await engine.dispose()
    print(f"Seeded {len(rows)} appointments ({args.booked:.0%} booked) and {len(callers)} verified callers")


# --- callers ---------------------------------------------------------------------------------------------


class Find:
    """`find_slots` over HTTP with the next wish, each call in a conversation of its own."""

    def __init__(self, client: ToolClient, wishes: Wishes) -> None:
        self.client, self.wishes, self.ids = client, wishes, itertools.count()

    async def __call__(self) -> Outcome:
        kind, wish = self.wishes.draw()
        return await harness.tagged(
            kind, self.find({"conversation_id": f"bench-find-{next(self.ids)}", **wish})
        )

    async def find(self, body: dict[str, Any]) -> str:
        return (await self.client.post("find_slots", body))[0]


class Mixed:
    """One call of the mixed workload: the tool drawn by MIX, made by one of the verified callers."""

    def __init__(self, client: ToolClient, callers: list[Caller], wishes: Wishes, seed: int) -> None:
        self.client, self.callers, self.wishes, self.rng = client, callers, wishes, random.Random(seed)
        self.identifiable = [c for c in callers if c.unique]
        self.ids = itertools.count()
        # Slots just offered to a caller, most recent last: a booking takes the latest offer.
        self.offers: collections.deque[tuple[Caller, list[str]]] = collections.deque(maxlen=1000)

    async def __call__(self) -> Outcome:
        tool = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        if tool == "book_appointment" and not self.offers:
            tool = "find_slots"  # nothing offered yet to book
        return await harness.tagged(tool, getattr(self, tool)())

    async def identify_patient(self) -> str:
        caller = self.rng.choice(self.identifiable)
        body = {
            "conversation_id": f"bench-ident-{next(self.ids)}",
            "caller_id": "+4930123456",
            "last_name": caller.last_name,
            "birth_date": caller.birth_date.strftime("%d.%m.%Y"),
        }
        return (await self.client.post("identify_patient", body))[0]

    async def find_slots(self) -> str:
        caller = self.rng.choice(self.callers)
        code, reply = await self.client.post("find_slots", caller.body(**self.wishes.draw()[1]))
        if code == "slots":
            self.offers.append((caller, [slot["slot_id"] for slot in reply["slots"]]))
        return code

    async def book_appointment(self) -> str:
        caller, slot_ids = self.offers.pop()
        return (await self.client.post("book_appointment", caller.body(slot_id=self.rng.choice(slot_ids))))[0]

    async def list_appointments(self) -> str:
        return (await self.client.post("list_appointments", self.rng.choice(self.callers).body()))[0]


# --- runs ------------------------------------------------------------------------------------------------


def started(args: argparse.Namespace, horizon: int, callers: list[Caller]) -> AbstractContextManager[System]:
    async def setup(sut: System) -> dict[str, str]:
        practice_file = sut.home / "bench-practice.yaml"
        practice_file.write_text(
            yaml.safe_dump(practice(horizon), allow_unicode=True, sort_keys=False), "utf-8"
        )
        await prepare_database(sut, practice_file, args, callers)
        env = {"IGNIS_PRACTICE_FILE": str(practice_file)}
        return env | (
            {"IGNIS_REPLICAS": json.dumps({"scheduler": args.scheduler_replicas})}
            if args.scheduler_replicas > 1
            else {}
        )

    print(f"Starting the system: {horizon}-day horizon …", flush=True)
    return harness.system(setup, args)


def by_kind(run: Run) -> str:
    """p99 of each wish or tool of a run."""
    return ", ".join(
        f"{k} {percentile(run.of(k).latencies(), 99):.0f} ms"
        for k in dict.fromkeys(s.tool for s in run.samples)
    )


def measure(args: argparse.Namespace, horizon: int, full: bool) -> tuple[list[Run], list[str]]:
    """find_slots with a `horizon`-day calendar; if `full`, also closed loop and the mixed workload."""
    callers: list[Caller] = []
    s, rate, runs, notes = args.seconds, args.rate, [], []
    with started(args, horizon, callers) as sut, harness.http(sut) as (runner, client, floor):
        find = Find(client, Wishes(horizon, args.seed))
        runner.run(closed_loop(find, 10, 60, limit=harness.WARMUP_CALLS))
        label = f"find_slots {horizon} d"
        runs += [open_run(sut, runner, "floor", floor, rate, s, harness.FLOOR_ANSWER)]
        runs += [open_run(sut, runner, label, find, rate, s, FOUND)]
        notes.append(f"{label} at {rate:g}/s, p99 by wish: {by_kind(runs[-1])}")
        if full:
            runs += [closed_run(sut, runner, "floor", floor, args.callers, s, harness.FLOOR_ANSWER)]
            runs += [closed_run(sut, runner, label, find, args.callers, s, FOUND)]
            mixed = Mixed(client, callers, Wishes(horizon, args.seed + 1), args.seed)
            runner.run(closed_loop(mixed, 10, 60, limit=harness.WARMUP_CALLS))
            runs += [open_run(sut, runner, f"mixed tools {horizon} d", mixed, rate, s, ANSWERS)]
            notes.append(f"mixed tools at {rate:g}/s, p99 by tool: {by_kind(runs[-1])}")
    return runs, notes


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop calls/s")
    parser.add_argument("--callers", type=int, default=50, help="closed-loop callers")
    parser.add_argument("--horizons", default="90,30", help="booking horizons in days; all runs on the first")
    parser.add_argument("--patients", type=int, default=2000, help="patients with a verified caller")
    parser.add_argument("--booked", type=float, default=0.6, help="share of bookable time already booked")
    parser.add_argument(
        "--scheduler-replicas", type=int, default=1, help="scheduler processes (one queue group)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of every random choice")
    args = parser.parse_args()

    horizons = [int(h) for h in args.horizons.split(",")]
    rows, notes, first_p99 = [], [], {}
    for horizon in horizons:
        runs, more = measure(args, horizon, full=horizon == horizons[0])
        floors = {r.load: r for r in runs if r.label == "floor"}
        rows += [r.row(None if r.label == "floor" else floors[r.load]) for r in runs]
        notes += more
        first_p99[horizon] = percentile(runs[1].latencies(), 99)
    if len(horizons) > 1:
        ratios = ", ".join(f"{h} d {first_p99[h]:.0f} ms" for h in horizons)
        notes.append(f"find_slots p99 at {args.rate:g}/s by horizon: {ratios}")
    replicas = f", {args.scheduler_replicas} schedulers" if args.scheduler_replicas > 1 else ""
    harness.report(f"scheduler{replicas}", args, rows, notes)


if __name__ == "__main__":
    main()
