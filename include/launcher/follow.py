"""Follow tickets from accepted to finished runs, approving gates as a named person when asked.

Used by `make demo` and the end-to-end tests: both watch the platform only through its public
surfaces (the outbox the ingress wrote, Airflow's REST API, the gate REST endpoint).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from include.airflow_client import AirflowClient
from include.store.db import connect

FINISHED = ("success", "failed")


@dataclass
class RunView:
    ticket_key: str
    dag_id: str
    run_id: str | None = None
    state: str = "accepted"
    tasks: list[dict[str, Any]] = field(default_factory=list)
    approved_by: list[str] = field(default_factory=list)

    def task(self, task_id: str) -> dict[str, Any] | None:
        return next((t for t in self.tasks if t["task_id"] == task_id), None)


def spawned_run(ticket_key: str) -> str | None:
    with connect(autocommit=True) as conn:
        row = conn.execute(
            "SELECT run_id FROM ticketpilot.outbox WHERE ticket_key = %s AND run_id IS NOT NULL "
            "ORDER BY id DESC LIMIT 1", (ticket_key,)).fetchone()
    return row["run_id"] if row else None


def decide_over_rest(api_url: str, ticket_key: str, username: str, password: str, decision: str,
                     comment: str) -> dict[str, Any]:
    """Decide as `username` (`approve` or `reject`): a real login for a JWT, then the gate endpoint."""
    with httpx.Client(base_url=api_url, timeout=10) as http:
        token = http.post("/auth/token", json={"username": username, "password": password})
        token.raise_for_status()
        response = http.post(f"/ticketpilot/gates/{ticket_key}/{decision}", json={"comment": comment},
                             headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        response.raise_for_status()
        return response.json()


def approve_over_rest(api_url: str, ticket_key: str, username: str, password: str, comment: str) -> dict[str, Any]:
    return decide_over_rest(api_url, ticket_key, username, password, "approve", comment)


def follow(
    client: AirflowClient,
    runs: dict[str, RunView],
    *,
    on_gate: Callable[[RunView], list[str]],
    timeout: float = 900,
    on_change: Callable[[RunView], None] | None = None,
    on_poll: Callable[[RunView], None] | None = None,
) -> dict[str, RunView]:
    """Poll until every run has finished. `on_gate` is called once per run whose gate is waiting, `on_change`
    when a run's state changed, `on_poll` after every look at a running run's tasks."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = [r for r in runs.values() if r.state not in FINISHED]
        if not pending:
            return runs
        for view in pending:
            if view.run_id is None:
                view.run_id = spawned_run(view.ticket_key)
                if view.run_id is None:
                    continue
            previous = view.state
            view.state = client.dag_run(view.dag_id, view.run_id)["state"]
            view.tasks = client.task_instances(view.dag_id, view.run_id)
            gate = view.task("gate")
            if gate and gate["state"] == "deferred" and not view.approved_by:
                view.approved_by = on_gate(view)
            if on_change and view.state != previous:
                on_change(view)
            if on_poll:
                on_poll(view)
        time.sleep(1)
    unfinished = {k: (v.state, [(t["task_id"], t["state"]) for t in v.tasks]) for k, v in runs.items()
                  if v.state not in FINISHED}
    raise TimeoutError(f"runs still unfinished after {timeout:.0f}s: {unfinished}")
