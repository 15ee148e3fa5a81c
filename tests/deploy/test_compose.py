"""docker-compose.yml: valid under the Compose Specification's JSON schema once interpolated with the
values of `.env.example`, and holding what the single-host deployment needs: health checks, start order,
restarts, a persistent JetStream, no secret in the file.

The schema is compose-spec/compose-spec's `schema/compose-spec.json` as vendored by the `check-jsonschema`
package (`check_jsonschema/builtin_schemas/vendor/compose-spec.json`, the schema of its check-compose-spec
hook), so it moves with that package's version, not with a file copied here.
"""

import json
import re
import subprocess
from collections.abc import Mapping
from importlib import resources
from typing import Any

import jsonschema
import pytest
import yaml

from ignis.kit.embedded import nats_server_binary
from tests.deploy.conftest import DEPLOY, PROCESSES, ROOT, SECRET_LIKE, SERVICES, env_example

COMPOSE = ROOT / "docker-compose.yml"
IGNIS = ("migrate", *PROCESSES)
DUMMY = {
    "POSTGRES_PASSWORD": "dummy-password-for-the-test",
    "NATS_JETSTREAM_KEY": "dummy-key-for-the-test",
    "IGNIS_PUBLIC_HOST": "ignis.example.com",
}

_REFERENCE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.DOTALL)


