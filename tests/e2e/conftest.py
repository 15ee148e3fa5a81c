"""Run `ignis up` as a user would, as a subprocess, and talk to it over HTTP."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ignis.kit.embedded import free_port
from tests.conftest import drop_database, other_database

TOOL_SECRET = "e2e-tool-secret"
WEBHOOK_SECRET = "e2e-webhook-secret"
STAFF_TOKEN = "e2e-staff-token"
METRICS_TOKEN = "e2e-metrics-token"


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Ignis-Tool-Secret": TOOL_SECRET}

    def children(self) -> dict[str, psutil.Process]:
        """The supervised processes by name (`ignis.cli.main serve <name>`)."""
        found = {}
        for child in psutil.Process(self.process.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                cmdline = child.cmdline()
                if "serve" in cmdline:
                    found[cmdline[-1]] = child
        return found

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def ignis_env(home: Path, **settings: str) -> dict[str, str]:
    """A clean environment: nothing of the developer's own IGNIS_* settings leaks into the test."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("IGNIS_")}
    return env | {
        "IGNIS_HOME": str(home),
        "IGNIS_GATEWAY_PORT": str(free_port()),
        "IGNIS_TOOL_SECRET": TOOL_SECRET,
        "IGNIS_ELEVENLABS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "IGNIS_STAFF_TOKEN": STAFF_TOKEN,
        "IGNIS_METRICS_TOKEN": METRICS_TOKEN,
        "IGNIS_LOG_FORMAT": "json",
        **settings,
    }


def wait_ready(base_url: str, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "ignis up exited before it was ready"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise TimeoutError(f"not ready after {timeout}s")


@contextlib.contextmanager
def ignis_up(env: dict[str, str], log: Path, *options: str) -> Iterator[Running]:
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "ignis.cli.main", "up", *options],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    running = Running(process, f"http://127.0.0.1:{env['IGNIS_GATEWAY_PORT']}", log)
    try:
        wait_ready(running.base_url, process)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
async def e2e_database_url(database_url: str, engine: AsyncEngine) -> AsyncIterator[str]:
    """A database of its own, which `ignis up` creates and migrates itself; dropped afterwards."""
    yield other_database(database_url, "ignis_e2e")
    await drop_database(engine, "ignis_e2e")
