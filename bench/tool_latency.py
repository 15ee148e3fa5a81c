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
from sqlalchemy import insert, text

from ignis.cli.setup import migrate_all, seed_all
from ignis.contracts.patients import IdentifyPatient, PatientIdentified
from ignis.kit.db import create_engine, make_sessionmaker
from ignis.kit.embedded import EmbeddedPostgres, free_port, start_nats
from ignis.patients.matching import NameMatch, match_name, normalise, phonetic
from ignis.patients.models import Patient
from ignis.patients.repository import PatientRepository
from ignis.patients.service import identify, utcnow
from ignis.patients.settings import PatientsSettings

try:  # the gateway runs on uvloop; so does the load generator, to spend less of the shared CPU
    import uvloop
except ImportError:  # pragma: no cover - uvicorn[standard] installs it
    uvloop = None  # type: ignore[assignment]

# The demo practice's Anna Müller, as the agent would pass her (umlaut spelled out, German date).
LAST_NAME, BIRTH_DATE, BIRTH_DATE_TEXT = "Mueller", dt.date(1980, 3, 12), "12.03.1980"
CALLER_ID = "+4930123456"
READY_TIMEOUT_SECONDS = 90.0
WARMUP_CALLS = 200
LAG_NOTE_MS = 5.0  # a generator later than this at p99 fell behind its schedule
GOAL_RATE, GOAL_P50_MS, GOAL_P99_MS = 200.0, 5.0, 25.0
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

Call = Callable[[], Awaitable[str]]  # one tool call; returns its outcome code ("identified" is success)


# --- measurement -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    scheduled: float
    started: float
    done: float
    outcome: str

    @property
    def ok(self) -> bool:
        return self.outcome == "identified"


@dataclass
class Run:
    label: str
    samples: list[Sample]
    cpu: dict[str, float] = field(default_factory=dict)  # role -> share of one core during the run
    rate: float | None = None  # target of an open-loop run

    def latencies_ms(self) -> list[float]:
        return sorted((s.done - s.started) * 1000 for s in self.samples)

    def from_schedule_ms(self) -> list[float]:
        """Latency a caller would see had each call left on time: counts the generator's own stalls."""
        return sorted((s.done - s.scheduled) * 1000 for s in self.samples)

    def lags_ms(self) -> list[float]:
        """How late each call left compared with its schedule: the generator's own lateness."""
        return sorted((s.started - s.scheduled) * 1000 for s in self.samples)

    def ok_per_second(self) -> float:
        if not self.samples:
            return 0.0
        span = max(s.done for s in self.samples) - min(s.started for s in self.samples)
        return sum(s.ok for s in self.samples) / span if span > 0 else 0.0

    def send_rate(self) -> float:
        starts = sorted(s.started for s in self.samples)
        return (len(starts) - 1) / (starts[-1] - starts[0]) if len(starts) > 1 else 0.0

    def failures(self) -> Counter[str]:
        return Counter(s.outcome for s in self.samples if not s.ok)


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile: an actual observed value, never an interpolation below the tail."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


async def timed(call: Call, scheduled: float) -> Sample:
    started = time.perf_counter()
    try:
        outcome = await call()
    except Exception as exc:  # a failed call is a data point of the benchmark, not a reason to stop
        outcome = type(exc).__name__
    return Sample(scheduled, started, time.perf_counter(), outcome)


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
    nats: subprocess.Popen[bytes] | None = None
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
                    roles[int(entry.name)] = role if role in ("gateway", "patients", "postgres") else "other"
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
            if role in ("gateway", "patients", "other") and pid != getattr(self.up, "pid", None):
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


def fictitious_patients(count: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """Random patients around the demo ones; none of them makes "Mueller, 12.03.1980" ambiguous."""
    rng = random.Random(seed)
    start, days = dt.date(1930, 1, 1).toordinal(), (dt.date(2012, 12, 31) - dt.date(1930, 1, 1)).days
    made = 0
    while made < count:
        birth_date = dt.date.fromordinal(start + rng.randrange(days))
        last_name = rng.choice(LAST_NAMES)
        if birth_date == BIRTH_DATE and match_name(LAST_NAME, last_name) is not NameMatch.NONE:
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
            "sms_consent_at": dt.datetime.now(dt.UTC) if consent else None,
        }
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
        rows = list(fictitious_patients(patients)) if patients else []
        async with engine.begin() as conn:
            for i in range(0, len(rows), 2000):
                await conn.execute(insert(Patient), rows[i : i + 2000])
            await conn.execute(text("ANALYZE patients.patient"))
    finally:
        await engine.dispose()


