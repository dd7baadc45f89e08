"""Pause and resume a tenant: stop all of its agent work at once (a code freeze, a runaway cost, an incident)
without losing a delivery, and pick up exactly where it stopped.

A pause is two things, each idempotent, in this order so a crash between them leaves the tenant safely held:
1. The tenant row is marked paused. Its hook deliveries are still accepted and stored, but the spawner takes
   none of its outbox rows (include/spawner/service.py), so no new run starts.
2. Its ticket DAGs are paused in Airflow. The scheduler then queues no further task of their runs: a step that is
   running finishes, a gate keeps waiting, the next step waits for the resume. The DAGs this paused are
   remembered, so a resume unpauses those and leaves alone a DAG a person had paused for their own reasons.

A resume undoes them in the reverse order, then wakes the spawner to start what was held.
"""

from __future__ import annotations

import psycopg
from pydantic import BaseModel

from include.airflow_client import AirflowClient
from include.spawner.service import CHANNEL
from include.store import audit
from include.store.db import connect
from include.store.tenants import Tenant, add_paused_dags, clear_paused, get_tenant, set_paused

PAGE = 100


class PauseOutcome(BaseModel):
    tenant: Tenant
    changed: bool
    """False when the tenant already was in the asked state (a repeat)."""
    dags: list[str]
    """The DAGs this call paused or unpaused in Airflow."""
    held: int
    """Outbox rows of the tenant waiting for the resume."""


def ticket_dag_prefix(tenant_id: str) -> str:
    return f"ticket__{tenant_id}__"


def pause(airflow: AirflowClient, tenant_id: str, *, by: str, reason: str) -> PauseOutcome:
    with connect(autocommit=True) as conn, conn.transaction():
        tenant, newly = set_paused(conn, tenant_id, by=by, reason=reason)
        if newly:
            audit.append(conn, actor=by, action="tenant.pause", subject=tenant_id, tenant=tenant_id,
                         details={"reason": reason})
    paused = [dag_id for dag_id in tenant_dags(airflow, tenant_id, paused=False)
              if _set_dag_paused(airflow, dag_id, True)]
    with connect(autocommit=True) as conn:
        if paused:
            add_paused_dags(conn, tenant_id, paused)
        tenant = get_tenant(conn, tenant_id) or tenant
        return PauseOutcome(tenant=tenant, changed=newly or bool(paused), dags=paused, held=held_rows(conn, tenant_id))


def resume(airflow: AirflowClient, tenant_id: str, *, by: str) -> PauseOutcome:
    with connect(autocommit=True) as conn:
        tenant = get_tenant(conn, tenant_id)
    if tenant is None:
        raise LookupError(f"no tenant {tenant_id!r}")
    unpaused = [dag_id for dag_id in tenant.paused_dags if _set_dag_paused(airflow, dag_id, False)]
    with connect(autocommit=True) as conn:
        with conn.transaction():
            before = clear_paused(conn, tenant_id)
            if before.paused_at is not None:
                audit.append(conn, actor=by, action="tenant.resume", subject=tenant_id, tenant=tenant_id,
                             details={"paused_at": before.paused_at.isoformat(), "paused_by": before.paused_by,
                                      "reason": before.paused_reason, "dags_unpaused": unpaused})
        held = held_rows(conn, tenant_id)
        conn.execute(f"NOTIFY {CHANNEL}")
        after = get_tenant(conn, tenant_id) or tenant
    return PauseOutcome(tenant=after, changed=before.paused_at is not None or bool(unpaused), dags=unpaused, held=held)


def tenant_dags(airflow: AirflowClient, tenant_id: str, *, paused: bool | None = None) -> list[str]:
    """The tenant's ticket DAGs. Airflow's `dag_id_pattern` is a LIKE pattern where `_` matches any character,
    so the answer is filtered to the exact prefix (tenant `a` must not take tenant `a-b`'s DAGs)."""
    prefix = ticket_dag_prefix(tenant_id)
    found: list[str] = []
    offset = 0
    while True:
        params: dict[str, object] = {"dag_id_pattern": prefix, "limit": PAGE, "offset": offset, "order_by": "dag_id"}
        if paused is not None:
            params["paused"] = str(paused).lower()
        page = airflow.request("GET", "/api/v2/dags", params=params).json()["dags"]
        found += [dag["dag_id"] for dag in page if dag["dag_id"].startswith(prefix)]
        if len(page) < PAGE:
            return found
        offset += PAGE


def held_rows(conn: psycopg.Connection, tenant_id: str) -> int:
    """Outbox rows of the tenant not yet done (tenant ids hold no `_`, so the DAG id's second part is exact)."""
    return int(conn.execute(
        "SELECT count(*) AS n FROM ticketpilot.outbox WHERE processed_at IS NULL AND split_part(dag_id, '__', 2) = %s",
        (tenant_id,)).fetchone()["n"])


def _set_dag_paused(airflow: AirflowClient, dag_id: str, paused: bool) -> bool:
    """Whether Airflow's DAG changed; a DAG that is gone (its ticket file removed) is nothing to change."""
    response = airflow.request("GET", f"/api/v2/dags/{dag_id}", ok=(200, 404))
    if response.status_code == 404 or response.json()["is_paused"] == paused:
        return False
    airflow.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": paused})
    return True
