"""The chart as a whole: lint, Kubernetes schemas, the values contract, and the small objects around the pods."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.model_serving.vllm.conftest import (
    CHART,
    FULLNAME,
    KUBE_VERSION,
    OVERRIDES,
    Helm,
    Manifest,
    by_kind,
)

SCENARIOS = {"defaults": (), "keda-emptydir-2gpus": OVERRIDES}
KINDS = {
    "defaults": {"Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "PersistentVolumeClaim",
                 "HorizontalPodAutoscaler"},
    "keda-emptydir-2gpus": {"Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "ScaledObject"},
}
# A CRD: kubernetes-validate ships only the built-in APIs; test_autoscaling.py asserts its shape by hand.
NOT_BUILT_IN = {("keda.sh/v1alpha1", "ScaledObject")}
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lint_is_clean(helm: Helm, scenario: str) -> None:
    done = helm.run("lint", "--strict", str(CHART), *SCENARIOS[scenario])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_object_is_valid_kubernetes(helm: Helm, scenario: str) -> None:
    objects = helm.render(*SCENARIOS[scenario])
    assert set(by_kind(objects)) == KINDS[scenario]
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in NOT_BUILT_IN:
            continue
        assert kubernetes_validate.validate(obj, KUBE_VERSION, strict=True) == KUBE_VERSION, obj["kind"]


def _schema_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths of the schema's named properties, following $refs to definitions."""
    paths: set[str] = set()
    for name, sub in schema.get("properties", {}).items():
        if "$ref" in sub:
            sub = SCHEMA["definitions"][sub["$ref"].rsplit("/", 1)[1]]
        paths.add(prefix + name)
        paths |= _schema_paths(sub, f"{prefix}{name}.")
    return paths


def _value_paths(values: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths of values.yaml, descending only where the schema names the keys (not into free maps)."""
    paths: set[str] = set()
    for name, value in values.items():
        paths.add(prefix + name)
        sub = schema.get("properties", {}).get(name, {})
        if "$ref" in sub:
            sub = SCHEMA["definitions"][sub["$ref"].rsplit("/", 1)[1]]
        if isinstance(value, dict) and "properties" in sub:
            paths |= _value_paths(value, sub, f"{prefix}{name}.")
    return paths


def test_values_and_schema_are_one_contract() -> None:
    # `global` is Helm's, passed down by an umbrella chart; it has no default here.
    assert _schema_paths(SCHEMA) - {"global"} == _value_paths(VALUES, SCHEMA)


def test_app_version_is_the_pinned_image_tag() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert VALUES["image"]["tag"] == f"v{chart['appVersion']}"


@pytest.mark.parametrize(("flags", "complaint"), [
    (("--set", "gpus=-1"), "at '/gpus': minimum"),
    (("--set", "gpus=0"), "at '/gpus': minimum"),
    (("--set-json", "model.gpuMemoryUtilization=1.5"), "/model/gpuMemoryUtilization"),
    (("--set", "image.tag=latest"), "/image/tag"),
    (("--set", "autoscaling.hpa.metricName=vllm:num_requests_waiting"), "/autoscaling/hpa/metricName"),
    (("--set", "autoscaling.keda.enabled=yes"), "/autoscaling/keda/enabled"),
    (("--set", "autoscaling.targetQueueDepth=0"), "/autoscaling/targetQueueDepth"),
    (("--set", "resources.limits.nvidia\\.com/gpu=1"), "/resources/limits"),
    (("--set", "sharedMemory.sizeLimit=lots"), "/sharedMemory/sizeLimit"),
    (("--set", "modelcache.mountPath=/x"), "additional properties 'modelcache' not allowed"),
])
def test_schema_refuses_bad_values(helm: Helm, flags: tuple[str, ...], complaint: str) -> None:
    done = helm.template(*flags)
    assert done.returncode != 0
    assert "don't meet the specifications of the schema" in done.stderr
    assert complaint in done.stderr


@pytest.mark.parametrize(("flags", "complaint"), [
    (("--set", "model.tensorParallelSize=2"), "model.tensorParallelSize (2) cannot exceed gpus (1)"),
    (("--set", "autoscaling.minReplicas=5"), "autoscaling.minReplicas (5) exceeds autoscaling.maxReplicas (4)"),
    (("--set", "autoscaling.minReplicas=5", "--set", "autoscaling.keda.enabled=true"), "exceeds"),
])
def test_templates_refuse_inconsistent_values(helm: Helm, flags: tuple[str, ...], complaint: str) -> None:
    done = helm.template(*flags)
    assert done.returncode != 0
    assert complaint in done.stderr


def test_service_exposes_port_8000_of_the_pods(default_objects: dict[str, Manifest]) -> None:
    service, deployment = default_objects["Service"], default_objects["Deployment"]
    assert service["metadata"]["name"] == FULLNAME
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]


def test_pod_disruption_budget_covers_the_pods(default_objects: dict[str, Manifest]) -> None:
    pdb, deployment = default_objects["PodDisruptionBudget"], default_objects["Deployment"]
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]


def test_pods_run_as_their_own_service_account(default_objects: dict[str, Manifest]) -> None:
    account, pod = default_objects["ServiceAccount"], default_objects["Deployment"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"] == FULLNAME
    assert account["automountServiceAccountToken"] is False
    assert pod["automountServiceAccountToken"] is False


def test_model_cache_claim_outlives_the_release(default_objects: dict[str, Manifest]) -> None:
    claim = default_objects["PersistentVolumeClaim"]
    assert claim["metadata"]["name"] == f"{FULLNAME}-model-cache"
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "200Gi"
    assert "storageClassName" not in claim["spec"]


def test_existing_claim_is_used_not_created(helm: Helm) -> None:
    objects = by_kind(helm.render("--set", "modelCache.persistence.existingClaim=weights",
                                  "--set", "modelCache.persistence.storageClassName=efs"))
    assert "PersistentVolumeClaim" not in objects
    volumes = objects["Deployment"]["spec"]["template"]["spec"]["volumes"]
    assert {"name": "model-cache", "persistentVolumeClaim": {"claimName": "weights"}} in volumes


def test_optional_objects_can_be_left_out(helm: Helm) -> None:
    objects = by_kind(helm.render("--set", "podDisruptionBudget.enabled=false", "--set", "serviceAccount.create=false",
                                  "--set", "autoscaling.enabled=false"))
    assert set(objects) == {"Deployment", "Service", "PersistentVolumeClaim"}
    assert objects["Deployment"]["spec"]["template"]["spec"]["serviceAccountName"] == "default"