def start_system(args: argparse.Namespace, secret: str) -> tuple[System, str, str]:
    """Embedded NATS and Postgres of our own (so the in-process reference shares the DB), then `ignis up`."""
    home = Path(tempfile.mkdtemp(prefix="ignis-bench-"))
    system = System(home)
    try:
        nats_url, system.nats = start_nats(home, port=free_port())
        system.postgres = EmbeddedPostgres(home / "postgres")  # its data goes with the temporary home
        database_url = system.postgres.url
        asyncio.run(prepare_database(database_url, args.patients))

        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("IGNIS_")}
        env |= {
            "IGNIS_ENV": "dev",
            "IGNIS_HOME": str(home),
            "IGNIS_GATEWAY_PORT": str(port),
            "IGNIS_NATS_URL": nats_url,
            "IGNIS_DATABASE_URL": database_url,
            "IGNIS_TOOL_SECRET": secret,
            "IGNIS_LOG_FORMAT": "text",
            "IGNIS_LOG_LEVEL": "WARNING",
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
        return system, base, database_url
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


# --- callers ---------------------------------------------------------------------------------------------


class ToolClient:
    """`identify_patient` over HTTP, one conversation per call, as the voice agent's webhook would send it."""

    def __init__(self, base: str, secret: str, connections: int) -> None:
        self.base = base
        self.headers = {"X-Ignis-Tool-Secret": secret, "Content-Type": "application/json"}
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(total=10),
        )
        self.ids = itertools.count()

    async def identify(self) -> str:
        body = json.dumps(
            {
                "conversation_id": f"bench-http-{next(self.ids)}",
                "caller_id": CALLER_ID,
                "last_name": LAST_NAME,
                "birth_date": BIRTH_DATE_TEXT,
            }
        ).encode()
        async with self.session.post(
            f"{self.base}/tools/identify_patient", data=body, headers=self.headers
        ) as r:
            payload = await r.read()
        if r.status != 200:
            return f"HTTP {r.status}"
        return str(json.loads(payload).get("code", "no code"))

    async def get(self, path: str) -> str:
        async with self.session.get(f"{self.base}{path}") as response:
            return await response.text()

    async def close(self) -> None:
        await self.session.close()


class InProcess:
    """The same lookup with neither HTTP nor the bus: a unit of work per call, like the patients handler."""

    def __init__(self, database_url: str, home: Path) -> None:
        self.engine = create_engine(database_url)  # the service's own pool size
        self.sessionmaker = make_sessionmaker(self.engine)
        self.settings = PatientsSettings(_env_file=None, home=home, database_url=database_url)
        self.ids = itertools.count()

    async def identify(self) -> str:
        cmd = IdentifyPatient(
            conversation_id=f"bench-local-{next(self.ids)}", last_name=LAST_NAME, birth_date=BIRTH_DATE
        )
        async with self.sessionmaker() as session, session.begin():
            reply = await identify(PatientRepository(session), self.settings, cmd, utcnow())
        return "identified" if isinstance(reply, PatientIdentified) else reply.code.value

    async def close(self) -> None:
        await self.engine.dispose()


def measure(
    system: System,
    runner: asyncio.Runner,
    label: str,
    work: Coroutine[Any, Any, list[Sample]],
    rate: float | None = None,
) -> Run:
    before, wall = system.cpu_seconds(), time.perf_counter()
    samples = runner.run(work)
    after, wall = system.cpu_seconds(), time.perf_counter() - wall
    # Per process, so a Postgres backend that ends mid-run cannot make a role's share negative.
    cpu: Counter[str] = Counter()
    for (role, pid), seconds in after.items():
        cpu[role] += (seconds - before.get((role, pid), 0.0)) / wall
    run = Run(label, samples, dict(cpu), rate)
    print(
        f"  {label:<24} {len(samples):>6} calls, p50 {percentile(run.latencies_ms(), 50):6.2f} ms", flush=True
    )
    return run


def run_http(system: System, base: str, secret: str, args: argparse.Namespace) -> tuple[list[Run], str]:
    runs: list[Run] = []
    with asyncio.Runner(loop_factory=uvloop.new_event_loop if uvloop else None) as runner:
        client = runner.run(_client(base, secret, connections=max(1000, 2 * args.concurrency)))
        try:
            runner.run(closed_loop(client.identify, 20, seconds=60, limit=WARMUP_CALLS))
            for rate in args.rates:
                label = f"http open {rate:g}/s"
                runs.append(
                    measure(system, runner, label, open_loop(client.identify, rate, args.seconds), rate)
                )
                runner.run(asyncio.sleep(0.5))  # let stragglers and the pool settle
            label = f"http closed c={args.concurrency}"
            runs.append(
                measure(system, runner, label, closed_loop(client.identify, args.concurrency, args.seconds))
            )
            metrics = runner.run(client.get("/metrics"))
        finally:
            runner.run(client.close())
    return runs, metrics


