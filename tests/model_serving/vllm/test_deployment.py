"""deployment.yaml: the vLLM pod on the GPU pool, its arguments, probes, volumes and security."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.model_serving.vllm.conftest import Helm, Manifest, by_kind

MODEL = "Qwen/Qwen2.5-7B-Instruct"
SERVED = "qwen2.5-7b-instruct"
CACHE = "/models"


def _pod(objects: dict[str, Manifest]) -> dict[str, Any]:
    return objects["Deployment"]["spec"]["template"]["spec"]


def _container(objects: dict[str, Manifest]) -> dict[str, Any]:
    (container,) = _pod(objects)["containers"]
    return container


def _flags(container: dict[str, Any]) -> dict[str, str]:
    """`vllm serve` arguments as flag -> value; every flag the chart passes takes one."""
    args = container["args"]
    assert "command" not in container  # the image's entrypoint is `vllm serve`
    return dict(zip(args[::2], args[1::2], strict=True))


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {entry["name"]: entry.get("value", entry.get("valueFrom")) for entry in container["env"]}


def test_serves_the_model_from_values(default_objects: dict[str, Manifest]) -> None:
    container = _container(default_objects)
    assert container["image"] == "vllm/vllm-openai:v0.30.0"
    assert _flags(container) == {
        "--model": MODEL, "--served-model-name": SERVED, "--host": "0.0.0.0", "--port": "8000",
        "--max-model-len": "8192", "--gpu-memory-utilization": "0.9", "--tensor-parallel-size": "1",
    }


def test_gpu_limit_and_tensor_parallelism_follow_gpus(default_objects: dict[str, Manifest],
                                                      override_objects: dict[str, Manifest]) -> None:
    for objects, gpus in ((default_objects, "1"), (override_objects, "2")):
        container = _container(objects)
        assert container["resources"]["limits"]["nvidia.com/gpu"] == gpus
        assert container["resources"]["requests"]["nvidia.com/gpu"] == gpus
        assert _flags(container)["--tensor-parallel-size"] == gpus
    assert _container(default_objects)["resources"] == {
        "requests": {"cpu": "4", "memory": "32Gi", "nvidia.com/gpu": "1"},
        "limits": {"memory": "64Gi", "nvidia.com/gpu": "1"},
    }


def test_tensor_parallel_size_can_be_set_below_gpus(helm: Helm) -> None:
    objects = by_kind(helm.render("--set", "gpus=4", "--set", "model.tensorParallelSize=2",
                                  "--set-json", 'server.extraArgs=["--data-parallel-size","2"]'))
    flags = _flags(_container(objects))
    assert flags["--tensor-parallel-size"] == "2"
    assert flags["--data-parallel-size"] == "2"
    assert _container(objects)["resources"]["limits"]["nvidia.com/gpu"] == "4"


def test_numbers_from_a_values_file_render_as_integers(helm: Helm, tmp_path: Path) -> None:
    # Helm reads numbers in values files as floats; 1048576 must not reach vLLM as "1.048576e+06".
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"gpus": 8, "model": {"maxModelLen": 1048576, "gpuMemoryUtilization": 0.85}}))
    flags = _flags(_container(by_kind(helm.render("-f", str(values)))))
    assert (flags["--max-model-len"], flags["--gpu-memory-utilization"]) == ("1048576", "0.85")
    assert flags["--tensor-parallel-size"] == "8"


def test_lands_on_the_gpu_pool(default_objects: dict[str, Manifest]) -> None:
    pod = _pod(default_objects)
    assert pod["nodeSelector"] == {"ticketpilot.io/pool": "gpu"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def test_every_probe_asks_health(default_objects: dict[str, Manifest]) -> None:
    container = _container(default_objects)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe
    startup = container["startupProbe"]
    # Downloading and loading a 7B model takes minutes: the startup probe must allow far more than that.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 20 * 60
    assert container["livenessProbe"]["failureThreshold"] * container["livenessProbe"]["periodSeconds"] >= 60


def test_model_cache_volume_is_the_hugging_face_home(default_objects: dict[str, Manifest],
                                                     override_objects: dict[str, Manifest]) -> None:
    container = _container(default_objects)
    assert {"name": "model-cache", "mountPath": CACHE} in container["volumeMounts"]
    assert _env(container)["HF_HOME"] == CACHE
    volumes = {volume["name"]: volume for volume in _pod(default_objects)["volumes"]}
    assert volumes["model-cache"]["persistentVolumeClaim"] == {"claimName": "tp-vllm-model-cache"}
    # PVC off: an emptyDir in the same place.
    volumes = {volume["name"]: volume for volume in _pod(override_objects)["volumes"]}
    assert volumes["model-cache"] == {"name": "model-cache", "emptyDir": {"sizeLimit": "100Gi"}}
    assert {"name": "model-cache", "mountPath": CACHE} in _container(override_objects)["volumeMounts"]


def test_shared_memory_is_memory_backed(default_objects: dict[str, Manifest]) -> None:
    volumes = {volume["name"]: volume for volume in _pod(default_objects)["volumes"]}
    assert volumes["shm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "4Gi"}
    assert {"name": "shm", "mountPath": "/dev/shm"} in _container(default_objects)["volumeMounts"]


@pytest.mark.parametrize(("flags", "offline"), [((), "0"), (("--set", "model.hfHubOffline=true"), "1")])
def test_hub_offline_is_configurable(helm: Helm, flags: tuple[str, ...], offline: str) -> None:
    assert _env(_container(by_kind(helm.render(*flags))))["HF_HUB_OFFLINE"] == offline


def test_secrets_are_referenced_only_when_named(default_objects: dict[str, Manifest], helm: Helm) -> None:
    assert {"HF_TOKEN", "VLLM_API_KEY"}.isdisjoint(_env(_container(default_objects)))
    env = _env(_container(by_kind(helm.render("--set", "model.hfTokenSecret.name=hf",
                                              "--set", "server.apiKeySecret.name=vllm-key"))))
    assert env["HF_TOKEN"] == {"secretKeyRef": {"name": "hf", "key": "token"}}
    assert env["VLLM_API_KEY"] == {"secretKeyRef": {"name": "vllm-key", "key": "api-key"}}


def test_runs_as_the_images_non_root_user(default_objects: dict[str, Manifest]) -> None:
    pod, container = _pod(default_objects), _container(default_objects)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (2000, 0)
    assert pod["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch"
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    # No <SERVICE>_PORT variables: a Service called "vllm" would set VLLM_PORT and break vLLM.
    assert pod["enableServiceLinks"] is False


def test_pods_are_scraped_for_the_queue_gauge(default_objects: dict[str, Manifest]) -> None:
    annotations = default_objects["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": "8000",
                           "prometheus.io/path": "/metrics"}


def test_autoscaler_owns_the_replica_count(default_objects: dict[str, Manifest], helm: Helm) -> None:
    assert "replicas" not in default_objects["Deployment"]["spec"]
    fixed = by_kind(helm.render("--set", "autoscaling.enabled=false", "--set", "replicaCount=2"))
    assert fixed["Deployment"]["spec"]["replicas"] == 2
