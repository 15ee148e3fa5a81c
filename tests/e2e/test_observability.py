"""A tool call followed in metrics and traces: the four processes as a deployment runs them (`ignis serve`,
each replica with its own /metrics and /readyz), exporting traces by OTLP to a local collector."""

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ignis.cli.setup import migrate_all, seed_all
from ignis.kit.embedded import free_port
from tests.e2e.conftest import METRICS_TOKEN, TOOL_SECRET
from tests.fakes import serving
from tests.notifier.conftest import forget_history
from tests.pii import find_pii

pytestmark = pytest.mark.e2e
PROCESSES = ("gateway", "patients", "scheduler", "notifier")


@dataclass
class Span:
    service: str
    name: str
    trace_id: str
    attributes: dict[str, Any]


@dataclass
class Collector:
    """An OTLP/HTTP receiver: the spans the processes export, decoded from protobuf."""

    spans: list[Span] = field(default_factory=list)

    async def traces(self, request: Request) -> Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.body())
        for resource_spans in export.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    attributes = {a.key: a.value.string_value or a.value.int_value for a in span.attributes}
                    self.spans.append(
                        Span(resource["service.name"], span.name, span.trace_id.hex(), attributes)
                    )
        return Response(ExportTraceServiceRequest().SerializeToString(), media_type="application/x-protobuf")


@pytest.fixture
async def collector() -> AsyncIterator[tuple[Collector, str]]:
    found = Collector()
    async with serving(Starlette(routes=[Route("/v1/traces", found.traces, methods=["POST"])])) as port:
        yield found, f"http://127.0.0.1:{port}"


@dataclass
class Deployment:
    gateway: str
    ports: dict[str, int]
    log: Path

    def metrics(self, process: str) -> str:
        if process == "gateway":  # the gateway's is behind its token; a service's is on its own port
            headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
            return httpx.get(f"{self.gateway}/metrics", headers=headers, timeout=5).text
        return httpx.get(f"http://127.0.0.1:{self.ports[process]}/metrics", timeout=5).text


@contextlib.contextmanager
def deployment(env: dict[str, str], log: Path) -> Iterator[Deployment]:
    ports = {name: free_port() for name in PROCESSES}
    started = []
    with log.open("ab") as sink:
        for name in PROCESSES:
            own = {"IGNIS_SERVICE_PORT": str(ports[name])} if name != "gateway" else {}
            started.append(
                subprocess.Popen(
                    [sys.executable, "-m", "ignis.cli.main", "serve", name],
                    env=env | {"IGNIS_GATEWAY_PORT": str(ports["gateway"])} | own,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            )
    running = Deployment(f"http://127.0.0.1:{ports['gateway']}", ports, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{running.gateway}/readyz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            assert all(p.poll() is None for p in started), log.read_text(errors="replace")[-3000:]
            time.sleep(0.3)
        yield running
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(30)


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample `name` whose labels include `labels`, if exported."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            head, _, value = line.rpartition(" ")
            if all(f'{key}="{val}"' in head for key, val in labels.items()):
                return float(value)
    return None


async def test_a_tool_call_in_metrics_and_one_trace(
    nats_url: str, e2e_database_url: str, tmp_path: Path, collector: tuple[Collector, str]
) -> None:
    found, otlp = collector
    await migrate_all(e2e_database_url)
    await seed_all(e2e_database_url, None)
    await forget_history(nats_url)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("IGNIS_", "OTEL_"))} | {
        "IGNIS_HOME": str(tmp_path),
        "IGNIS_NATS_URL": nats_url,
        "IGNIS_DATABASE_URL": e2e_database_url,
        "IGNIS_TOOL_SECRET": TOOL_SECRET,
        "IGNIS_METRICS_TOKEN": METRICS_TOKEN,
        "IGNIS_LOG_FORMAT": "json",
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    headers = {"X-Ignis-Tool-Secret": TOOL_SECRET}

    def scenario() -> tuple[dict[str, str], str]:
        with deployment(env, tmp_path / "processes.log") as running:
            for name in ("patients", "scheduler", "notifier"):
                base = f"http://127.0.0.1:{running.ports[name]}"
                assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
                ready = httpx.get(f"{base}/readyz", timeout=5)
                assert (ready.status_code, ready.text) == (200, "ready\n")

            def call(tool: str, **body: Any) -> dict[str, Any]:
                reply = httpx.post(
                    f"{running.gateway}/tools/{tool}",
                    json={"conversation_id": "obs-1", "caller_id": "+4915123456789", **body},
                    headers=headers,
                    timeout=15,
                )
                return dict(reply.json())

            found_ = call("identify_patient", last_name="Müller", birth_date="12.03.1980")
            assert found_["code"] == "identified"
            ref = found_["patient_ref"]
            offer = call("find_slots", visit_type="Akutsprechstunde", patient_ref=ref)
            booked = call("book_appointment", patient_ref=ref, slot_id=offer["slots"][0]["slot_id"])
            assert booked["code"] == "booked"
            deadline = time.monotonic() + 20
            while metric(running.metrics("notifier"), "ignis_sms_total", status="sent") is None:
                assert time.monotonic() < deadline, "no SMS counted"
                time.sleep(0.2)
            texts = {name: running.metrics(name) for name in PROCESSES}
        return texts, running.log.read_text(errors="replace")

    metrics, log = await asyncio.to_thread(scenario)

    gateway = metrics["gateway"]
    assert metric(gateway, "ignis_tool_calls_total", tool="identify_patient", code="identified") == 1.0
    assert metric(gateway, "ignis_tool_latency_seconds_count", tool="book_appointment") == 1.0
    assert (
        metric(metrics["patients"], "faststream_received_messages_total", handler="ignis.patients.identify")
        == 1.0
    )
    assert metric(metrics["patients"], "ignis_consumer_pending", consumer="patients-calls") == 0.0
    assert metric(metrics["scheduler"], "ignis_outbox_pending", service="scheduler") == 0.0
    assert metric(metrics["scheduler"], "ignis_outbox_lag_seconds", service="scheduler") == 0.0
    assert metric(metrics["notifier"], "ignis_sms_total", template="confirmation", status="sent") == 1.0
    assert metric(metrics["notifier"], "ignis_consumer_pending", consumer="notifier-appointments") == 0.0

    # The processes flushed their spans on SIGTERM; the identify call is one trace across two processes.
    deadline = time.monotonic() + 10
    while not any(s.service == "ignis-patients" for s in found.spans) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for span in found.spans:
        by_trace[span.trace_id].append(span)
    [identify] = [
        spans
        for spans in by_trace.values()
        if any(s.service == "ignis-gateway" and "identify_patient" in s.name for s in spans)
    ]
    services = {s.service for s in identify}
    assert services == {"ignis-gateway", "ignis-patients"}, [(s.service, s.name) for s in identify]
    assert any(s.service == "ignis-patients" and "ignis.patients.identify" in s.name for s in identify)
    sql = [
        s for s in identify if s.service == "ignis-patients" and s.attributes.get("db.system") == "postgresql"
    ]
    assert sql, sorted({s.name for s in found.spans if s.service == "ignis-patients"})
    assert not find_pii(str([s.attributes for s in found.spans])), "patient data in span attributes"
    assert not find_pii(log)
