"""Settings shared by every process: `IGNIS_` environment variables (and `.env`), built once in `main.py`."""

import datetime as dt
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ignis.contracts import subjects
from ignis.kit.crypto import new_data_key, parse_data_keys
from ignis.kit.home import running

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/ignis"
# Values that look set but are not secret; refused in prod like an empty one.
_PLACEHOLDERS = {"changethis", "changeme", "secret", "dev"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="IGNIS_",
        env_file=".env",
        extra="ignore",
        env_ignore_empty=True,
        hide_input_in_errors=True,  # the input holds every secret of the environment
    )

    # Secrets of a subclass: in dev an empty one is generated once and kept in IGNIS_HOME; prod refuses it.
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # How a dev secret of a given format is generated (default: a random url-safe token).
    secret_generators: ClassVar[dict[str, Callable[[], str]]] = {}

    env: Literal["dev", "prod"] = "dev"
    home: Path = Path(".ignis")
    nats_url: str | None = None
    database_url: str | None = None
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    # How replies the voice reads out write dates and times (ignis.language.spoken): "words" ("den
    # fünfundzwanzigsten November, um acht Uhr dreißig"), so no voice reads "25." or "8:30" in English, or
    # "digits" ("25. November, um 8:30 Uhr").
    spoken_style: Literal["words", "digits"] = "words"
    practice_file: Path | None = None
    # A service's own /healthz, /readyz and /metrics (per replica; containers use 0.0.0.0:9100). None: off,
    # as under `ignis up`, where several processes share one host.
    service_host: str = "127.0.0.1"
    service_port: int | None = None
    # Messages one service process handles at once (all its subscribers together); its database pool
    # holds this many connections plus a few for its background jobs, so no handler waits for one.
    concurrency: int = Field(default=16, ge=1, le=500)
    # Copies of each JetStream stream: 1 on one NATS server, 3 on a 3-node cluster (deploy/k8s).
    stream_replicas: int = Field(default=1, ge=1, le=5)
    # Retention of what holds patient data. Call records (transcripts) are purged after
    # `call_retention_days`; no copy in a stream may outlive them, so each stream's max_age is bounded by it.
    call_retention_days: int = Field(default=90, ge=1)
    # Raw post-call webhooks (whole transcripts): each is deleted once its call record is committed; this is
    # how long one waits for a patients service that is down (enough for a long outage, not more).
    webhook_retention_days: float = Field(default=3, gt=0)
    # Events (patient ids, request ids): long enough for a service that was down to catch up.
    event_retention_days: float = Field(default=14, gt=0)
    # Deliveries that failed every attempt (raw, transcripts included): the operator's window to replay.
    dead_letter_retention_days: float = Field(default=14, gt=0)
    # ElevenLabs' API (provision, doctor; the patients service's reconciliation and deletions there). EU
    # data residency: https://api.eu.residency.elevenlabs.io (with an EU SIP host, IGNIS_ELEVENLABS_SIP_HOST).
    elevenlabs_api_key: SecretStr | None = None
    elevenlabs_api_url: str | None = None  # None: the SDK's default (https://api.elevenlabs.io)

    @property
    def nats(self) -> str:
        """The configured NATS, else the one `ignis up` runs from this home, else the default."""
        if self.nats_url:
            return self.nats_url
        up = running(self.home)
        return up.nats_url if up else DEFAULT_NATS_URL

    @property
    def database(self) -> str:
        """The configured Postgres, else the one `ignis up` runs from this home, else the default."""
        if self.database_url:
            return asyncpg_url(self.database_url)
        up = running(self.home)
        return asyncpg_url(up.database_url if up else DEFAULT_DATABASE_URL)

    def stream_max_age(self, stream: str) -> dt.timedelta:
        """How long `stream` keeps a message at most (its JetStream max_age): its setting, but never longer
        than the call records are kept, so lowering IGNIS_CALL_RETENTION_DAYS alone bounds every stream."""
        days = {
            subjects.WEBHOOKS_STREAM: self.webhook_retention_days,
            subjects.EVENTS_STREAM: self.event_retention_days,
            subjects.DEAD_LETTER_STREAM: self.dead_letter_retention_days,
        }[stream]
        return dt.timedelta(days=min(days, self.call_retention_days))

    @model_validator(mode="after")
    def _resolve_secrets(self) -> Self:
        # Every class's own: settings that combine several (provision: gateway's and notifier's) need all.
        classes = type(self).__mro__
        names = dict.fromkeys(name for cls in classes for name in vars(cls).get("secret_fields", ()))
        generators = {
            k: v for cls in reversed(classes) for k, v in vars(cls).get("secret_generators", {}).items()
        }
        for name in names:
            value: SecretStr = getattr(self, name)
            if value.get_secret_value() and value.get_secret_value() not in _PLACEHOLDERS:
                continue
            # One written by `ignis provision` (the post-call webhook's), or generated earlier in dev.
            if stored := stored_secret(self.home, name):
                setattr(self, name, SecretStr(stored))
                continue
            if self.env == "prod":
                raise ValueError(f"IGNIS_{name.upper()} must be set to a real secret when IGNIS_ENV=prod")
            if not value.get_secret_value():
                generate = generators.get(name, _token)
                setattr(self, name, SecretStr(dev_secret(self.home, name, generate)))
        return self


def asyncpg_url(url: str) -> str:
    """Accept the `postgresql://` form operators paste and use the asyncpg driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def _secrets(home: Path) -> dict[str, str]:
    path = home / "secrets.json"
    return json.loads(path.read_text()) if path.exists() else {}


def stored_secret(home: Path, name: str) -> str | None:
    """A secret kept in `home/secrets.json` (readable by the owner only), if there is one."""
    return _secrets(home).get(name)


def store_secret(home: Path, name: str, value: str) -> None:
    stored = _secrets(home) | {name: value}
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(home / "secrets.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(stored, file)


def _token() -> str:
    return secrets.token_urlsafe(24)


def dev_secret(home: Path, name: str, generate: Callable[[], str] = _token) -> str:
    """A dev secret generated on first use and kept in `home`, so every process and restart agrees."""
    if (stored := stored_secret(home, name)) is None:
        stored = generate()
        store_secret(home, name, stored)
    return stored


class DataSettings(Settings):
    """Settings of a process that reads or writes encrypted columns (kit.crypto)."""

    secret_fields: ClassVar[tuple[str, ...]] = ("data_keys",)
    secret_generators: ClassVar[dict[str, Callable[[], str]]] = {"data_keys": new_data_key}

    # Keys of the encryption at rest, comma-separated: the first encrypts, all decrypt (rotation).
    data_keys: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _data_keys_are_keys(self) -> Self:
        parse_data_keys(self.data_keys.get_secret_value())  # a malformed key stops the start, named
        return self
