"""Pod shape per agent role: service account, resources and GPU pool placement.

Kept out of the operator so the platform's Helm values and the operator read the same numbers.
"""

from __future__ import annotations

from functools import cache

from kubernetes.client import models as k8s

GPU_POOL_LABEL = {"ticketpilot.io/pool": "gpu-inference"}
GPU_TOLERATION = k8s.V1Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")

_CPU_ROLE_RESOURCES = {
    "po": ("250m", "512Mi", "1", "1Gi"),
    "dev": ("500m", "1Gi", "2", "2Gi"),
    "pipeline": ("100m", "256Mi", "500m", "512Mi"),
    "test": ("1", "2Gi", "2", "4Gi"),
    "review": ("500m", "1Gi", "1", "2Gi"),
    "docs": ("250m", "512Mi", "1", "1Gi"),
}


def service_account(role: str) -> str:
    """One least-privilege service account per role, created by the Helm chart in each tenant namespace."""
    return f"agent-{role}"


@cache
def resources_for(role: str, gpu: bool) -> k8s.V1ResourceRequirements:
    """Cached: each kubernetes model builds a client Configuration, which dominates DAG parse time."""
    cpu_req, mem_req, cpu_lim, mem_lim = _CPU_ROLE_RESOURCES[role]
    requests = {"cpu": cpu_req, "memory": mem_req}
    limits = {"cpu": cpu_lim, "memory": mem_lim}
    if gpu:
        limits["nvidia.com/gpu"] = "1"
        requests["nvidia.com/gpu"] = "1"
    return k8s.V1ResourceRequirements(requests=requests, limits=limits)


AGENT_ENV_SECRET = "ticketpilot-agent-env"
"""Secret (per tenant namespace) with the agent's DB URL and SCM credentials, synced from the secrets backend."""

AGENT_ENV_FROM = [k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=AGENT_ENV_SECRET))]
