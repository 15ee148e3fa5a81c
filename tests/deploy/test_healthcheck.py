"""deploy/healthcheck.py against a stand-in HTTP endpoint: a service's own /readyz when IGNIS_SERVICE_PORT
is set, the gateway's /healthz; standard library only (the image's HEALTHCHECK runs it with plain python)."""

import ast
import http.server
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from tests.deploy.conftest import DEPLOY

SCRIPT = DEPLOY / "healthcheck.py"


class Endpoint(http.server.BaseHTTPRequestHandler):
    statuses: dict[str, int] = {}  # noqa: RUF012 (set per test)

    def do_GET(self) -> None:
        status = self.statuses.get(self.path, 404)
        body = b'{"status": "ok"}' if status == 200 else b'{"status": "not_ready", "nats": false}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[int, dict[str, int]]]:
    statuses: dict[str, int] = {}
    handler = type("Handler", (Endpoint,), {"statuses": statuses})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_address[1], statuses
    server.shutdown()
    server.server_close()


@pytest.fixture
def endpoint(server: tuple[int, dict[str, int]]) -> tuple[int, dict[str, int]]:
    """The stand-in's port and the status each path answers (none: 404), fresh for each test."""
    server[1].clear()
    return server


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
        env={"PATH": "/usr/bin:/bin", **env},
    )


@pytest.mark.parametrize("service", ["patients", "scheduler", "notifier"])
def test_a_ready_service_is_healthy(endpoint: tuple[int, dict[str, int]], service: str) -> None:
    port, statuses = endpoint
    statuses["/readyz"] = 200
    result = run(service, IGNIS_SERVICE_PORT=str(port))
    assert result.returncode == 0, result.stderr


def test_a_service_that_is_not_ready_is_unhealthy(endpoint: tuple[int, dict[str, int]]) -> None:
    port, statuses = endpoint
    statuses["/readyz"] = 503
    statuses["/healthz"] = 200  # alive is not enough
    result = run("scheduler", IGNIS_SERVICE_PORT=str(port))
    assert result.returncode == 1
    assert "unhealthy: scheduler" in result.stderr
    assert "503" in result.stderr


def test_a_service_that_does_not_answer_is_unhealthy() -> None:
    with socket.socket() as bound:  # bound, not listening: connections to it are refused
        bound.bind(("127.0.0.1", 0))
        result = run("notifier", IGNIS_SERVICE_PORT=str(bound.getsockname()[1]))
    assert result.returncode == 1
    assert "unhealthy: notifier" in result.stderr


def test_the_gateway_is_checked_on_healthz(endpoint: tuple[int, dict[str, int]]) -> None:
    port, statuses = endpoint
    statuses["/healthz"] = 200
    assert run("gateway", IGNIS_GATEWAY_PORT=str(port), IGNIS_GATEWAY_HOST="0.0.0.0").returncode == 0
    statuses["/healthz"] = 500
    assert run("gateway", IGNIS_GATEWAY_PORT=str(port)).returncode == 1


def test_an_unknown_process_is_unhealthy() -> None:
    result = run("frontend")
    assert result.returncode == 1
    assert "unknown process" in result.stderr


def test_only_the_standard_library_at_import() -> None:
    """nats-py is imported inside the NATS fallback only, so the HTTP checks need nothing installed."""
    tree = ast.parse(SCRIPT.read_text())
    top_level = {
        alias.name.split(".")[0]
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert top_level <= sys.stdlib_module_names, top_level - sys.stdlib_module_names
