"""Where a tenant's things live, by name: Airflow pool, Kubernetes namespace. No imports of Airflow."""

from __future__ import annotations


def tenant_pool(tenant: str) -> str:
    return f"tenant_{tenant}"


def tenant_namespace(tenant: str) -> str:
    return f"tp-{tenant}"
