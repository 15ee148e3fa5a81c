"""deploy/k8s/sip-bridge: valid against the Kubernetes schemas, and built as the bridge needs to run."""

from pathlib import Path

import kubernetes_validate
import yaml

from tests.deploy.test_kubernetes import KUBERNETES_VERSION

MANIFEST = Path(__file__).parents[2] / "deploy" / "k8s" / "sip-bridge" / "sip-bridge.yaml"


def test_valid_and_shaped_for_sip() -> None:
    resources = [r for r in yaml.safe_load_all(MANIFEST.read_text()) if r]
    for resource in resources:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    [deployment] = [r for r in resources if r["kind"] == "Deployment"]
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    container, media = pod["containers"]
    assert spec["replicas"] == 1  # one registration per trunk
    assert spec["strategy"] == {"type": "Recreate"}  # the host port must be free for the new pod
    assert pod["hostNetwork"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert "status.py" in " ".join(container["readinessProbe"]["exec"]["command"])
    secrets = {e["name"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})}
    assert secrets == {"IGNIS_SIP_REGISTRAR_USERNAME", "IGNIS_SIP_REGISTRAR_PASSWORD"}
    assert all("value" not in e for e in container["env"])
    # rtpengine next to Kamailio (same node network, same settings): the media of IGNIS_SIP_BRIDGE_MEDIA=srtp
    assert media["image"] == container["image"]
    assert media["command"][-1] == "--run-media"
    assert media["envFrom"] == container["envFrom"]
