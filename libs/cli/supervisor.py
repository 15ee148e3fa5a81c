"""Runs the gateway and the services as separate processes, restarts a crashed one, stops all on a signal.

Children die with the supervisor even when it is killed hard (Linux parent-death signal), so no stray
process outlives `ignis up`.
"""

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ignis.kit.embedded import die_with_parent

logger = logging.getLogger("ignis.supervisor")
# A crash loop backs off, but never so far that callers wait long for a process that could run again.
MAX_BACKOFF_SECONDS = 5.0
HEALTHY_AFTER_SECONDS = 3.0


def spawn(argv: list[str], env: Mapping[str, str] | None = None) -> "subprocess.Popen[bytes]":
    return subprocess.Popen(
        argv,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        # Own session: Ctrl-C reaches only the supervisor, which then stops the children in order.
        start_new_session=True,
        preexec_fn=die_with_parent if sys.platform == "linux" else None,
    )


@dataclass
class Child:
    name: str
    argv: list[str]
    process: "subprocess.Popen[bytes] | None" = None
    crashes: int = 0
    restart_at: float = 0.0
    started_at: float = field(default=0.0)


class Server(Protocol):
    """A server `ignis up` started (embedded NATS or Postgres): checked and, when it died, started again on
    the same data and address, so the services (which reconnect by themselves) are ready again."""

    name: str

    def alive(self) -> bool: ...

    def restart(self) -> None: ...


@dataclass
class Watched:
    server: Server
    crashes: int = 0
    restart_at: float = 0.0
    up_since: float = field(default_factory=time.monotonic)


class Supervisor:
    def __init__(self, children: list[Child], env: Mapping[str, str], servers: Sequence[Server] = ()) -> None:
        self.children = children
        self.env = env
        self.servers = [Watched(server) for server in servers]
        self.stopping = False

    def start(self) -> None:
        for child in self.children:
            self._start(child)

    def _start(self, child: Child) -> None:
        child.process = spawn(child.argv, self.env)
        child.started_at = time.monotonic()
        logger.info("started", extra={"child": child.name, "pid": child.process.pid})

    def request_stop(self, *_: object) -> None:
        self.stopping = True

    def run(self, poll_seconds: float = 0.2) -> None:
        """Supervise until SIGINT/SIGTERM, then stop every child."""
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        try:
            while not self.stopping:
                self.check()
                time.sleep(poll_seconds)
        finally:
            self.stop()

    def check(self) -> None:
        now = time.monotonic()
        for watched in self.servers:
            self._check_server(watched, now)
        for child in self.children:
            if child.process is None:
                if now >= child.restart_at:
                    self._start(child)
                continue
            code = child.process.poll()
            if code is None:
                continue
            child.crashes, delay = _after_crash(child.crashes, now - child.started_at)
            logger.warning(
                "process exited, restarting",
                extra={"child": child.name, "exit_code": code, "restart_in_s": delay},
            )
            child.process = None
            child.restart_at = now + delay

    def _check_server(self, watched: Watched, now: float) -> None:
        if now < watched.restart_at or watched.server.alive():
            return
        watched.crashes, delay = _after_crash(watched.crashes, now - watched.up_since)
        logger.warning("server stopped, restarting", extra={"server": watched.server.name})
        try:
            watched.server.restart()
        except Exception as exc:  # try again after a pause that grows while it keeps failing
            watched.restart_at = now + delay
            logger.error(
                "server did not start, trying again",
                extra={"server": watched.server.name, "error": type(exc).__name__, "restart_in_s": delay},
            )
            return
        watched.up_since = time.monotonic()
        logger.info("server restarted", extra={"server": watched.server.name})

    def stop(self, grace_seconds: float = 15.0) -> None:
        running = [c.process for c in self.children if c.process is not None and c.process.poll() is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for child in self.children:
            child.process = None


def _after_crash(crashes: int, ran_seconds: float) -> tuple[int, float]:
    """The crash count and restart delay after a death: a process that ran a while is restarted at once;
    only one that keeps dying right after its start (a crash loop) is restarted ever more slowly."""
    crashes = 1 if ran_seconds > HEALTHY_AFTER_SECONDS else crashes + 1
    return crashes, min(MAX_BACKOFF_SECONDS, 0.25 * 2 ** (crashes - 1))
