"""horizontalpodautoscaler.yaml and scaledobject.yaml: scaling on vLLM's queue gauge, one autoscaler at a time."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.model_serving.vllm.conftest import CHART, FULLNAME, NAMESPACE, Helm, Manifest, by_kind

GAUGE = "vllm:num_requests_waiting"
METRIC = "vllm_num_requests_waiting"  # the gauge's name in the custom metrics API (prometheus-adapter)
TARGET = {"apiVersion": "apps/v1", "kind": "Deployment", "name": FULLNAME}
BEHAVIOR = yaml.safe_load((CHART / "values.yaml").read_text())["autoscaling"]["behavior"]
# Fields of a KEDA ScaledObject spec (keda.sh/v1alpha1) and of a trigger; the CRD is not installed here.
SCALED_OBJECT_SPEC = {"scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod",
                      "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback", "advanced", "triggers"}
TRIGGER_FIELDS = {"type", "name", "metadata", "metricType", "useCachedMetrics", "authenticationRef"}


def test_hpa_scales_on_queue_depth_per_pod(default_objects: dict[str, Manifest]) -> None:
    hpa = default_objects["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == TARGET
    assert (spec["minReplicas"], spec["maxReplicas"]) == (1, 4)
    assert spec["metrics"] == [{
        "type": "Pods",
        "pods": {"metric": {"name": METRIC}, "target": {"type": "AverageValue", "averageValue": "4"}},
    }]
    assert spec["behavior"] == BEHAVIOR
    assert spec["behavior"]["scaleUp"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 120}]


def test_hpa_target_and_bounds_come_from_values(helm: Helm) -> None:
    objects = by_kind(helm.render("--set-json", "autoscaling.targetQueueDepth=2.5",
                                  "--set", "autoscaling.minReplicas=2", "--set", "autoscaling.maxReplicas=8"))
    spec = objects["HorizontalPodAutoscaler"]["spec"]
    assert spec["metrics"][0]["pods"]["target"]["averageValue"] == "2.5"
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 8)


def test_keda_replaces_the_hpa(override_objects: dict[str, Manifest]) -> None:
    assert "HorizontalPodAutoscaler" not in override_objects
    scaled = override_objects["ScaledObject"]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["metadata"]["name"] == FULLNAME
    assert scaled["metadata"]["namespace"] == NAMESPACE
    spec: dict[str, Any] = scaled["spec"]
    assert set(spec) <= SCALED_OBJECT_SPEC
    assert spec["scaleTargetRef"] == TARGET
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 4)
    assert (spec["pollingInterval"], spec["cooldownPeriod"]) == (15, 300)
    assert spec["advanced"] == {"horizontalPodAutoscalerConfig": {"behavior": BEHAVIOR}}
    (trigger,) = spec["triggers"]
    assert set(trigger) <= TRIGGER_FIELDS
    assert (trigger["type"], trigger["metricType"]) == ("prometheus", "AverageValue")
    metadata = trigger["metadata"]
    # KEDA's trigger metadata is map[string]string: a number here fails admission.
    assert all(isinstance(value, str) for value in metadata.values())
    assert metadata == {
        "serverAddress": "http://prometheus-operated.monitoring.svc:9090",
        "query": f'sum({GAUGE}{{namespace="{NAMESPACE}",model_name="qwen2.5-7b-instruct"}})',
        "threshold": "4",
    }


def test_no_autoscaler_when_disabled(helm: Helm) -> None:
    objects = by_kind(helm.render("--set", "autoscaling.enabled=false", "--set", "autoscaling.keda.enabled=true"))
    assert {"HorizontalPodAutoscaler", "ScaledObject"}.isdisjoint(objects)


def test_readme_adapter_rule_serves_the_hpa_metric() -> None:
    # The HPA depends on a prometheus-adapter rule documented, not rendered, here: keep the two in step.
    readme = (CHART / "README.md").read_text()
    blocks = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL)]
    (rule,) = [block[0] for block in blocks if isinstance(block, list) and "seriesQuery" in block[0]]
    assert rule["seriesQuery"].startswith(GAUGE + "{")
    assert re.fullmatch(rule["name"]["matches"], GAUGE)
    assert rule["name"]["as"] == METRIC
    assert rule["resources"]["overrides"] == {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
