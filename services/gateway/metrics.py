"""Prometheus metrics of the gateway, in a registry per app so tests can build several apps."""

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

# Tool latency is felt by a caller waiting in silence: buckets resolve the 1-50 ms range finely.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass
class GatewayMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.tool_calls = Counter(
            "ignis_tool_calls",
            "Tool calls by tool and outcome code",
            ["tool", "code"],
            registry=self.registry,
        )
        self.tool_latency = Histogram(
            "ignis_tool_latency_seconds",
            "Tool call latency at the gateway",
            ["tool"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.bus_timeouts = Counter(
            "ignis_bus_request_timeouts",
            "NATS requests that got no reply in time",
            ["subject"],
            registry=self.registry,
        )
