"""How long a caller waits after a process dies: `kill -9` of each part of `ignis up` with `make run`'s
defaults (embedded NATS and Postgres, one process per service), and the time until the tool that needs
it answers again. `ignis up` restarts what died; the clients reconnect.

    python bench/recovery.py [--rounds 3]

Prints, per process, the seconds from the kill to the first good answer (min/median/max over the rounds).
"""

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
import psutil
from harness import markdown

from ignis.kit.embedded import free_port

SECRET = "bench-recovery-secret"
IDENTIFY = {
    "conversation_id": "",
    "caller_id": "+4930123456",
    "last_name": "Mueller",
    "birth_date": "12.03.1980",
}
FIND = {"conversation_id": "bench-recovery", "visit_type": "Akutsprechstunde"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="ignis-recovery-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IGNIS_")} | {
        "IGNIS_HOME": str(home),
        "IGNIS_GATEWAY_PORT": str(port),
        "IGNIS_TOOL_SECRET": SECRET,
        "IGNIS_LOG_LEVEL": "WARNING",
    }
    base = f"http://127.0.0.1:{port}"
    log = (home / "up.log").open("wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "ignis.cli.main", "up"],
        env=env,
        cwd=home,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        until(lambda: ready(base), 120)
        checks: dict[str, Callable[[], bool]] = {
            "nats": lambda: ready(base) and identified(base),
            "postgres": lambda: identified(base),
            "gateway": lambda: identified(base),
            "patients": lambda: identified(base),
            "scheduler": lambda: slots(base),
            "notifier": lambda: ready(base),
        }
        rows = []
        for name, answers in checks.items():
            seconds = []
            for _ in range(args.rounds):
                until(lambda: ready(base) and identified(base), 60)
                time.sleep(1)  # let it settle as a healthy process, not a crash loop
                kill(up.pid, home, name)
                started = time.monotonic()
                until(answers, 120)
                seconds.append(time.monotonic() - started)
            low, median, high = min(seconds), statistics.median(seconds), max(seconds)
            rows.append(
                {
                    "kill -9 of": name,
                    "min s": f"{low:.2f}",
                    "median s": f"{median:.2f}",
                    "max s": f"{high:.2f}",
                }
            )
        print(markdown(rows))
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(60)


def kill(up_pid: int, home: Path, name: str) -> None:
    if name == "postgres":
        psutil.Process(int((home / "postgres" / "postmaster.pid").read_text().split()[0])).kill()
        return
    for child in psutil.Process(up_pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            cmdline = child.cmdline()
            if (name == "nats" and child.name() == "nats-server") or cmdline[-2:] == ["serve", name]:
                child.kill()
                return
    raise LookupError(name)


def until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("no good answer in time")
        time.sleep(0.05)


def ready(base: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    return False


def tool(base: str, name: str, body: Mapping[str, object]) -> str:
    with contextlib.suppress(httpx.HTTPError):
        response = httpx.post(
            f"{base}/tools/{name}", json=body, headers={"X-Ignis-Tool-Secret": SECRET}, timeout=5
        )
        return str(response.json().get("code"))
    return "no answer"


def identified(base: str) -> bool:
    return (
        tool(base, "identify_patient", IDENTIFY | {"conversation_id": f"r-{time.monotonic_ns()}"})
        == "identified"
    )


def slots(base: str) -> bool:
    return tool(base, "find_slots", FIND) == "slots"


if __name__ == "__main__":
    main()