async def _client(base: str, secret: str, connections: int) -> ToolClient:
    return ToolClient(base, secret, connections)  # an aiohttp session must be made inside its loop


def run_in_process(system: System, database_url: str, args: argparse.Namespace) -> list[Run]:
    """On the default asyncio loop, as the patients service runs (`asyncio.run`, no uvloop)."""
    runs: list[Run] = []
    with asyncio.Runner() as runner:
        local = InProcess(database_url, system.home)
        try:
            runner.run(closed_loop(local.identify, 10, seconds=60, limit=WARMUP_CALLS))
            runs.append(
                measure(system, runner, "in-process sequential", closed_loop(local.identify, 1, args.seconds))
            )
            label = f"in-process c={args.concurrency}"
            runs.append(
                measure(system, runner, label, closed_loop(local.identify, args.concurrency, args.seconds))
            )
        finally:
            runner.run(local.close())
    return runs


# --- report ----------------------------------------------------------------------------------------------


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)

    def fmt(row: list[str]) -> str:
        return "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )

    return "\n".join([fmt(header), line, *map(fmt, rows)])


def report(runs: list[Run]) -> None:
    rows = []
    for run in runs:
        lat, lags = run.latencies_ms(), run.lags_ms()
        ok = sum(s.ok for s in run.samples)
        rows.append(
            [
                run.label,
                str(len(run.samples)),
                str(ok),
                str(len(run.samples) - ok),
                f"{run.ok_per_second():.0f}",
                *(f"{percentile(lat, p):.2f}" for p in (50, 90, 99)),
                f"{lat[-1]:.2f}" if lat else "-",
                f"{percentile(lags, 99):.2f}" if run.rate else "-",
                f"{percentile(run.from_schedule_ms(), 99):.2f}" if run.rate else "-",
            ]
        )
    header = ["scenario", "sent", "ok", "errors", "ok/s", "p50", "p90", "p99", "max", "lag p99", "sched p99"]
    print("\nidentify_patient latency in ms, measured from the moment each call was sent")
    print(
        "(open loop: lag = how late the generator sent a call, sched p99 = p99 measured from its schedule)\n"
    )
    print(table(header, rows))

    roles = ["gateway", "patients", "postgres", "nats", "other", "bench"]
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

    notes = []
    for run in runs:
        if run.rate and (percentile(run.lags_ms(), 99) > LAG_NOTE_MS or run.send_rate() < 0.98 * run.rate):
            notes.append(
                f"- {run.label}: the generator fell behind (sent {run.send_rate():.0f}/s, "
                f"lag p99 {percentile(run.lags_ms(), 99):.1f} ms, max {run.lags_ms()[-1]:.1f} ms)"
            )
        if failures := run.failures():
            notes.append(f"- {run.label}: not identified: {dict(failures.most_common())}")
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
            re.sub(r"bench-(http|local)-\d+", "bench-…", re.sub(prefix, "", line))
            for line in lines
            if re.search(marker, line)
        )
        print(f"\nWarnings and errors in the {name} log: {sum(found.values())}")
        for message, count in found.most_common(10):
            print(f"  {count:>6} x {message[:160]}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each measured run")
    parser.add_argument(
        "--rates",
        type=lambda s: [float(r) for r in s.split(",") if r.strip()],
        default=[50.0, 200.0, 500.0],
        help="open-loop rates in calls/s, comma-separated",
    )
    parser.add_argument("--concurrency", type=int, default=50, help="callers of the closed-loop runs")
    parser.add_argument(
        "--patients", type=int, default=10_000, help="fictitious patients besides the demo ones"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary IGNIS_HOME (data and logs)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    began = time.monotonic()
    secret = secrets.token_urlsafe(24)
    print(f"Starting the system with {args.patients} extra patients …", flush=True)
    system, base, database_url = start_system(args, secret)
    gc.freeze()  # the set-up's objects are permanent: no full collection of them stalls the generator
    try:
        print(
            f"Ready after {time.monotonic() - began:.1f} s at {base}; measuring {args.seconds:g} s per run:"
        )
        runs, metrics = run_http(system, base, secret, args)
        runs += run_in_process(system, database_url, args)
        report(runs)
        report_system(system, metrics)
    finally:
        stop_and_clean(system, args.keep)
    print(f"\nDone in {time.monotonic() - began:.0f} s.")


if __name__ == "__main__":
    main()
