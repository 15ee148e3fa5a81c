"""What the benchmarks share: the real system on throw-away NATS and Postgres, load generators, fictitious
patients, and the reports (latency percentiles, CPU per process, the system's own counters and warnings).

Not a benchmark itself; `tool_latency.py` and `scheduler_latency.py` import it (run them from anywhere:
Python puts their directory, `bench/`, on the path).
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
import signal
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

from ignis.kit.clock import utcnow
from ignis.kit.db import create_engine, make_sessionmaker
from ignis.kit.embedded import EmbeddedPostgres, free_port, start_nats
from ignis.patients.matching import normalise, phonetic

try:  # the gateway runs on uvloop; so does the load generator, to spend less of the shared CPU
    import uvloop
except ImportError:  # pragma: no cover - uvicorn[standard] installs it
    uvloop = None  # type: ignore[assignment]

READY_TIMEOUT_SECONDS = 90.0
LAG_NOTE_MS = 5.0  # a generator later than this at p99 fell behind its schedule
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# Fictitious patients are drawn from these; Müller-like names test that the lookup rejects them.
# fmt: off
FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hans", "Ida", "Jonas", "Karla", "Lukas",
    "Mia", "Noah", "Olga", "Paul", "Rosa", "Tim",
)
LAST_NAMES = (
    "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
    "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
    "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann",
    "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser",
    "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Schubert", "Vogel",
    "Friedrich", "Keller", "Günther", "Frank", "Berger", "Winkler", "Roth", "Beck", "Yılmaz", "Kaya",
    "Demir", "Nowak", "Kowalski", "Rossi", "Müller", "Miller", "Mahler",
)
# fmt: on

# A reply's code, or (tool, code) when one generator drives several tools.
Outcome = str | tuple[str, str]
Call = Callable[[], Awaitable[Outcome]]


# --- measurement -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    scheduled: float
    started: float
    done: float
    outcome: str  # the reply's code, "HTTP 502" or the name of the exception the call raised
    tool: str = ""


@dataclass
class Run:
    label: str
    samples: list[Sample]
    valid: frozenset[str]  # outcomes that are an answer; anything else counts as an error
    cpu: dict[str, float] = field(default_factory=dict)  # role -> share of one core during the run
    rate: float | None = None  # target of an open-loop run
    paced: bool | None = None  # calls left on a schedule (lag columns apply); default: an open-loop run

    def __post_init__(self) -> None:
        if self.paced is None:
            self.paced = self.rate is not None

    def ok(self, sample: Sample) -> bool:
        return sample.outcome in self.valid

    def of(self, tool: str, label: str | None = None) -> "Run":
        """The calls of one tool (or variant) of a mixed run, as a run of its own without CPU figures."""
        samples = [s for s in self.samples if s.tool == tool]
        return Run(label or f"{self.label} {tool}", samples, self.valid, paced=self.paced)

    def tools(self) -> list[str]:
        return list(dict.fromkeys(s.tool for s in self.samples))

    def latencies_ms(self) -> list[float]:
        return sorted((s.done - s.started) * 1000 for s in self.samples)

    def from_schedule_ms(self) -> list[float]:
        """Latency a caller would see had each call left on time: counts the generator's own stalls."""
        return sorted((s.done - s.scheduled) * 1000 for s in self.samples)

    def lags_ms(self) -> list[float]:
        """How late each call left compared with its schedule: the generator's own lateness."""
        return sorted((s.started - s.scheduled) * 1000 for s in self.samples)

    def ok_count(self) -> int:
        return sum(self.ok(s) for s in self.samples)

    def ok_per_second(self) -> float:
        if not self.samples:
            return 0.0
        span = max(s.done for s in self.samples) - min(s.started for s in self.samples)
        return self.ok_count() / span if span > 0 else 0.0

    def send_rate(self) -> float:
        starts = sorted(s.started for s in self.samples)
        return (len(starts) - 1) / (starts[-1] - starts[0]) if len(starts) > 1 else 0.0

    def failures(self) -> Counter[str]:
        return Counter(s.outcome for s in self.samples if not self.ok(s))

    def outcomes(self) -> Counter[str]:
        return Counter(s.outcome for s in self.samples)


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile: an actual observed value, never an interpolation below the tail."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


async def timed(call: Call, scheduled: float) -> Sample:
    started = time.perf_counter()
    try:
        result = await call()
    except Exception as exc:  # a failed call is a data point of the benchmark, not a reason to stop
        result = type(exc).__name__
    tool, outcome = result if isinstance(result, tuple) else ("", result)
    return Sample(scheduled, started, time.perf_counter(), outcome, tool)