class InterpolationError(ValueError):
    pass


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's variable interpolation of every string in `value`: $$, $NAME, ${NAME}, ${NAME:-default},
    ${NAME-default}, ${NAME:?error}, ${NAME?error}, ${NAME:+alt}, ${NAME+alt} (not nested ones: this file
    has none).
    """
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["named"]:
            return env.get(match["named"], "")
        braced = _BRACED.fullmatch(match["braced"])
        if braced is None:
            raise InterpolationError(f"invalid interpolation {match[0]!r}")
        current, op, arg = env.get(braced["name"]), braced["op"], braced["arg"] or ""
        is_set, is_filled = current is not None, bool(current)
        if op is None:
            return current or ""
        if op in (":?", "?") and not (is_filled if op == ":?" else is_set):
            raise InterpolationError(f"{braced['name']}: {arg}")
        if op == ":-":
            return current if is_filled else arg
        if op == "-":
            return current if is_set else arg
        if op == ":+":
            return arg if is_filled else ""
        if op == "+":
            return arg if is_set else ""
        return current or ""

    return _REFERENCE.sub(substitute, value)


def dot_env() -> dict[str, str]:
    """What `cp .env.example .env` gives compose: the uncommented assignments."""
    env = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key.strip()] = value
    return env


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # merge keys (<<) resolved, variables not


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any]) -> dict[str, Any]:
    return interpolate(raw, dot_env() | DUMMY)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    path = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return json.loads(path.read_text())


def environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment", {})
    return env if isinstance(env, dict) else dict(item.split("=", 1) for item in env)


def test_the_file_is_valid_under_the_compose_specification(
    compose: dict[str, Any], schema: dict[str, Any]
) -> None:
    assert schema["title"] == "Compose Specification"
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == [], "\n".join(errors)


def test_the_schema_check_is_not_vacuous(compose: dict[str, Any], schema: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"]["gateway"]["restart_policy"] = "always"  # misplaced key
    broken["services"]["patients"]["depends_on"]["nats"]["condition"] = "service_ready"  # no such condition
    assert len(list(jsonschema.Draft202012Validator(schema).iter_errors(broken))) >= 2


def test_postgres_password_must_be_set(raw: dict[str, Any]) -> None:
    """Straight from .env.example (empty POSTGRES_PASSWORD) compose refuses to start, as the file says."""
    with pytest.raises(InterpolationError, match="POSTGRES_PASSWORD"):
        interpolate(raw, dot_env() | {"POSTGRES_PASSWORD": ""})


def test_jetstream_is_encrypted_with_a_key_that_must_be_set(
    raw: dict[str, Any], compose: dict[str, Any]
) -> None:
    """Streams hold transcripts: NATS encrypts its store, with a key from .env that compose insists on."""
    with pytest.raises(InterpolationError, match="NATS_JETSTREAM_KEY"):
        interpolate(raw, dot_env() | DUMMY | {"NATS_JETSTREAM_KEY": ""})
    config = (DEPLOY / "nats-server.conf").read_text()
    assert re.search(r"^\s*cipher:\s*chachapoly\s*$", config, re.MULTILINE)
    assert re.search(r"^\s*key:\s*\$NATS_JETSTREAM_KEY\s*$", config, re.MULTILINE)
    assert environment(compose["services"]["nats"])["NATS_JETSTREAM_KEY"] == "dummy-key-for-the-test"
    check = [nats_server_binary(), "-t", "-c", str(DEPLOY / "nats-server.conf")]
    with_key = subprocess.run(
        check, env={"NATS_JETSTREAM_KEY": "k"}, capture_output=True, text=True, timeout=30
    )
    assert with_key.returncode == 0, with_key.stderr + with_key.stdout  # nats-server's own check of the file
    without = subprocess.run(check, env={}, capture_output=True, text=True, timeout=30)
    assert without.returncode != 0


@pytest.mark.parametrize("name", IGNIS)
def test_ignis_containers_wait_restart_and_stop_gracefully(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    assert service["image"] == "ignis:latest"
    assert service["env_file"] == ".env"
    depends_on = service["depends_on"]
    assert isinstance(depends_on, dict), "depends_on with conditions, not a list"
    assert all("condition" in d for d in depends_on.values()), depends_on
    if name == "migrate":
        assert service["command"] == ["migrate"]
        assert service["restart"] == "no"
        assert depends_on["postgres"]["condition"] == "service_healthy"
        return
    assert service["command"] == ["serve", name]
    assert service["restart"] == "unless-stopped"
    assert service["stop_grace_period"] == "30s"
    assert depends_on["nats"]["condition"] == "service_healthy"
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"
    check = service["healthcheck"]
    assert not check.get("disable")
    assert check["test"] == ["CMD", "python", "/opt/ignis/healthcheck.py", name]


@pytest.mark.parametrize("name", SERVICES)
def test_services_check_their_own_readiness_endpoint_unpublished(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    assert environment(service)["IGNIS_SERVICE_PORT"] == "9100"
    assert "ports" not in service, "a service's HTTP endpoint is for its health check only"
    assert "IGNIS_SERVICE_PORT" not in environment(compose["services"]["gateway"])


def test_only_the_gateway_and_caddy_publish_ports(compose: dict[str, Any]) -> None:
    published = {name for name, service in compose["services"].items() if service.get("ports")}
    assert published == {"gateway", "caddy"}
    assert all(port.startswith("127.0.0.1:") for port in compose["services"]["gateway"]["ports"])
    assert compose["services"]["caddy"]["profiles"] == ["https"]


def test_nats_has_jetstream_on_a_volume(compose: dict[str, Any]) -> None:
    nats = compose["services"]["nats"]
    command = " ".join(nats["command"])
    sources = {target: source for source, target, *_ in (volume.split(":") for volume in nats["volumes"])}
    if "-js" in nats["command"] or "--jetstream" in nats["command"]:
        store = re.search(r"(?:-sd|--store_dir)\s+(\S+)", command)[1]
    else:
        config = sources[re.search(r"(?:-c|--config)\s+(\S+)", command)[1]]
        text = (ROOT / config).read_text()
        assert re.search(r"^jetstream\s*\{", text, re.MULTILINE), f"no jetstream block in {config}"
        store = re.search(r"^\s*store_dir:\s*(\S+)", text, re.MULTILINE)[1]
    assert sources[store] in compose["volumes"], "JetStream's store is not on a named volume"
    assert "healthz" in " ".join(nats["healthcheck"]["test"])


def test_postgres_keeps_its_data_on_a_volume(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    sources = {target: source for source, target, *_ in (volume.split(":") for volume in postgres["volumes"])}
    assert sources["/var/lib/postgresql/data"] == "postgres-data"
    assert "postgres-data" in compose["volumes"]
    assert postgres["healthcheck"]["test"][1] == "pg_isready"


def test_no_secret_value_is_in_the_file(raw: dict[str, Any]) -> None:
    """Secrets come from .env (env_file or ${VAR} interpolation), never a literal in docker-compose.yml."""
    for name, service in raw["services"].items():
        for key, value in environment(service).items():
            if SECRET_LIKE.search(key):
                assert "${" in str(value), f"{name}: {key} has an inline value"
    text = COMPOSE.read_text()
    for key in env_example():  # Ignis's own secrets reach the containers through env_file only
        if key.startswith("IGNIS_") and SECRET_LIKE.search(key) and key != "IGNIS_DATABASE_URL":
            assert not re.search(rf"^\s*-?\s*{key}\s*[:=]", text, re.MULTILINE), (
                f"{key} in docker-compose.yml"
            )
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_the_healthcheck_script_is_the_one_in_the_image() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "COPY deploy/healthcheck.py /opt/ignis/healthcheck.py" in dockerfile
