"""OpenTelemetry traces, exported by OTLP/HTTP when configured, else off (and free).

One tool call is one trace: the gateway's HTTP span, the NATS request it makes (the trace context
travels in the message headers), the service's handling of it, and each SQL statement there. Configured
by the standard variables: `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) turns it on,
`OTEL_SERVICE_NAME` overrides `ignis-<process>`. Spans carry no patient data: names are routes, subjects
and SQL statements with placeholders (parameters are never recorded).
"""

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_provider: TracerProvider | None = None


def tracer_provider(process: str) -> TracerProvider | None:
    """This process's tracer provider (made once), or None when no OTLP endpoint is configured."""
    global _provider
    if _provider is None and any(os.environ.get(name) for name in _ENDPOINTS):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        name = os.environ.get("OTEL_SERVICE_NAME") or f"ignis-{process}"
        _provider = TracerProvider(resource=Resource.create({"service.name": name}))
        _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(_provider)
    return _provider


def trace_sql(engine: AsyncEngine, provider: TracerProvider | None) -> None:
    """A span per SQL statement (without its parameters), under the message or request being handled."""
    if provider is not None:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        # It declares SQLAlchemy < 2.1 but only uses its stable cursor events, which 2.1 keeps.
        SQLAlchemyInstrumentor().instrument(
            engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True
        )


def flush() -> None:
    """Send what is buffered: at shutdown, so the last calls' spans are not lost."""
    if _provider is not None:
        _provider.force_flush(5_000)
