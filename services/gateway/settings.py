"""Settings of the gateway; its secrets are refused empty outside dev."""

from pydantic import Field, SecretStr

from ignis.kit.settings import Settings


class GatewaySettings(Settings):
    secret_fields = ("tool_secret", "elevenlabs_webhook_secret", "staff_token")

    # Processes per service that `ignis up` runs, e.g. IGNIS_REPLICAS='{"scheduler": 2}'; replicas share
    # a service's requests through its NATS queue group.
    replicas: dict[str, int] = Field(default_factory=dict)
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    tool_secret: SecretStr = SecretStr("")
    elevenlabs_webhook_secret: SecretStr = SecretStr("")
    staff_token: SecretStr = SecretStr("")
    # The agent waits up to 10 s for a tool (as provisioned); the gateway answers well before that.
    tool_budget_seconds: float = 4.0
    readiness_timeout_seconds: float = 1.0

    # A signature timestamp may be 30 minutes old (ElevenLabs' retries) but only this far in the future.
    signature_future_skew_seconds: float = Field(default=60, ge=0, le=300)
