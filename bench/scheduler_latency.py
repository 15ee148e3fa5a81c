"""Latency of the scheduler's tools through the whole system: `find_slots` over a busy 90-day calendar,
and a mixed tool workload (identify, find, book, list), against `find_slots` in-process.

Goal: `find_slots` p99 ≤ 25 ms end to end (gateway → NATS → scheduler → Postgres and back). This starts the
real system (`ignis up` on a throw-away embedded NATS and Postgres) with a bench practice of 10
practitioners and a 90-day booking horizon, fills 60 % of every practitioner's bookable time with
appointments, seeds patients whose callers are already verified, and then:

- sends `find_slots` at fixed open-loop rates with varied wishes (WISHES: mostly the earliest slot, a
  given day, the afternoon or a given practitioner; sometimes a rare visit type found only late in the
  horizon, or one that fits nowhere);
- runs `service.find_slots` directly against the same database, sequentially, as the floor that HTTP and
  the bus add to, with the time spent reading booked time (`repository.busy`) broken out;
- sends a mixed workload open loop: identify_patient 25 %, find_slots 40 %, book_appointment 20 % (a slot
  just offered to that caller; `slot_taken` is a valid outcome) and list_appointments 15 %. It runs last,
  since its bookings change the calendar.

    python bench/scheduler_latency.py [--seconds 10] [--rates 50,200] [--mixed-rate 200]
        [--mixed-seconds 20] [--callers 2000] [--booked 0.6] [--history-days 0] [--seed 1] [--keep]
"""

import argparse
import collections
import datetime as dt
import itertools
import json
import random
import statistics
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from harness import (
    LATENCY_HEADER,
    InProcess,
    Outcome,
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
    open_loop,
    percentile,
    report_cpu,
    report_system,
    run_notes,
    running,
    start_system,
    table,
)
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from ignis.cli.setup import migrate_all, seed_all
from ignis.contracts.base import ErrorReply
from ignis.contracts.scheduling import FindSlots
from ignis.kit.clock import utcnow
from ignis.kit.db import create_engine
from ignis.patients.models import Patient, Verification
from ignis.practice.config import WEEKDAYS, load_practice
from ignis.scheduler.calendar import Calendar
from ignis.scheduler.repository import AppointmentRepository
from ignis.scheduler.service import find_slots

GOAL_P99_MS = 25.0
WARMUP_CALLS = 300
SEED_BLOCK = dt.timedelta(minutes=10)  # booked time is laid down in blocks of this length
CALLER_SHARE_OF_SEEDED = 0.2  # seeded appointments that belong to a verified caller (list_appointments)
CALLER_ID = "+4930123456"

# --- the bench practice ----------------------------------------------------------------------------------

# fmt: off
DOCTORS = (
    "Weber", "Yilmaz", "Schneider", "Fischer", "Wagner", "Becker", "Hoffmann", "Koch", "Richter", "Klein",
)
# fmt: on


def weekday_hours() -> dict[str, list[str]]:
    """Monday to Friday, 08-12 and 14-18 (fresh lists: shared ones would become YAML aliases)."""
    return {day: ["08:00-12:00", "14:00-18:00"] for day in WEEKDAYS[:5]}


IDS = [f"p{i:02d}" for i in range(1, len(DOCTORS) + 1)]
BENCH_PRACTICE: dict[str, Any] = {
    "name": "Benchpraxis",
    "address": {"street": "Teststraße 1", "postal_code": "10115", "city": "Berlin"},
    "phone": "+49 30 1234567",
    "bundesland": "BE",
    "timezone": "Europe/Berlin",
    "opening_hours": weekday_hours(),
    "practitioners": [
        {"id": pid, "name": f"Dr. {name}", "hours": weekday_hours()}
        for pid, name in zip(IDS, DOCTORS, strict=True)
    ],
    "visit_types": [
        {"id": "akut", "name": "Akutsprechstunde", "minutes": 10},
        {"id": "vorsorge", "name": "Vorsorgeuntersuchung", "minutes": 30, "practitioners": IDS[:5]},
        {"id": "blutabnahme", "name": "Blutabnahme", "minutes": 5, "practitioners": IDS[8:]},
        {"id": "erstgespraech", "name": "Erstgespräch", "minutes": 20},
        # Rarely available: one practitioner, and an hour free in one piece is rare at 60 % booked.
        {"id": "ausfuehrlich", "name": "Ausführliche Untersuchung", "minutes": 60, "practitioners": IDS[-1:]},
        # Never available at 60 % booked: the search walks the whole horizon twice and finds nothing.
        {"id": "check", "name": "Großer Gesundheits-Check", "minutes": 120, "practitioners": IDS[-1:]},
    ],
    "booking": {"min_notice_minutes": 60, "horizon_days": 90, "grid_minutes": 5, "cancel_until_hours": 24},
}

