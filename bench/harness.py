"""What every benchmark shares: the system under test started once (`ignis up` on throw-away NATS and
Postgres, with the stack's floor beside it), an open-loop and a closed-loop load generator, the statistics
of a run (latency, throughput, errors by kind, the generator's lag, this process's GC pauses) and the
result table.

Not a benchmark itself; the scripts beside it import it (Python puts their directory, `bench/`, on the path).
With `--record fhir` the system keeps its records on Medplum's FHIR engine, the one the tests run
(tests/fhir_engine; `make fhir-engine` installs it), which the benches seed instead of Postgres.
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import itertools
import json
import math
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import uvloop

from ignis.fhir.client import FhirClient
from ignis.kit.clock import utcnow
from ignis.kit.embedded import EmbeddedPostgres, free_port, start_nats
from ignis.patients.matching import normalise, phonetic

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # the FHIR engine's starter is the tests' (tests/fhir_engine/engine.py)
from tests.fhir_engine.engine import running_engine  # noqa: E402

READY_TIMEOUT_SECONDS = 120.0
WARMUP_CALLS = 300
FLOOR = Path(__file__).with_name("floor.py")

FHIR_BATCH = 500  # resources per transaction bundle when seeding the FHIR server

# A reply's code, or (tool, code) when one generator drives several tools.
Outcome = str | tuple[str, str]
Call = Callable[[], Awaitable[Outcome]]


# --- load ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    scheduled: float
    started: float
    done: float
    outcome: str  # the reply's code, "HTTP <status>", "timeout", or the exception's name
    tool: str = ""


def error_kind(exc: Exception) -> str:
    """`timeout` for the generator's own timeouts, else the exception's name with its library's."""
    if isinstance(exc, TimeoutError):  # aiohttp's timeouts are TimeoutErrors too
        return "timeout"
    library = type(exc).__module__.split(".")[0]
    return type(exc).__name__ if library == "builtins" else f"{library} {type(exc).__name__}"


async def tagged(tool: str, call: Awaitable[str]) -> tuple[str, str]:
    """(tool, the call's outcome or its error's kind): a call that failed still counts for its tool."""
    try:
        return tool, await call
    except Exception as exc:
        return tool, error_kind(exc)


async def timed(call: Call, scheduled: float) -> Sample:
    started = time.perf_counter()
    try:
        result = await call()
    except Exception as exc:  # a failed call is a data point, not a reason to stop
        result = error_kind(exc)
    tool, outcome = result if isinstance(result, tuple) else ("", result)
    return Sample(scheduled, started, time.perf_counter(), outcome, tool)


async def open_loop(call: Call, rate: float, seconds: float) -> list[Sample]:
    """Call i is due at t0 + i/rate whether or not earlier calls returned, as independent callers are."""
    tasks: list[asyncio.Task[Sample]] = []
    t0 = time.perf_counter() + 0.01
    for i in range(max(1, round(rate * seconds))):
        due = t0 + i / rate
        # Waiting for a time, not an event (ASYNC110); again until due, since timers may wake early.
        while (delay := due - time.perf_counter()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(timed(call, due)))
    return list(await asyncio.gather(*tasks))


async def closed_loop(call: Call, callers: int, seconds: float, limit: int | None = None) -> list[Sample]:
    """`callers` callers, each sending its next call as soon as its previous one returned."""
    samples: list[Sample] = []
    deadline, issued = time.perf_counter() + seconds, itertools.count()

    async def caller() -> None:
        while time.perf_counter() < deadline and (limit is None or next(issued) < limit):
            samples.append(await timed(call, time.perf_counter()))

    await asyncio.gather(*(caller() for _ in range(callers)))
    return samples


class GcPauses:
    """Full (generation 2) collections in this process while it is entered: a pause of the generator
    delays every call due meanwhile, which the lag then shows."""

    def __init__(self) -> None:
        self.count, self.max_ms, self._began = 0, 0.0, 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.count += 1
            self.max_ms = max(self.max_ms, (time.perf_counter() - self._began) * 1000)

    def __enter__(self) -> "GcPauses":
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)


# --- statistics ------------------------------------------------------------------------------------------


def percentile(ordered: list[float], p: float) -> float:
    """Nearest rank: a value actually observed, never an interpolation below the tail."""
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else math.nan


