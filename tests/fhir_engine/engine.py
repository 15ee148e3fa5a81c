"""Medplum's FHIR engine (server.mjs beside this file), a subprocess of the test run like NATS and Postgres.

`make test` installs it (`npm ci` here); a run without it installs it on first use. Node.js 20 is required: a
machine without node fails the FHIR tests with that message, it never skips them.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from ignis.kit.embedded import die_with_parent

HERE = Path(__file__).parent
# fhir-router 4.5.2 needs Node 20 (5.x needs 22); the engine loads the FHIR definitions for a few seconds.
MIN_NODE_MAJOR = 20
START_SECONDS = 60.0


class EngineMissing(RuntimeError):
    pass


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise EngineMissing(
            "node not found: the FHIR tests run Medplum's FHIR engine on Node.js >= 20 (install nodejs and "
            "npm, then `make test`, which runs `npm ci` in tests/fhir_engine)"
        )
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < MIN_NODE_MAJOR:
        raise EngineMissing(f"node {version} is too old for @medplum/fhir-router 4.5.2: Node.js >= 20 needed")
    return node


def ensure_installed() -> None:
    """`npm ci` unless node_modules matches the lock already (what `make fhir-engine` does)."""
    lock, installed = HERE / "package-lock.json", HERE / "node_modules" / ".package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise EngineMissing("npm not found: needed once to install Medplum's FHIR engine (tests/fhir_engine)")
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True)
    if done.returncode != 0:
        raise EngineMissing(f"npm ci in {HERE} failed:\n{done.stderr[-2000:]}")


@dataclass
class FhirEngine:
    """A running engine: `base_url` is the FHIR base (…/fhir/R4)."""

    root_url: str
    process: subprocess.Popen[str]

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/fhir/R4"

    @property
    def token_url(self) -> str:
        return f"{self.root_url}/oauth2/token"

    def reset(self) -> None:
        """Empty the store and demand no auth again (between tests)."""
        httpx.post(f"{self.root_url}/_engine/reset", timeout=10).raise_for_status()

    def demand_auth(self, auth: str, client_id: str = "", client_secret: str = "") -> None:
        """From now on the FHIR base demands this auth: none, basic, bearer (the secret) or oauth2."""
        body = {"auth": auth, "clientId": client_id, "clientSecret": client_secret}
        httpx.post(f"{self.root_url}/_engine/auth", json=body, timeout=10).raise_for_status()


@contextlib.contextmanager
def running_engine() -> Iterator[FhirEngine]:
    node = node_binary()
    ensure_installed()
    # A file, not a pipe: nobody reads it while the engine runs. Closed when the engine is gone.
    errors = tempfile.TemporaryFile("w+")  # noqa: SIM115
    process = subprocess.Popen(
        [node, str(HERE / "server.mjs"), "--port", "0"],
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        preexec_fn=die_with_parent,
        env={**os.environ, "NODE_ENV": "production"},
    )
    assert process.stdout is not None
    # The engine prints `listening <port>` once it accepts requests; read that line with a deadline.
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(process.stdout.readline() if process.stdout else ""))
    reader.start()
    reader.join(START_SECONDS)
    if not line or not line[0].startswith("listening "):
        process.kill()
        errors.seek(0)
        stderr = errors.read()
        raise RuntimeError(
            f"Medplum's FHIR engine did not start within {START_SECONDS:.0f}s:\n{stderr[-2000:]}"
        )
    engine = FhirEngine(f"http://127.0.0.1:{int(line[0].split()[1])}", process)
    try:
        yield engine
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        errors.close()
