"""Settings of the gateway; its secrets are refused empty outside dev."""

from typing import ClassVar

from pydantic import Field, SecretStr

from ignis.kit.settings import Settings

KIB = 1024


class GatewaySettings(Settings):
    secret_fields: ClassVar[tuple[str, ...]] = (
        "tool_secret",
        "elevenlabs_webhook_secret",
        "staff_token",
        "metrics_token",
    )

    # Processes per service that `ignis up` runs, e.g. IGNIS_REPLICAS='{"scheduler": 2}'; replicas share
    # a service's requests through its NATS queue group.
    replicas: dict[str, int] = Field(default_factory=dict)
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    tool_secret: SecretStr = SecretStr("")
    elevenlabs_webhook_secret: SecretStr = SecretStr("")
    staff_token: SecretStr = SecretStr("")
    # Bearer token Prometheus sends to scrape the gateway's /metrics (outcome counts are no one else's).
    metrics_token: SecretStr = SecretStr("")
    # The agent waits up to 10 s for a tool (as provisioned); the gateway answers well before that.
    tool_budget_seconds: float = 4.0
    # A tool that changes something (book, move, cancel, register, request) is asked again within this
    # budget when a reply is lost, so the caller is told what happened; still below the agent's 10 s.
    acting_tool_budget_seconds: float = 8.0
    readiness_timeout_seconds: float = 1.0

    # The HTTP edge: nothing big or slow reaches the code before it is authenticated (413 beyond a limit).
    tool_body_limit_bytes: int = Field(default=64 * KIB, ge=1 * KIB)
    staff_body_limit_bytes: int = Field(default=64 * KIB, ge=1 * KIB)
    # A post-call webhook carries the whole transcript (a long call: a few MB). It goes to JetStream as one
    # message, compressed above 1 MiB (kit.payload: transcripts shrink about tenfold), so up to this size it
    # fits NATS' max_payload (8MB in libs/kit/embedded.py and deploy/nats-server.conf); a body that does not
    # fit even compressed is a 413, never a 503 that ElevenLabs would retry in vain.
    webhook_body_limit_bytes: int = Field(default=16 * KIB * KIB, ge=64 * KIB, le=64 * KIB * KIB)
    # A signature timestamp may be 30 minutes old (ElevenLabs' retries) but only this far in the future.
    signature_future_skew_seconds: float = Field(default=60, ge=0, le=300)
    # uvicorn: requests served at once (beyond: 503), idle seconds of a kept-alive connection, and the
    # seconds a request's line and headers, then its body, may take to arrive (slowloris; then closed).
    gateway_limit_concurrency: int = Field(default=200, ge=1)
    gateway_keep_alive_seconds: int = Field(default=5, ge=1)
    gateway_header_timeout_seconds: float = Field(default=10, gt=0)
    gateway_body_timeout_seconds: float = Field(default=30, gt=0)