@dataclass
class Run:
    """The calls of one measured load, and what the box did meanwhile."""

    label: str
    load: str
    samples: list[Sample]
    valid: frozenset[str]  # outcomes that are answers; anything else is an error of that kind
    paced: bool  # open loop: calls had a schedule, so lag applies
    gc: GcPauses = field(default_factory=GcPauses)
    cpu: tuple[float, float] = (math.nan, math.nan)  # % of one core: the system under test, the whole box
    cpu_by_kind: Counter[str] = field(default_factory=Counter)  # CPU seconds of each kind of process

    def of(self, tool: str) -> "Run":
        return Run(
            f"{self.label} {tool}",
            self.load,
            [s for s in self.samples if s.tool == tool],
            self.valid,
            self.paced,
        )

    def answered(self) -> list[Sample]:
        return [s for s in self.samples if s.outcome in self.valid]

    def latencies(self) -> list[float]:
        """Of the answered calls: a rejection's speed is no latency (the errors column counts them)."""
        return sorted((s.done - s.started) * 1000 for s in self.answered())

    def lags(self) -> list[float]:
        return sorted((s.started - s.scheduled) * 1000 for s in self.samples)

    def errors(self) -> Counter[str]:
        return Counter(s.outcome for s in self.samples if s.outcome not in self.valid)

    def per_second(self) -> float:
        """Answers per second, from the first call sent to the last answer."""
        if not (answered := self.answered()):
            return 0.0
        span = max(s.done for s in answered) - min(s.started for s in answered)
        return len(answered) / span if span > 0 else 0.0

    def cpu_per_call(self, shown: int = 5) -> str:
        """Where a call's CPU went: milliseconds per call of the busiest kinds of process, over all calls
        made (what the capacity is spent on, and so where a change would pay)."""
        if not self.samples:
            return "-"
        ms = [(kind, 1000 * seconds / len(self.samples)) for kind, seconds in self.cpu_by_kind.most_common()]
        return " ".join(f"{kind} {per_call:.1f}" for kind, per_call in ms[:shown] if per_call >= 0.05) or "-"

    def row(self, floor: "Run | None" = None) -> dict[str, str]:
        """The run as a row of the result table; `floor`, the stack's floor under the same load."""
        lat, lags = self.latencies(), self.lags()
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        row = {
            "scenario": self.label,
            "load": self.load,
            "calls": str(len(self.samples)),
            "ok/s": f"{self.per_second():.0f}",
            "p50 ms": f"{p50:.1f}",
            "p99 ms": f"{p99:.1f}",
            "max ms": f"{lat[-1]:.0f}" if lat else "-",
            "errors": ", ".join(f"{k} {n}" for k, n in self.errors().most_common()) or "0",
            "lag p50/p99/max ms": "/".join(f"{percentile(lags, p):.1f}" for p in (50, 99, 100))
            if self.paced
            else "-",
            "bench GC2 n/max ms": f"{self.gc.count}/{self.gc.max_ms:.0f}",
            "CPU % sut/box": "/".join(f"{c:.0f}" for c in self.cpu),
            "CPU ms/call by process": self.cpu_per_call(),
            "× floor p50/p99": "-",
        }
        if floor is not None and (f := floor.latencies()):
            row["× floor p50/p99"] = f"{p50 / percentile(f, 50):.1f}/{p99 / percentile(f, 99):.1f}"
        return row


# --- the system under test -------------------------------------------------------------------------------

# Prepares the fresh database (and in FHIR record mode the FHIR server) of the system before `ignis up`
# starts; returns extra environment for `ignis up`, such as IGNIS_PRACTICE_FILE.
Setup = Callable[["System"], Coroutine[Any, Any, dict[str, str]]]