# --- the wishes callers have -----------------------------------------------------------------------------

Wish = dict[str, Any]  # fields of FindSlots besides the conversation; dates as dt.date


@dataclass(frozen=True)
class WishKind:
    share: int  # percent of the find_slots calls
    draw: Callable[[random.Random, dt.date], Wish]
    what: str


# Mostly the next free slot or a given day, now and then a wish the calendar can hardly or never meet.
WISHES: dict[str, WishKind] = {
    "earliest": WishKind(30, lambda rng, today: {"visit_type": "akut"}, "akut, the next free slots"),
    "day": WishKind(
        20,
        lambda rng, today: {
            "visit_type": rng.choice(("akut", "Vorsorgeuntersuchung", "erstgespraech")),
            "earliest": today + dt.timedelta(days=rng.randrange(1, 89)),
        },
        "akut/vorsorge/erstgespräch from a random day of the horizon",
    ),
    "afternoon": WishKind(
        15,
        lambda rng, today: {"visit_type": rng.choice(("akut", "erstgespraech")), "part_of_day": "nachmittag"},
        "akut/erstgespräch, nachmittag",
    ),
    "practitioner": WishKind(
        20,
        lambda rng, today: {"visit_type": "akut", "practitioner": f"Dr. {rng.choice(DOCTORS)}"},
        "akut with one of the 10 practitioners",
    ),
    "rare": WishKind(
        10,
        lambda rng, today: {"visit_type": "ausfuehrlich", "latest": today + dt.timedelta(days=89)},
        "60 min with one practitioner, up to the horizon",
    ),
    "none": WishKind(5, lambda rng, today: {"visit_type": "check"}, "120 min, fits nowhere"),
}


class Wishes:
    """Draws wishes in the proportions of WISHES, at random with a fixed seed."""

    def __init__(self, today: dt.date, seed: int) -> None:
        self.today = today
        self.rng = random.Random(seed)
        self.kinds = list(WISHES)
        self.shares = [kind.share for kind in WISHES.values()]

    def draw(self) -> tuple[str, Wish]:
        variant = self.rng.choices(self.kinds, self.shares)[0]
        return variant, WISHES[variant].draw(self.rng, self.today)


def as_body(wish: Wish) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in wish.items()}


# --- the system under test -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """A patient verified in a conversation of their own, as identify_patient would leave it."""

    conversation_id: str
    patient_ref: str
    patient_id: uuid.UUID
    last_name: str
    birth_date: dt.date
    unique: bool  # the only patient of their birth date: identify_patient finds exactly them

    def body(self, **fields: Any) -> dict[str, Any]:
        return {"conversation_id": self.conversation_id, "patient_ref": self.patient_ref, **fields}


@dataclass
class Seeded:
    callers: list[Caller] = field(default_factory=list)
    appointments: int = 0
    bookable_blocks: int = 0
    history: int = 0  # appointments in the past
    seconds: float = 0.0


def seeded_appointments(
    calendar: Calendar,
    now: dt.datetime,
    args: argparse.Namespace,
    patients: list[uuid.UUID],
    rng: random.Random,
) -> tuple[list[tuple[Any, ...]], int, int]:
    """`args.booked` of every practitioner's bookable 10-minute blocks within the horizon, booked, and as
    much of the past `args.history_days`: (COPY rows, bookable blocks ahead, rows in the past)."""
    policy = calendar.practice.booking
    start, end = (
        now + dt.timedelta(minutes=policy.min_notice_minutes),
        now + dt.timedelta(days=policy.horizon_days),
    )
    first_day = now.astimezone(calendar.zone).date()
    rows: list[tuple[Any, ...]] = []
    ahead_total = past_total = 0
    for practitioner in calendar.practice.practitioners:
        ahead, past = [], []
        for offset in range(-args.history_days, policy.horizon_days + 1):
            for lo, hi in calendar.working_ranges(practitioner, first_day + dt.timedelta(days=offset)):
                moment = lo
                while moment + SEED_BLOCK <= hi:
                    if start <= moment and moment + SEED_BLOCK <= end:
                        ahead.append(moment)
                    elif args.history_days and moment + SEED_BLOCK <= now:
                        past.append(moment)
                    moment += SEED_BLOCK
        ahead_total += len(ahead)
        booked = [
            *rng.sample(ahead, round(args.booked * len(ahead))),
            *rng.sample(past, round(args.booked * len(past))),
        ]
        past_total += round(args.booked * len(past))
        for moment in sorted(booked):
            owner = (
                rng.choice(patients)
                if rng.random() < CALLER_SHARE_OF_SEEDED
                else uuid.UUID(int=rng.getrandbits(128))
            )
            rows.append(
                (
                    uuid.UUID(int=rng.getrandbits(128)),
                    owner,
                    practitioner.id,
                    "akut",
                    moment,
                    moment + SEED_BLOCK,
                    "booked",
                    "bench-seed",
                )
            )
    return rows, ahead_total, past_total


