"""What a running `ignis up` leaves in its IGNIS_HOME: a lock that says it runs, and where its servers are.

The admin commands (`ignis migrate`, `erase-patient`, `dead-letters`, ...) read it, so next to `make run`
they reach the same NATS and Postgres with no setting; a second `ignis up` on the same home is refused
instead of starting a second NATS on the same JetStream store. The lock is the kernel's (`flock`), so it
is gone the moment its process is, however it ended.
"""

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

LOCK_FILE, RUNNING_FILE = "ignis.lock", "running.json"


@dataclass(frozen=True)
class Running:
    pid: int
    nats_url: str
    database_url: str
    gateway: str


class HomeInUse(Exception):
    def __init__(self, running: Running | None) -> None:
        super().__init__("IGNIS_HOME is in use")
        self.running = running


class HomeLock:
    """Held by `ignis up` for as long as it runs."""

    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self._file: IO[str] | None = open(home / LOCK_FILE, "a")  # noqa: SIM115 - held until release
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            self._file = None
            raise HomeInUse(_read(home)) from None

    def publish(self, nats_url: str, database_url: str, gateway: str) -> None:
        running = {"pid": os.getpid(), "nats_url": nats_url, "database_url": database_url, "gateway": gateway}
        path = self.home / RUNNING_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # URLs may carry a password
        with os.fdopen(fd, "w") as file:
            json.dump(running, file)

    def release(self) -> None:
        (self.home / RUNNING_FILE).unlink(missing_ok=True)
        if self._file is not None:
            self._file.close()  # closing drops the lock
            self._file = None


def running(home: Path) -> Running | None:
    """The `ignis up` that runs from `home`, if one does."""
    path = home / LOCK_FILE
    if not path.exists():
        return None
    with path.open("a") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(home)
        fcntl.flock(file, fcntl.LOCK_UN)
    return None


def _read(home: Path) -> Running | None:
    try:
        return Running(**json.loads((home / RUNNING_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None  # still starting, or written by another version