@dataclass
class System:
    """`ignis up` on NATS and Postgres of the benchmark's own (so an in-process caller shares the database),
    and the floor: FastAPI and a FastStream responder with an empty handler, on the same NATS."""

    home: Path
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    nats_url: str = ""
    database_url: str = ""
    base: str = ""  # the gateway
    floor_base: str = ""
    fhir_url: str = ""  # FHIR record mode: the engine's FHIR base
    postgres: EmbeddedPostgres | None = None
    # NATS, the FHIR engine, ignis up, the floor's
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)
    exits: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @property
    def log(self) -> Path:
        return self.home / "ignis-up.log"

    def spawn(self, argv: list[str], env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
        with (self.home / log).open("ab") as out:  # the child keeps its own handle
            process = subprocess.Popen(
                argv, env=env, cwd=self.home, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only the bench, which then stops the system
            )  # fmt: skip
        self.processes.append(process)
        return process

    def tree(self) -> list[psutil.Process]:
        """Every live process of the system under test (the floor's included)."""
        found = []
        pids = [p.pid for p in self.processes if p.poll() is None]
        with contextlib.suppress(OSError, ValueError):
            pids.append(int((self.home / "postgres" / "postmaster.pid").read_text().split()[0]))
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(pid)
                found += [root, *root.children(recursive=True)]
        return found

    def cpu_seconds(self) -> dict[int, tuple[str, float]]:
        """CPU seconds (user + system) so far of each live process, with its kind: each Ignis service by
        name, postgres (all its backends), nats, floor (its two processes), and other (supervisor, FHIR
        engine)."""
        used = {}
        for process in self.tree():
            with contextlib.suppress(psutil.Error):
                argv, times = process.cmdline(), process.cpu_times()
                if argv[-2:-1] == ["serve"]:
                    kind = argv[-1]
                elif str(FLOOR) in argv:
                    kind = "floor"
                elif "postgres" in process.name():
                    kind = "postgres"
                elif "nats" in process.name():
                    kind = "nats"
                else:
                    kind = "other"
                used[process.pid] = (kind, times.user + times.system)
        return used

    def cpu_by_kind(self) -> Counter[str]:
        """`cpu_seconds` summed by kind of process."""
        used: Counter[str] = Counter()
        for kind, seconds in self.cpu_seconds().values():
            used[kind] += seconds
        return used

    def settle(self, within: float = 60.0) -> None:
        """Wait until the system is about idle: a backlog a run left (requests its callers gave up on) would
        otherwise land on the next run."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            before = sum(self.cpu_by_kind().values())
            time.sleep(1.0)
            if sum(self.cpu_by_kind().values()) - before < 0.2:  # 20 % of one core
                return

    def stop(self) -> None:
        for process in reversed(self.processes):  # ignis up and the floor before NATS
            if process.poll() is None:
                process.terminate()  # the supervisor stops its children in order
                try:
                    process.wait(40)
                except subprocess.TimeoutExpired:
                    print(f"!! killed pid {process.pid}, which did not stop on SIGTERM")
                    process.kill()
                    process.wait()
        if self.postgres is not None:
            self.postgres.stop()
        self.exits.close()


@contextlib.contextmanager
def system(setup: Setup, args: argparse.Namespace) -> Iterator[System]:
    """The system for the benchmark's body, stopped (and its data removed unless --keep) afterwards."""
    began = time.monotonic()
    sut = System(Path(tempfile.mkdtemp(prefix="ignis-bench-")))
    try:
        sut.nats_url, nats = start_nats(sut.home, port=free_port())
        sut.processes.append(nats)
        sut.postgres = EmbeddedPostgres(sut.home / "postgres")
        sut.database_url = sut.postgres.url
        records_env = RECORD_MODES[args.record](sut)
        extra_env = asyncio.run(setup(sut))
        env = {k: v for k, v in os.environ.items() if not k.startswith("IGNIS_")}
        port, floor_port = free_port(), free_port()
        sut.spawn(
            [sys.executable, "-m", "ignis.cli.main", "up"],
            env | records_env | extra_env | {
                "IGNIS_ENV": "dev", "IGNIS_HOME": str(sut.home), "IGNIS_GATEWAY_PORT": str(port),
                "IGNIS_NATS_URL": sut.nats_url, "IGNIS_DATABASE_URL": sut.database_url,
                "IGNIS_TOOL_SECRET": sut.secret, "IGNIS_LOG_FORMAT": "text", "IGNIS_LOG_LEVEL": "WARNING",
            },
            "ignis-up.log",
        )  # fmt: skip
        sut.spawn([sys.executable, str(FLOOR), "responder", sut.nats_url], env, "floor.log")
        sut.spawn([sys.executable, str(FLOOR), "gateway", sut.nats_url, str(floor_port)], env, "floor.log")
        sut.base, sut.floor_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{floor_port}"
        wait_ready(sut, f"{sut.base}/readyz", f"{sut.floor_base}/readyz")
        print(f"System ready after {time.monotonic() - began:.0f} s ({args.record} record mode)", flush=True)
        gc.freeze()  # the set-up's objects are permanent: no full collection of them stalls the generator
        yield sut
    finally:
        sut.stop()
        report_warnings(sut)
        if args.keep:
            print(f"Data and logs kept in {sut.home}")
        else:
            shutil.rmtree(sut.home, ignore_errors=True)


def fhir_records(sut: System) -> dict[str, str]:
    """Medplum's FHIR engine as the practice's server, its process counted with the system's."""
    engine = sut.exits.enter_context(running_engine())
    sut.processes.append(engine.process)
    sut.fhir_url = engine.base_url
    return {
        "IGNIS_RECORDS": "fhir",
        "IGNIS_FHIR_URL": sut.fhir_url,
    }


# Where the system keeps its patients and appointments: each mode starts what it needs for the system and
# gives the environment of `ignis up`.
RECORD_MODES: dict[str, Callable[[System], dict[str, str]]] = {
    "ignis": lambda sut: {},
    "fhir": fhir_records,
}


def wait_ready(sut: System, *urls: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    for url in urls:
        while True:
            if any(p.poll() is not None for p in sut.processes):
                raise RuntimeError(f"a process of the system exited before it was ready; see {sut.home}")
            with (
                contextlib.suppress(urllib.error.URLError, OSError),
                urllib.request.urlopen(url, timeout=2) as r,
            ):
                if r.status == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} was not ready within {READY_TIMEOUT_SECONDS:.0f} s")
            time.sleep(0.3)


def report_warnings(sut: System) -> None:
    """Warnings and errors the system logged, each message counted once however often it recurred."""
    with contextlib.suppress(OSError):
        lines = [
            re.sub(r"^\d\d:\d\d:\d\d ", "", line)
            for line in sut.log.read_text(errors="replace").splitlines()
            if re.search(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback", line)
        ]
        for message, count in Counter(lines).most_common(5):
            print(f"  log: {count:>5} x {message[:150]}")


def measure(
    sut: System,
    runner: asyncio.Runner,
    label: str,
    load: str,
    work: Coroutine[Any, Any, list[Sample]],
    valid: frozenset[str],
    paced: bool,
) -> Run:
    """Run `work` on `runner` once the system is idle, counting this process's full collections and
    everyone's CPU meanwhile."""
    sut.settle()
    cpu, box, wall = sut.cpu_seconds(), psutil.cpu_times(), time.perf_counter()
    with GcPauses() as pauses:
        samples = runner.run(work)
    wall = time.perf_counter() - wall
    run = Run(label, load, samples, valid, paced, gc=pauses)
    for pid, (kind, seconds) in sut.cpu_seconds().items():
        if pid in cpu:  # pids alive at both ends
            run.cpu_by_kind[kind] += seconds - cpu[pid][1]
    after = psutil.cpu_times()
    busy = (sum(after) - after.idle - after.iowait) - (sum(box) - box.idle - box.iowait)
    run.cpu = (100 * sum(run.cpu_by_kind.values()) / wall, 100 * busy / wall)
    print(f"  {label} {load}: {len(samples)} calls, p50 {percentile(run.latencies(), 50):.1f} ms", flush=True)
    return run


def open_run(
    sut: System,
    runner: asyncio.Runner,
    label: str,
    call: Call,
    rate: float,
    seconds: float,
    valid: frozenset[str],
) -> Run:
    return measure(sut, runner, label, f"{rate:g}/s", open_loop(call, rate, seconds), valid, paced=True)


def closed_run(
    sut: System,
    runner: asyncio.Runner,
    label: str,
    call: Call,
    callers: int,
    seconds: float,
    valid: frozenset[str],
) -> Run:
    work = closed_loop(call, callers, seconds)
    return measure(sut, runner, label, f"{callers} callers", work, valid, paced=False)


# --- callers ---------------------------------------------------------------------------------------------


class ToolClient:
    """The agent's webhook tools over HTTP, as ElevenLabs sends them (aiohttp: httpx is no load generator)."""

    def __init__(self, base: str, secret: str) -> None:
        self.url = f"{base}/tools/"
        self.headers = {"X-Ignis-Tool-Secret": secret, "Content-Type": "application/json"}
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1000), timeout=aiohttp.ClientTimeout(total=10)
        )

    async def post(self, tool: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(the reply's code, or "HTTP <status>"; the reply)."""
        async with self.session.post(
            self.url + tool, data=json.dumps(body).encode(), headers=self.headers
        ) as r:
            payload = await r.read()
        if r.status != 200:
            return f"HTTP {r.status}", {}
        reply = json.loads(payload)
        return str(reply.get("code", "no code")), reply


FLOOR_ANSWER = frozenset({"floor"})


@contextlib.contextmanager
def http(sut: System) -> Iterator[tuple[asyncio.Runner, ToolClient, Call]]:
    """The generator's loop (uvloop, as the gateway's), a client of the gateway's tools on it, and a call of
    the floor's empty handler through FastAPI and NATS."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:

        async def clients() -> tuple[ToolClient, ToolClient]:  # an aiohttp session is made in its loop
            return ToolClient(sut.base, sut.secret), ToolClient(sut.floor_base, sut.secret)

        client, floor = runner.run(clients())

        async def floor_call() -> str:
            return (await floor.post("floor", {"conversation_id": "bench-floor"}))[0]

        runner.run(closed_loop(floor_call, 10, 60, limit=WARMUP_CALLS))
        try:
            yield runner, client, floor_call
        finally:
            runner.run(client.session.close())
            runner.run(floor.session.close())


# --- data ------------------------------------------------------------------------------------------------

# fmt: off
FIRST_NAMES = ("Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hans", "Ida", "Jonas", "Mia")
LAST_NAMES = (
    "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Schäfer",
    "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun",
    "Krüger", "Hartmann", "Lange", "Werner", "Krause", "Lehmann", "Köhler", "König", "Walter", "Huber",
    "Kaiser", "Fuchs", "Peters", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Vogel", "Friedrich", "Keller",
    "Günther", "Frank", "Berger", "Roth", "Beck", "Yılmaz", "Kaya", "Demir", "Nowak", "Müller", "Miller",
)
# fmt: on


def fictitious_patients(
    count: int, seed: int = 1, reject: Callable[[str, dt.date], bool] | None = None
) -> Iterator[dict[str, Any]]:
    """Random rows of `patients.patient`; `reject(last_name, birth_date)` vetoes a draw."""
    rng = random.Random(seed)
    start, days = dt.date(1930, 1, 1).toordinal(), 30_000
    made = 0
    while made < count:
        birth_date, last_name = dt.date.fromordinal(start + rng.randrange(days)), rng.choice(LAST_NAMES)
        if reject is not None and reject(last_name, birth_date):
            continue
        made += 1
        consent = rng.random() < 0.6
        yield {
            "id": uuid.UUID(int=rng.getrandbits(128)),
            "first_name": rng.choice(FIRST_NAMES),
            "last_name": last_name,
            "salutation": rng.choice(("Frau", "Herr", None)),
            "birth_date": birth_date,
            "last_name_key": normalise(last_name),
            "last_name_phonetic": phonetic(last_name),
            "phone": f"+49151{rng.randrange(10**8):08d}",
            "insurance": rng.choice(("gesetzlich", "gesetzlich", "privat", "selbstzahler")),
            "sms_consent": consent,
            "sms_consent_at": utcnow() if consent else None,
        }


def fhir_patient(row: dict[str, Any]) -> dict[str, Any]:
    """A row of `fictitious_patients` as a FHIR Patient, as a practice's software keeps it."""
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": row["last_name"], "given": [row["first_name"]]}],
        "birthDate": row["birth_date"].isoformat(),
        "gender": {"Frau": "female", "Herr": "male"}.get(row["salutation"] or "", "unknown"),
    }
    if row.get("phone"):
        resource["telecom"] = [{"system": "phone", "value": row["phone"], "use": "mobile"}]
    return resource


async def seed_fhir(fhir_url: str, resources: list[dict[str, Any]]) -> list[str]:
    """Create the resources on the FHIR server, FHIR_BATCH to a transaction; their ids, in order."""
    ids = []
    async with FhirClient(fhir_url, timeout_seconds=120) as fhir:
        for i in range(0, len(resources), FHIR_BATCH):
            entries = [
                {"resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
                for r in resources[i : i + FHIR_BATCH]
            ]
            for answer in await fhir.transaction(entries):
                ids.append(answer["response"]["location"].split("/")[1])
    return ids


# --- options and report ----------------------------------------------------------------------------------


def parser(doc: str) -> argparse.ArgumentParser:
    """The options every benchmark takes."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0, help="length of each measured run (default 60)")
    p.add_argument(
        "--record", choices=list(RECORD_MODES), default="ignis", help="where Ignis keeps its records"
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary IGNIS_HOME (data and logs)")
    p.add_argument(
        "--results", type=Path, help="append the result rows to this file (JSON lines), for all.py"
    )
    return p


def markdown(rows: list[dict[str, str]]) -> str:
    header = list(rows[0])
    lines = [header, ["---"] * len(header), *([row.get(k, "") for k in header] for row in rows)]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def report(bench: str, args: argparse.Namespace, rows: list[dict[str, str]], notes: list[str]) -> None:
    """Print the bench's table and notes; append them to --results for the table of all benches."""
    rows = [{"bench": f"{bench} ({args.record})", **row} for row in rows]
    print(f"\n{markdown(rows)}\n" + "".join(f"\n- {note}" for note in notes))
    if args.results is not None:
        with args.results.open("a") as out:
            out.write(json.dumps({"rows": rows, "notes": notes}) + "\n")