async def prepare_database(url: str, practice_file: Path, args: argparse.Namespace, seeded: Seeded) -> None:
    """Schema, verified callers and a calendar booked to `args.booked`, analysed like tables in service."""
    began = time.perf_counter()
    await migrate_all(url)
    await seed_all(url, practice_file)
    rng = random.Random(args.seed)
    patients = list(fictitious_patients(args.callers, seed=args.seed))
    per_day = collections.Counter(p["birth_date"] for p in patients)
    expires = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    seeded.callers = [
        Caller(
            f"bench-caller-{i}",
            f"pr_bench_{i}",
            p["id"],
            p["last_name"],
            p["birth_date"],
            per_day[p["birth_date"]] == 1,
        )
        for i, p in enumerate(patients)
    ]
    verifications = [
        {
            "patient_ref": c.patient_ref,
            "conversation_id": c.conversation_id,
            "patient_id": c.patient_id,
            "expires_at": expires,
        }
        for c in seeded.callers
    ]
    calendar = Calendar(load_practice(practice_file))
    rows, seeded.bookable_blocks, seeded.history = seeded_appointments(
        calendar, utcnow(), args, [c.patient_id for c in seeded.callers], rng
    )
    seeded.appointments = len(rows) - seeded.history
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            for i in range(0, len(patients), 2000):
                await conn.execute(insert(Patient), patients[i : i + 2000])
            for i in range(0, len(verifications), 2000):
                await conn.execute(insert(Verification), verifications[i : i + 2000])
            raw = await conn.get_raw_connection()
            await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                "appointment",
                schema_name="scheduler",
                records=rows,
                columns=[
                    "id",
                    "patient_id",
                    "practitioner_id",
                    "visit_type_id",
                    "start_at",
                    "end_at",
                    "status",
                    "conversation_id",
                ],
            )
        async with engine.begin() as conn:
            for table_name in ("patients.patient", "patients.verification", "scheduler.appointment"):
                await conn.execute(text(f"ANALYZE {table_name}"))
    finally:
        await engine.dispose()
    seeded.seconds = time.perf_counter() - began


def practice_file_of(home: Path) -> Path:
    return home / "bench-practice.yaml"


