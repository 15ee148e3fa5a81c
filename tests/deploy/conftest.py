"""Helpers of the deployment checks: they read files under deploy/ and docker-compose.yml, and start nothing.

The suite's root conftest starts NATS and Postgres only for tests that ask for them; these tests do not.
"""

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"

PROCESSES = ("gateway", "patients", "scheduler", "notifier")
SERVICES = PROCESSES[1:]

# Names of settings whose value is a secret (or contains one, like a database URL with its password).
SECRET_LIKE = re.compile(
    r"SECRET|TOKEN|PASSWORD|PASSWD|DATABASE_URL|API_KEY|CREDENTIAL|PRIVATE", re.IGNORECASE
)


def env_example() -> dict[str, str]:
    """Every variable `.env.example` names, set or commented out, with its example value."""
    names: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if match := re.fullmatch(r"#?\s*([A-Z][A-Z0-9_]*)=(.*)", line.strip()):
            names.setdefault(match[1], match[2])
    return names
