"""deploy/k8s/nats/values.yaml, the values of the official NATS Helm chart: only keys the chart has (Helm
ignores a misspelt one silently), a 3-node cluster, JetStream on a PVC per node, and what Ignis needs of it.

tests/deploy/nats_chart_values.schema.json describes the chart's key layout (its `$comment` names the source);
the chart itself ships no values.schema.json.
"""

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import DEPLOY, K8S

VALUES = K8S / "nats" / "values.yaml"
SCHEMA = Path(__file__).with_name("nats_chart_values.schema.json")
_UNITS = {
    "": 1,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
    "ki": 2**10,
    "mi": 2**20,
    "gi": 2**30,
    "ti": 2**40,
}


def size(quantity: str | int) -> int:
    """Bytes of a Kubernetes quantity or a NATS size (8MB, 10Gi, 8G)."""
    number, unit = re.fullmatch(r"(\d+)\s*([KMGT]i?)?B?", str(quantity).strip(), re.IGNORECASE).groups()
    return int(number) * _UNITS[(unit or "").lower()]


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text())


def test_every_key_exists_in_the_chart(values: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(values)]
    assert errors == [], "\n".join(errors)


def test_a_misspelt_key_is_refused(values: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    broken = json.loads(json.dumps(values))
    broken["config"]["jetstream"]["fileStorage"] = broken["config"]["jetstream"].pop("fileStore")  # 0.x name
    assert not validator.is_valid(broken)


def test_a_three_node_cluster_with_jetstream_on_pvcs(values: dict[str, Any]) -> None:
    cluster, jetstream = values["config"]["cluster"], values["config"]["jetstream"]
    assert cluster["enabled"] is True
    assert cluster["replicas"] == 3
    assert jetstream["enabled"] is True
    file_store = jetstream["fileStore"]
    assert file_store["enabled"] is True
    assert file_store["pvc"]["enabled"] is True
    assert size(file_store["pvc"]["size"]) > 0
    if "maxSize" in file_store:  # JetStream's limit below the volume: the files take more than the data
        assert size(file_store["maxSize"]) < size(file_store["pvc"]["size"])
    assert values.get("podDisruptionBudget", {}).get("enabled", True) is True


def test_messages_as_large_as_under_compose(values: dict[str, Any]) -> None:
    """Post-call webhooks carry whole transcripts: the same max_payload as deploy/nats-server.conf."""
    compose_limit = re.search(
        r"^max_payload:\s*(\S+)", (DEPLOY / "nats-server.conf").read_text(), re.MULTILINE
    )[1]
    chart_limit = re.fullmatch(r"<<\s*(\S+)\s*>>", values["config"]["merge"]["max_payload"])[1]
    assert size(chart_limit) >= size(compose_limit)


def test_pod_settings_are_valid_kubernetes(values: dict[str, Any]) -> None:
    """What the chart puts into the NATS pod from these values, checked against the Kubernetes schemas."""
    labels = {"app.kubernetes.io/name": "nats"}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "nats-0", "labels": labels},
        "spec": {
            "containers": [{"name": "nats", "image": "nats", **values["container"]["merge"]}],
            "topologySpreadConstraints": [
                {"topologyKey": key, "labelSelector": {"matchLabels": labels}, **constraint}
                for key, constraint in values["podTemplate"]["topologySpreadConstraints"].items()
            ],
        },
    }
    kubernetes_validate.validate(pod, "1.37.0", strict=True)


def test_the_release_name_matches_the_nats_url() -> None:
    """IGNIS_NATS_URL=nats://nats:4222 is the client Service of a release named `nats`."""
    readme = (K8S / "README.md").read_text()
    assert re.search(r"helm (?:upgrade --install|install) nats nats/nats\b", readme)
    assert "nats://nats:4222" in (K8S / "base" / "kustomization.yaml").read_text()


def test_jetstream_is_encrypted_with_a_key_from_a_secret(values: dict[str, Any]) -> None:
    """Streams hold transcripts: the store is encrypted, its key never in the values (a Secret reference)."""
    merged = values["config"]["jetstream"]["merge"]
    assert merged["cipher"] == "chachapoly"
    variable = re.fullmatch(r"<< \$([A-Z_]+) >>", merged["key"])
    assert variable, "the key is read from the environment, unquoted"
    source = values["container"]["env"][variable[1]]["valueFrom"]["secretKeyRef"]
    assert (source["name"], source["key"]) == ("nats-jetstream", "key")
    assert "nats-jetstream" in (K8S / "README.md").read_text(), "the README says how to create it"