async def open_loop(call: Call, rate: float, seconds: float) -> list[Sample]:
    """Call i is sent at t0 + i/rate whether or not earlier calls returned, as independent callers would."""
    count = max(1, round(rate * seconds))
    tasks: list[asyncio.Task[Sample]] = []
    t0 = time.perf_counter() + 0.01
    for i in range(count):
        scheduled = t0 + i / rate
        # Again until due: the loop's millisecond timers may wake a little early. Waiting for a time, not
        # for an event, so ASYNC110's asyncio.Event does not apply.
        while (delay := scheduled - time.perf_counter()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(timed(call, scheduled)))
    return list(await asyncio.gather(*tasks))


async def closed_loop(call: Call, workers: int, seconds: float, limit: int | None = None) -> list[Sample]:
    """`workers` callers, each sending its next call as soon as the previous one returned."""
    samples: list[Sample] = []
    deadline = time.perf_counter() + seconds
    issued = itertools.count()

    async def worker() -> None:
        while time.perf_counter() < deadline and (limit is None or next(issued) < limit):
            samples.append(await timed(call, time.perf_counter()))

    await asyncio.gather(*(worker() for _ in range(workers)))
    return samples


def http_runner() -> asyncio.Runner:
    """The event loop of the HTTP load generators (uvloop where installed)."""
    return asyncio.Runner(loop_factory=uvloop.new_event_loop if uvloop else None)