def start(args: argparse.Namespace, seeded: Seeded) -> Started:
    async def setup(home: Path, database_url: str) -> dict[str, str]:
        practice_file = practice_file_of(home)
        practice_file.write_text(
            yaml.safe_dump(BENCH_PRACTICE, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
        await prepare_database(database_url, practice_file, args, seeded)
        replicas = json.dumps({"scheduler": args.scheduler_replicas})
        return {"IGNIS_PRACTICE_FILE": str(practice_file), "IGNIS_REPLICAS": replicas}

    return start_system(setup, roles=("gateway", "patients", "scheduler"))


# --- callers ---------------------------------------------------------------------------------------------

FOUND = frozenset({"slots", "no_slots"})  # answers of find_slots
ANSWERS = FOUND | {"identified", "booked", "slot_taken", "appointments"}  # answers of the mixed workload
MIX = {"identify_patient": 25, "find_slots": 40, "book_appointment": 20, "list_appointments": 15}


def reach(code: str, reply: dict[str, Any], since: dt.date) -> int | None:
    """How far the search went: days from `since` to the last offered slot, or to the next possible day of
    a `no_slots` reply; None if neither."""
    if code == "slots" and reply.get("slots"):
        return (dt.date.fromisoformat(reply["slots"][-1]["start"][:10]) - since).days
    if code == "no_slots" and reply.get("next_possible"):
        return (dt.date.fromisoformat(reply["next_possible"]) - since).days
    return None


class Find:
    """`find_slots` over HTTP with the next wish, each call in a conversation of its own."""

    def __init__(self, client: ToolClient, wishes: Wishes) -> None:
        self.client = client
        self.wishes = wishes
        self.ids = itertools.count()
        # variant -> reach() from the wished earliest day, or today
        self.reach: dict[str, list[int | None]] = collections.defaultdict(list)

    async def __call__(self) -> Outcome:
        variant, wish = self.wishes.draw()
        body = {"conversation_id": f"bench-find-{next(self.ids)}", **as_body(wish)}
        code, reply = await self.client.post("find_slots", body)
        since = wish.get("earliest", self.wishes.today)
        self.reach[variant].append(reach(code, reply, since))
        return variant, code


class Mixed:
    """One call of the mixed workload: the tool drawn by MIX, made by one of the verified callers."""

    def __init__(self, client: ToolClient, callers: list[Caller], wishes: Wishes, seed: int) -> None:
        self.client = client
        self.callers = callers
        self.identifiable = [c for c in callers if c.unique]
        self.wishes = wishes
        self.rng = random.Random(seed)
        self.ids = itertools.count()
        # Slots just offered to a caller, most recent last: a booking takes the latest offer.
        self.offers: collections.deque[tuple[Caller, list[str]]] = collections.deque(maxlen=1000)
        self.unfed = 0  # bookings that found no offer to take and searched instead

    async def __call__(self) -> Outcome:
        tool = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        if tool == "book_appointment" and not self.offers:
            self.unfed += 1
            tool = "find_slots"
        try:
            return tool, await getattr(self, tool)()
        except Exception as exc:  # tagged with its tool, unlike harness.timed's fallback
            return tool, type(exc).__name__

    async def identify_patient(self) -> str:
        caller = self.rng.choice(self.identifiable)
        body = {
            "conversation_id": f"bench-ident-{next(self.ids)}",
            "caller_id": CALLER_ID,
            "last_name": caller.last_name,
            "birth_date": caller.birth_date.strftime("%d.%m.%Y"),
        }
        return (await self.client.post("identify_patient", body))[0]

    async def find_slots(self) -> str:
        caller = self.rng.choice(self.callers)
        _, wish = self.wishes.draw()
        code, reply = await self.client.post("find_slots", caller.body(**as_body(wish)))
        if code == "slots":
            self.offers.append((caller, [slot["slot_id"] for slot in reply["slots"]]))
        return code

    async def book_appointment(self) -> str:
        caller, slot_ids = self.offers.pop()
        body = caller.body(slot_id=self.rng.choice(slot_ids), reason="Bench")
        return (await self.client.post("book_appointment", body))[0]

    async def list_appointments(self) -> str:
        return (await self.client.post("list_appointments", self.rng.choice(self.callers).body()))[0]


class TimedRepository(AppointmentRepository):
    """The scheduler's repository, counting the reads of booked time and the time they take."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self.reads = 0
        self.seconds = 0.0

    async def busy(
        self, practitioner_ids: Collection[str], start: dt.datetime, end: dt.datetime
    ) -> dict[str, list[tuple[dt.datetime, dt.datetime]]]:
        began = time.perf_counter()
        try:
            return await super().busy(practitioner_ids, start, end)
        finally:
            self.reads += 1
            self.seconds += time.perf_counter() - began


class InProcessFind(InProcess):
    """`service.find_slots` in this process, as the scheduler handler calls it."""

    def __init__(self, database_url: str, calendar: Calendar, wishes: Wishes) -> None:
        super().__init__(database_url)
        self.calendar = calendar
        self.wishes = wishes
        self.reads: dict[str, list[tuple[int, float]]] = collections.defaultdict(list)  # (reads, seconds)

    async def __call__(self) -> Outcome:
        variant, wish = self.wishes.draw()
        cmd = FindSlots(conversation_id=f"bench-local-{next(self.ids)}", **wish)
        async with self.sessionmaker() as session, session.begin():
            repo = TimedRepository(session)
            reply = await find_slots(repo, self.calendar, cmd, utcnow())
        self.reads[variant].append((repo.reads, repo.seconds))
        code = reply.code.value if isinstance(reply, ErrorReply) else reply.kind
        return variant, code


# --- runs ------------------------------------------------------------------------------------------------


@dataclass
class Results:
    today: dt.date
    finds: list[Run] = field(default_factory=list)
    mixed: Run | None = None
    local: Run | None = None
    find: Find | None = None
    mix: Mixed | None = None
    in_process: InProcessFind | None = None
    metrics: str = ""


def run_finds(started: Started, args: argparse.Namespace, results: Results) -> None:
    """find_slots alone at each rate: the calendar stays as seeded, since nothing books."""
    with http_client(started) as (runner, client):
        find = results.find = Find(client, Wishes(results.today, args.seed))
        runner.run(closed_loop(find, 10, seconds=60, limit=WARMUP_CALLS))
        find.reach.clear()
        results.finds += at_rates(started, runner, "find", find, args.rates, args.seconds, FOUND)


def run_mixed(started: Started, args: argparse.Namespace, seeded: Seeded, results: Results) -> None:
    """The mixed workload, last: its bookings change the calendar the other runs measure."""
    with http_client(started) as (runner, client):
        wishes = Wishes(results.today, args.seed + 1)
        mix = results.mix = Mixed(client, seeded.callers, wishes, args.seed)
        runner.run(closed_loop(mix, 10, seconds=60, limit=WARMUP_CALLS))
        mix.unfed = 0
        rate = args.mixed_rate
        work = open_loop(mix, rate, args.mixed_seconds)
        results.mixed = measure(started.system, runner, f"mixed {rate:g}/s", work, ANSWERS, rate)
        results.metrics = runner.run(client.get("/metrics"))


def run_in_process(started: Started, calendar: Calendar, args: argparse.Namespace, results: Results) -> None:
    local = InProcessFind(started.database_url, calendar, Wishes(results.today, args.seed))
    with in_process(local) as runner:
        runner.run(closed_loop(local, 1, seconds=60, limit=WARMUP_CALLS // 3))
        local.reads.clear()
        work = closed_loop(local, 1, args.seconds)
        results.local = measure(started.system, runner, "in-process sequential", work, FOUND)
        results.in_process = local


# --- report ----------------------------------------------------------------------------------------------


def with_variants(run: Run, names: list[str]) -> list[list[str]]:
    """The run over all its calls, then one row per tool or wish."""
    first = latency_row(run)
    first[0] = f"{run.label} all"
    return [first, *(latency_row(run.of(name, f"  {name}")) for name in names if name in run.tools())]


def codes(run: Run) -> str:
    return ", ".join(f"{code} {count}" for code, count in run.outcomes().most_common())


def report(results: Results) -> None:
    shares = ", ".join(f"{name} {kind.share} %" for name, kind in WISHES.items())
    print(f"\nfind_slots latency in ms over HTTP, open loop; wishes: {shares}")
    print("(lag = how late the generator sent a call, sched p99 = p99 measured from its schedule)\n")
    print(table(LATENCY_HEADER, [row for run in results.finds for row in with_variants(run, list(WISHES))]))

    local = results.local
    if local is not None and results.in_process is not None and results.find is not None:
        print(
            "\nfind_slots in-process (no HTTP, no NATS), sequential, latency in ms; "
            "reads = repository.busy() calls per find, db = share of the time spent in them\n"
        )
        rows = []
        for variant in ["", *WISHES]:
            part = local if not variant else local.of(variant)
            reads = [r for v, rs in results.in_process.reads.items() if variant in ("", v) for r in rs]
            ahead = [d for v, ds in results.find.reach.items() if variant in ("", v) for d in ds]
            lat = part.latencies_ms()
            found = sorted(d for d in ahead if d is not None)
            rows.append(
                [
                    variant or "all",
                    str(len(part.samples)),
                    *(f"{percentile(lat, p):.2f}" for p in (50, 90, 99)),
                    f"{lat[-1]:.2f}" if lat else "-",
                    f"{statistics.fmean(r for r, _ in reads):.1f}" if reads else "-",
                    f"{100 * sum(s for _, s in reads) / (sum(lat) / 1000):.0f} %" if reads and lat else "-",
                    f"{percentile(found, 50):.0f} / {found[-1]}" if found else "-",
                    str(sum(d is None for d in ahead)),
                    codes(part),
                    WISHES[variant].what if variant else "",
                ]
            )
        header = [
            "wish", "calls", "p50", "p90", "p99", "max", "reads", "db",
            "reach p50/max", "nothing", "replies", "what",
        ]  # fmt: skip
        print(table(header, rows))
        print(
            "(reach: days from the wished earliest day, or today, to the last slot offered or the next "
            "possible day; nothing: replies with neither; both of the HTTP runs above)"
        )

    mixed = results.mixed
    if mixed is not None and results.mix is not None:
        print(
            f"\nMixed workload over HTTP, open loop at {mixed.rate:g} calls/s: "
            + ", ".join(f"{tool} {share} %" for tool, share in MIX.items())
        )
        print("(book_appointment books a slot just offered to that caller; slot_taken is an answer)\n")
        print(table(LATENCY_HEADER, with_variants(mixed, list(MIX))))
        print("\nReplies by tool in the mixed workload\n")
        rows = [[tool, str(len(mixed.of(tool).samples)), codes(mixed.of(tool))] for tool in MIX]
        print(table(["tool", "calls", "replies"], rows))
        if results.mix.unfed:
            print(f"({results.mix.unfed} bookings had no fresh offer to take and searched instead)")

    runs = [*results.finds, *(r for r in (local, mixed) if r is not None)]
    report_cpu(runs, ["gateway", "patients", "scheduler", "postgres", "nats", "other", "bench"])

    finds_http = [*results.finds, *([mixed.of("find_slots", "mixed find_slots")] if mixed else [])]
    p99s = {run.label: percentile(run.latencies_ms(), 99) for run in finds_http}
    met = all(p <= GOAL_P99_MS for p in p99s.values()) and not any(r.failures() for r in finds_http)
    worst = max(
        (
            (f"{run.label} {v}", percentile(run.of(v).latencies_ms(), 99))
            for run in results.finds
            for v in run.tools()
        ),
        key=lambda item: item[1],
        default=("-", float("nan")),
    )
    print(
        f"\nGoal find_slots p99 ≤ {GOAL_P99_MS:g} ms end to end: {'MET' if met else 'NOT MET'} ("
        + ", ".join(f"{label} p99 {p:.2f} ms" for label, p in p99s.items())
        + f"; worst wish {worst[0]} p99 {worst[1]:.2f} ms)"
    )
    notes = run_notes(runs, "errors")
    if notes:
        print("\n" + "\n".join(notes))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser(
        __doc__,
        seconds="duration of each find_slots run",
        rates=[50.0, 200.0],
        rates_help="open-loop rates of the find_slots runs in calls/s, comma-separated",
    )
    parser.add_argument("--mixed-rate", type=float, default=200.0, help="calls/s of the mixed workload")
    parser.add_argument("--mixed-seconds", type=float, default=20.0, help="duration of the mixed workload")
    parser.add_argument("--callers", type=int, default=2000, help="patients with a verified caller")
    parser.add_argument("--booked", type=float, default=0.6, help="share of bookable time already booked")
    parser.add_argument(
        "--history-days",
        type=int,
        default=0,
        help="also book this many past days like the horizon (a calendar in service keeps its history)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of every random choice")
    parser.add_argument(
        "--scheduler-replicas",
        type=int,
        default=1,
        help="scheduler processes (they share one NATS queue group)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    seeded = Seeded()
    announce = (
        f"Starting the system: {len(DOCTORS)} practitioners, {args.booked:.0%} of 90 days booked, "
        f"{args.callers} verified callers …"
    )
    with running(announce, lambda: start(args, seeded), args.keep) as started:
        calendar = Calendar(load_practice(practice_file_of(started.system.home)))
        identifiable = sum(c.unique for c in seeded.callers)
        print(
            f"Seeded in {seeded.seconds:.1f} s: {seeded.appointments} appointments "
            f"({seeded.appointments / max(1, seeded.bookable_blocks):.0%} of "
            f"{seeded.bookable_blocks} bookable 10-minute blocks), {len(seeded.callers)} verified callers "
            f"({identifiable} identifiable by name and birth date)"
            + (f"; {seeded.history} past appointments" if seeded.history else "")
        )
        started.ready("measuring:")
        results = Results(today=utcnow().astimezone(calendar.zone).date())
        run_finds(started, args, results)
        run_in_process(started, calendar, args, results)
        run_mixed(started, args, seeded, results)
        report(results)
        report_system(started.system, results.metrics)


if __name__ == "__main__":
    main()
