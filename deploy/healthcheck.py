"""Container health check: exit 0 when the Ignis process in this container answers, else 1 with the reason.

    python healthcheck.py gateway    GET /healthz of the gateway on this container's loopback
    python healthcheck.py patients   GET /readyz of this replica on 127.0.0.1:$IGNIS_SERVICE_PORT (likewise
                                     scheduler, notifier); without IGNIS_SERVICE_PORT, request
                                     `ignis.patients.ping` over NATS instead
    python healthcheck.py            the process named by the `ignis serve <process>` running here

A service's /readyz answers 200 only while that process is connected to NATS and its database answers, so
it checks this replica. The NATS ping fallback goes to the service's queue group: with several replicas any
one may answer, so it proves "the service answers", not "this replica answers". Standard library only (the
NATS fallback alone imports nats-py); reads the same `IGNIS_*` variables as the process.
"""

import asyncio
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

SERVICES = ("patients", "scheduler", "notifier")
TIMEOUT_SECONDS = 3.0


def serving() -> str | None:
    """The process of an `ignis serve <process>` command running in this container, if any."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        for i, arg in enumerate(args[:-2]):
            if arg.endswith(("ignis", "ignis.cli.main")) and args[i + 1] == "serve":
                return args[i + 2]
    return None


def get_ok(url: str) -> None:
    """GET `url`; anything but a 200 raises with the status and the start of the answer."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            status, body = response.status, response.read(200)
    except urllib.error.HTTPError as exc:  # 4xx/5xx: /readyz answers 503 while not ready
        status, body = exc.code, exc.read(200)
    if status != 200:
        raise RuntimeError(f"{url} answered {status}: {body.decode(errors='replace').strip()}")


def check_gateway() -> None:
    host = os.environ.get("IGNIS_GATEWAY_HOST", "127.0.0.1")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    port = os.environ.get("IGNIS_GATEWAY_PORT", "8000")
    get_ok(f"http://{host}:{port}/healthz")


def check_service_http(port: str) -> None:
    get_ok(f"http://127.0.0.1:{port}/readyz")


async def check_service_nats(service: str) -> None:
    import nats  # only the fallback needs it; imported late so the HTTP checks stay standard-library only

    errors: list[Exception] = []

    async def keep(exc: Exception) -> None:
        errors.append(exc)  # instead of nats-py's own logging: the exit message names the last one

    url = os.environ.get("IGNIS_NATS_URL") or "nats://127.0.0.1:4222"
    try:
        # nats-py retries a refused first connection until max_reconnect_attempts (0 = forever): try twice.
        nc = await nats.connect(
            url,
            name=f"ignis-healthcheck-{service}",
            connect_timeout=TIMEOUT_SECONDS,
            allow_reconnect=False,
            max_reconnect_attempts=1,
            reconnect_time_wait=0.2,
            error_cb=keep,
        )
    except Exception as exc:
        raise RuntimeError(f"cannot connect to NATS: {errors[-1] if errors else exc!r}") from None
    try:
        reply = await nc.request(f"ignis.{service}.ping", b"{}", timeout=TIMEOUT_SECONDS)
    finally:
        await nc.close()
    body = json.loads(reply.data)
    if body.get("kind") != "pong" or body.get("service") != service:
        raise RuntimeError(f"unexpected reply to ping: {body.get('kind')!r}")


def main() -> None:
    process = sys.argv[1] if len(sys.argv) > 1 else serving()
    if process is None:
        return  # a one-shot command (`ignis migrate`, `ignis seed`): nothing long-running to check
    try:
        if process == "gateway":
            check_gateway()
        elif process in SERVICES:
            if port := os.environ.get("IGNIS_SERVICE_PORT"):
                check_service_http(port)
            else:
                asyncio.run(asyncio.wait_for(check_service_nats(process), 2 * TIMEOUT_SECONDS))
        else:
            sys.exit(f"unhealthy: unknown process {process!r}")
    except Exception as exc:
        sys.exit(f"unhealthy: {process}: {type(exc).__name__}: {exc or 'timed out'}")


if __name__ == "__main__":
    main()
