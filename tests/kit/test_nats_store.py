"""The embedded NATS (`ignis up`) keeps JetStream encrypted on disk: the files hold no message text, the key
stays with the installation, and a store from before encryption is encrypted, not lost, on the next start."""

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from ignis.kit.embedded import NATS_STORE_KEY, free_port, nats_server_binary, start_nats, wait_for_port
from ignis.kit.settings import stored_secret

MARKER = b"Transkript: Frau Beispiel hat Fieber seit Montag"


def files_containing(directory: Path, needle: bytes) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file() and needle in path.read_bytes()]


@pytest.fixture
def stopped() -> Iterator[list[subprocess.Popen[bytes]]]:
    """nats-server processes to stop after the test, whatever happened."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(10)


async def publish(url: str, data: bytes) -> None:
    connection = await nats.connect(url)
    try:
        js = connection.jetstream()
        await js.add_stream(name="STORE_TEST", subjects=["store.>"])
        await js.publish("store.test", data, stream="STORE_TEST")
    finally:
        await connection.close()


async def stored_messages(url: str) -> list[bytes]:
    connection = await nats.connect(url)
    try:
        js = connection.jetstream()
        last = (await js.stream_info("STORE_TEST")).state.last_seq
        return [(await js.get_msg("STORE_TEST", seq)).data or b"" for seq in range(1, last + 1)]
    finally:
        await connection.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(10)


async def test_the_store_on_disk_holds_no_message_text(
    tmp_path: Path, stopped: list[subprocess.Popen[bytes]]
) -> None:
    url, process = start_nats(tmp_path, port=free_port())
    stopped.append(process)
    await publish(url, MARKER)
    stop(process)
    assert list((tmp_path / "nats").rglob("*.blk")), "JetStream wrote no message block"
    assert files_containing(tmp_path / "nats", b"Fieber") == []
    key = stored_secret(tmp_path, NATS_STORE_KEY)
    assert key
    assert oct((tmp_path / "secrets.json").stat().st_mode)[-3:] == "600"
    assert oct((tmp_path / "nats-server.conf").stat().st_mode)[-3:] == "600"

    url, process = start_nats(tmp_path, port=free_port())  # the next start: same key, same messages
    stopped.append(process)
    assert await stored_messages(url) == [MARKER]
    assert stored_secret(tmp_path, NATS_STORE_KEY) == key


async def test_a_store_from_before_encryption_is_encrypted_on_the_next_start(
    tmp_path: Path, stopped: list[subprocess.Popen[bytes]]
) -> None:
    """An installation from before: nats-server without a cipher, its messages in plaintext on disk."""
    port = free_port()
    config = tmp_path / "old.conf"
    config.write_text(
        f"listen: 127.0.0.1:{port}\njetstream {{ store_dir: {json.dumps(str(tmp_path / 'nats'))} }}\n"
    )
    old = subprocess.Popen(  # noqa: ASYNC220 - a server, started and left running
        [nats_server_binary(), "-c", str(config)], stderr=subprocess.DEVNULL
    )
    stopped.append(old)
    wait_for_port(port)
    await publish(f"nats://127.0.0.1:{port}", MARKER)
    stop(old)
    assert files_containing(tmp_path / "nats", b"Fieber"), "the old store should be plaintext"

    url, process = start_nats(tmp_path, port=free_port())
    stopped.append(process)
    assert await stored_messages(url) == [MARKER]
    stop(process)
    assert files_containing(tmp_path / "nats", b"Fieber") == []