# --- the system under test -------------------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used) from /proc, or None if the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def _box_busy_seconds() -> float:
    """CPU seconds all cores of the box spent busy, whoever's: shows load the benchmark did not cause."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLK_TCK  # all but idle and iowait; guest is in user


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


@dataclass
class System:
    """The processes this benchmark started, so it can account their CPU and be sure to stop all of them."""

    home: Path
    roles: tuple[str, ...] = ("gateway", "patients")  # `ignis serve` processes accounted on their own
    nats: subprocess.Popen[bytes] | None = None
    nats_url: str = ""
    postgres: EmbeddedPostgres | None = None
    up: subprocess.Popen[bytes] | None = None
    seen: dict[int, str] = field(default_factory=dict)  # every pid ever attributed to the system

    @property
    def log(self) -> Path:
        return self.home / "ignis-up.log"

    def _postmaster(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.home / "postgres" / "postmaster.pid").read_text().split()[0])
        return None

    def processes(self) -> dict[int, str]:
        """pid -> role of every live process of the system (Linux /proc; empty elsewhere)."""
        roles: dict[int, str] = {}
        postmaster = self._postmaster()
        if self.nats is not None:
            roles[self.nats.pid] = "nats"
        if postmaster is not None:
            roles[postmaster] = "postgres"
        if self.up is not None:
            roles[self.up.pid] = "other"
        parents = {
            pid: role for pid, role in roles.items() if pid in (postmaster, getattr(self.up, "pid", None))
        }
        with contextlib.suppress(OSError):
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit() or (stat := _proc_stat(int(entry.name))) is None:
                    continue
                if stat[0] in parents:
                    argv = _cmdline(int(entry.name))
                    role = argv[argv.index("serve") + 1] if "serve" in argv[:-1] else parents[stat[0]]
                    known = (*self.roles, "postgres")
                    roles[int(entry.name)] = role if role in known else "other"
        self.seen.update(roles)
        return roles

    def cpu_seconds(self) -> dict[tuple[str, int], float]:
        """CPU seconds used so far per (role, pid); this process counts as role "bench"."""
        used = {(role, pid): stat[1] for pid, role in self.processes().items() if (stat := _proc_stat(pid))}
        used["bench", os.getpid()] = time.process_time()
        used["box", 0] = _box_busy_seconds()
        return used

    def stop(self) -> list[int]:
        """Stop everything, children of `ignis up` included; returns pids that had to be killed hard."""
        self.processes()
        killed: list[int] = []
        if self.up is not None and self.up.poll() is None:
            self.up.send_signal(signal.SIGTERM)  # the supervisor stops its children in order
            try:
                self.up.wait(40)
            except subprocess.TimeoutExpired:
                self.up.kill()
                self.up.wait()
                killed.append(self.up.pid)
        for pid, role in self.seen.items():
            if role not in ("postgres", "nats") and pid != getattr(self.up, "pid", None):
                # A child that outlived the supervisor (it should not): by pid, never by name.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    if _proc_stat(pid) is not None and _cmdline(pid)[:1] == [sys.executable]:
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
        if self.nats is not None and self.nats.poll() is None:
            self.nats.terminate()
            try:
                self.nats.wait(10)
            except subprocess.TimeoutExpired:
                self.nats.kill()
                self.nats.wait()
        if self.postgres is not None:
            self.postgres.stop()
        return killed


# Prepares the fresh database (given the system's home and the database URL) before `ignis up` starts;
# returns extra environment for `ignis up`, such as IGNIS_PRACTICE_FILE.
Setup = Callable[[Path, str], Coroutine[Any, Any, dict[str, str]]]


@dataclass
class Started:
    """A running system under test, as a benchmark reaches it."""

    system: System
    base: str  # the gateway's URL
    database_url: str
    secret: str  # the tool secret, also the metrics token
    began: float = field(default_factory=time.monotonic)

    def ready(self, what: str) -> None:
        print(f"Ready after {time.monotonic() - self.began:.1f} s at {self.base}; {what}")


def start_system(setup: Setup, roles: tuple[str, ...] = ("gateway", "patients")) -> Started:
    """Embedded NATS and Postgres of our own (so an in-process reference shares the DB), then `ignis up`."""
    secret = secrets.token_urlsafe(24)
    home = Path(tempfile.mkdtemp(prefix="ignis-bench-"))
    system = System(home, roles)
    try:
        nats_url, system.nats = start_nats(home, port=free_port())
        system.nats_url = nats_url
        system.postgres = EmbeddedPostgres(home / "postgres")  # its data goes with the temporary home
        database_url = system.postgres.url
        extra_env = asyncio.run(setup(home, database_url))

        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("IGNIS_")}
        env |= {
            "IGNIS_ENV": "dev",
            "IGNIS_HOME": str(home),
            "IGNIS_GATEWAY_PORT": str(port),
            "IGNIS_NATS_URL": nats_url,
            "IGNIS_DATABASE_URL": database_url,
            "IGNIS_TOOL_SECRET": secret,
            "IGNIS_METRICS_TOKEN": secret,  # ToolClient.get sends it (for /metrics)
            "IGNIS_LOG_FORMAT": "text",
            "IGNIS_LOG_LEVEL": "WARNING",
            **extra_env,
        }
        with system.log.open("wb") as log:  # the child keeps its own handle
            system.up = subprocess.Popen(
                [sys.executable, "-m", "ignis.cli.main", "up"],
                env=env,
                cwd=home,  # no developer's .env is picked up
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only the bench, which then stops the system
            )
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, system.up)
        return Started(system, base, database_url, secret)
    except BaseException:
        stop_and_clean(system, keep=False)
        raise


def wait_ready(base: str, up: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if up.poll() is not None:
            raise RuntimeError(f"`ignis up` exited with {up.returncode} before it was ready")
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(f"{base}/readyz", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.3)
    raise TimeoutError(f"the system was not ready within {READY_TIMEOUT_SECONDS:.0f} s")


def stop_and_clean(system: System, keep: bool) -> None:
    try:
        if killed := system.stop():
            print(f"\n!! had to kill {len(killed)} process(es) that did not stop on SIGTERM: {killed}")
    finally:
        if keep:
            print(f"\nData and logs kept in {system.home}")
        else:
            shutil.rmtree(system.home, ignore_errors=True)


@contextlib.contextmanager
def running(announce: str, start: Callable[[], Started], keep: bool) -> Iterator[Started]:
    """The system started by `start` for the benchmark's body, stopped (and its data removed unless
    `keep`) afterwards; says how long it all took."""
    began = time.monotonic()
    print(announce, flush=True)
    started = start()
    started.began = began
    gc.freeze()  # the set-up's objects are permanent: no full collection of them stalls the generator
    try:
        yield started
    finally:
        stop_and_clean(started.system, keep)
    print(f"\nDone in {time.monotonic() - began:.0f} s.")


def bench_parser(doc: str, seconds: str, rates: list[float], rates_help: str) -> argparse.ArgumentParser:
    """The options of every latency benchmark: run length, open-loop rates, and --keep."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help=seconds)
    parser.add_argument(
        "--rates",
        type=lambda s: [float(r) for r in s.split(",") if r.strip()],
        default=rates,
        help=rates_help,
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary IGNIS_HOME (data and logs)")
    return parser


class InProcess:
    """A service's own function as a caller, with neither HTTP nor the bus: a unit of work per call, like
    its handler, on a pool of the service's size."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)
        self.sessionmaker = make_sessionmaker(self.engine)
        self.ids = itertools.count()  # each call in a conversation of its own

    async def close(self) -> None:
        await self.engine.dispose()


@contextlib.contextmanager
def in_process(local: InProcess) -> Iterator[asyncio.Runner]:
    """A loop for `local`, closed with it: asyncio's default, as the services run theirs (no uvloop)."""
    with asyncio.Runner() as runner:
        try:
            yield runner
        finally:
            runner.run(local.close())


def at_rates(
    started: Started,
    runner: asyncio.Runner,
    label: str,
    call: Call,
    rates: list[float],
    seconds: float,
    valid: frozenset[str],
) -> list[Run]:
    """`call` open loop at each of `rates` in turn, for `seconds` each."""
    runs = []
    for rate in rates:
        work = open_loop(call, rate, seconds)
        runs.append(measure(started.system, runner, f"{label} {rate:g}/s", work, valid, rate))
        runner.run(asyncio.sleep(0.5))  # let stragglers and the pool settle
    return runs


def measure(
    system: System,
    runner: asyncio.Runner,
    label: str,
    work: Coroutine[Any, Any, list[Sample]],
    valid: frozenset[str],
    rate: float | None = None,
) -> Run:
    """Run `work` on `runner` and account the CPU every process of the system used meanwhile."""
    before, wall = system.cpu_seconds(), time.perf_counter()
    samples = runner.run(work)
    after, wall = system.cpu_seconds(), time.perf_counter() - wall
    # Per process, so a Postgres backend that ends mid-run cannot make a role's share negative.
    cpu: Counter[str] = Counter()
    for (role, pid), seconds in after.items():
        cpu[role] += (seconds - before.get((role, pid), 0.0)) / wall
    run = Run(label, samples, valid, dict(cpu), rate)
    print(
        f"  {label:<24} {len(samples):>6} calls, p50 {percentile(run.latencies_ms(), 50):6.2f} ms", flush=True
    )
    return run


# --- data ------------------------------------------------------------------------------------------------


def fictitious_patients(
    count: int, seed: int = 1, reject: Callable[[str, dt.date], bool] | None = None
) -> Iterator[dict[str, Any]]:
    """Random patients (rows of `patients.patient`); `reject(last_name, birth_date)` vetoes a draw."""
    rng = random.Random(seed)
    start, days = dt.date(1930, 1, 1).toordinal(), (dt.date(2012, 12, 31) - dt.date(1930, 1, 1)).days
    made = 0
    while made < count:
        birth_date = dt.date.fromordinal(start + rng.randrange(days))
        last_name = rng.choice(LAST_NAMES)
        if reject is not None and reject(last_name, birth_date):
            continue
        consent = rng.random() < 0.6
        made += 1
        yield {
            "id": uuid.uuid4(),
            "first_name": rng.choice(FIRST_NAMES),
            "last_name": last_name,
            "salutation": rng.choice(("Frau", "Herr", None)),
            "birth_date": birth_date,
            "last_name_key": normalise(last_name),
            "last_name_phonetic": phonetic(last_name),
            "phone": f"+49151{rng.randrange(10**8):08d}",
            "insurance": rng.choice(("gesetzlich", "gesetzlich", "gesetzlich", "privat", "selbstzahler")),
            "sms_consent": consent,
            "sms_consent_at": utcnow() if consent else None,
        }


# --- callers ---------------------------------------------------------------------------------------------


class ToolClient:
    """The agent's webhook tools over HTTP, as the voice agent's webhook would send them."""

    def __init__(self, base: str, secret: str, connections: int) -> None:
        self.base = base
        self.headers = {"X-Ignis-Tool-Secret": secret, "Content-Type": "application/json"}
        self.metrics_headers = {"Authorization": f"Bearer {secret}"}  # the system runs with both equal
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(total=10),
        )

    async def post(self, tool: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(the reply's code or "HTTP <status>", the reply); a failed connection raises."""
        async with self.session.post(
            f"{self.base}/tools/{tool}", data=json.dumps(body).encode(), headers=self.headers
        ) as r:
            payload = await r.read()
        if r.status != 200:
            return f"HTTP {r.status}", {}
        reply = json.loads(payload)
        return str(reply.get("code", "no code")), reply

    async def get(self, path: str) -> str:
        async with self.session.get(f"{self.base}{path}", headers=self.metrics_headers) as response:
            return await response.text()

    async def close(self) -> None:
        await self.session.close()


async def tool_client(base: str, secret: str, connections: int) -> ToolClient:
    return ToolClient(base, secret, connections)  # an aiohttp session must be made inside its loop


@contextlib.contextmanager
def http_client(started: Started, connections: int = 1000) -> Iterator[tuple[asyncio.Runner, ToolClient]]:
    """A load generator's loop and a client of the gateway's tools on it, closed afterwards."""
    with http_runner() as runner:
        client = runner.run(tool_client(started.base, started.secret, connections))
        try:
            yield runner, client
        finally:
            runner.run(client.close())


# --- report ----------------------------------------------------------------------------------------------

LATENCY_HEADER = [
    *("scenario", "sent", "ok", "errors", "ok/s"),
    *("p50", "p90", "p99", "max", "lag p99", "sched p99"),
]


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)

    def fmt(row: list[str]) -> str:
        return "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )

    return "\n".join([fmt(header), line, *map(fmt, rows)])


def latency_row(run: Run) -> list[str]:
    """One row under LATENCY_HEADER: counts, ok/s and the latency percentiles in ms."""
    lat, lags = run.latencies_ms(), run.lags_ms()
    ok = run.ok_count()
    return [
        run.label,
        str(len(run.samples)),
        str(ok),
        str(len(run.samples) - ok),
        f"{run.ok_per_second():.0f}",
        *(f"{percentile(lat, p):.2f}" for p in (50, 90, 99)),
        f"{lat[-1]:.2f}" if lat else "-",
        f"{percentile(lags, 99):.2f}" if run.paced else "-",
        f"{percentile(run.from_schedule_ms(), 99):.2f}" if run.paced else "-",
    ]


def report_cpu(runs: list[Run], roles: list[str]) -> None:
    cpu_rows = [
        [
            run.label,
            *(f"{100 * run.cpu.get(r, 0):.0f}" for r in roles),
            f"{100 * sum(run.cpu.get(r, 0) for r in roles):.0f}",
            f"{100 * run.cpu.get('box', 0):.0f}",
        ]
        for run in runs
    ]
    print(
        f"\nCPU during each run in % of one core (this box has {os.cpu_count()}); bench = this process, "
        "box = every process on the box\n"
    )
    print(table(["scenario", *roles, "total", "box"], cpu_rows))


def run_notes(runs: list[Run], failed: str) -> list[str]:
    """A note per run whose generator fell behind its schedule, and per run with failed calls."""
    notes = []
    for run in runs:
        if run.rate and (percentile(run.lags_ms(), 99) > LAG_NOTE_MS or run.send_rate() < 0.98 * run.rate):
            notes.append(
                f"- {run.label}: the generator fell behind (sent {run.send_rate():.0f}/s, "
                f"lag p99 {percentile(run.lags_ms(), 99):.1f} ms, max {run.lags_ms()[-1]:.1f} ms)"
            )
        if failures := run.failures():
            notes.append(f"- {run.label}: {failed}: {dict(failures.most_common())}")
    return notes


def report_system(system: System, metrics: str) -> None:
    """What the system itself said under load: gateway counters and warnings in the logs."""
    counters = [
        line
        for line in metrics.splitlines()
        if line.startswith(("ignis_tool_calls_total", "ignis_bus_request_timeouts_total"))
    ]
    print("\nGateway counters (all runs, warm-up included):")
    print("\n".join(f"  {line}" for line in counters) or "  (none)")

    # (log file, what marks a warning, the per-line prefix to drop so repeats of one message count as one)
    sources = {
        "ignis": (system.log, r"\b(WARNING|ERROR|CRITICAL)\b|Traceback", r"^\d\d:\d\d:\d\d "),
        "postgres": (system.home / "postgres" / "log", r"\b(WARNING|ERROR|FATAL|PANIC):", r"^.*?\[\d+\] "),
        "nats": (system.home / "logs" / "nats.log", r"\[(WRN|ERR|FTL)\]", r"^\[\d+\] \S+ \S+ "),
    }
    for name, (path, marker, prefix) in sources.items():
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        found = Counter(
            re.sub(r"bench-[a-z]+-\d+", "bench-…", re.sub(prefix, "", line))
            for line in lines
            if re.search(marker, line)
        )
        print(f"\nWarnings and errors in the {name} log: {sum(found.values())}")
        for message, count in found.most_common(10):
            print(f"  {count:>6} x {message[:160]}")
