"""`.env.example` lists every setting an operator can set: none missing, none stale."""

import re
from pathlib import Path

from pydantic_settings import BaseSettings

from ignis.patients.settings import PatientsSettings
from ignis.provision.settings import ProvisionSettings
from ignis.scheduler.settings import SchedulerSettings

ENV_EXAMPLE = Path(__file__).parents[2] / ".env.example"
SETTINGS: list[type[BaseSettings]] = [
    ProvisionSettings,  # includes the gateway's and the notifier's
    PatientsSettings,
    SchedulerSettings,
]


# Read by docker-compose.yml (Caddy's host name) and by the SIP bridge's renderer, not by Ignis' settings.
BRIDGE = Path(__file__).parents[2] / "deploy" / "sip-bridge" / "render.py"
COMPOSE_ONLY = {"IGNIS_PUBLIC_HOST"} | set(re.findall(r"IGNIS_[A-Z0-9_]+[A-Z0-9]", BRIDGE.read_text()))


def test_every_setting_is_listed_and_nothing_else() -> None:
    fields = {f"IGNIS_{name.upper()}" for cls in SETTINGS for name in cls.model_fields}
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    listed = set(re.findall(r"^#? ?(IGNIS_[A-Z0-9_]+)=", text, re.MULTILINE))
    assert fields - listed == set(), "settings missing from .env.example"
    assert listed - fields - COMPOSE_ONLY == set(), ".env.example names settings that do not exist"
