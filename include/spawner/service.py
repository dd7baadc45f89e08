"""Outbox consumer: turns each pending row into what it asks of the ticket's DAG, then marks it done.

- `spawn` (a new or reopened ticket): make the DAG exist (priority reparse of the factory file), trigger
  run `ticket__r<rev>`. A ticket closed before its spawn was handled gets no run.
- `replan` and `cancel` (a newer revision changed the plan, or closed the work item): the rule lives in
  `include.spawner.plans`, which decides from the DAG's runs which to mark failed (PATCH the run's state
  and note) and which run to trigger; a replan triggers only after the factory file was re-parsed, so the
  new run uses the DAG built from the newest ticket row.

Crash-safe by construction: a row is only marked done after its calls succeeded, and every call is
idempotent (deterministic run ids; failing a finished run is never planned), so a replayed row converges.
Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several spawners can run side by side. It takes its
connections from a bounded pool (include/store/pool.py), and a database that refuses or drops connections
makes it wait and reconnect with backoff, never exit. Rows of a paused tenant stay pending, untouched, until
its resume (include/tenancy/pause.py) wakes the spawner.
"""

from __future__ import annotations

import logging
import select
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

from include import telemetry
from include.airflow_client import AirflowApiError, AirflowClient
from include.contracts.ticket import FACTORY_DAG_ID
from include.spawner.plans import RunPlan, RunView, plan_cancel, plan_replan, run_id_for
from include.store.db import connect
from include.store.pool import Backoff, connection, shared_pool
from include.tickets.revisions import OutboxKind

log = logging.getLogger("ticketpilot.spawner")

CHANNEL = "ticketpilot_outbox"
MAX_ATTEMPTS = 20
RUNS_LISTED = 100
"""The most recent runs a replan/cancel looks at; a ticket DAG has a handful (max_active_runs is 1)."""


class NotReady(RuntimeError):
    """Airflow has not caught up yet (DAG not serialised, file not re-parsed): retry the row later."""


@dataclass
class Spawner:
    airflow: AirflowClient
    db_url: str | None = None
    dag_wait_s: float = 60.0
    poll_s: float = 0.1

    def pending(self, conn: psycopg.Connection, limit: int = 50) -> list[dict[str, Any]]:
        return conn.execute(
            "SELECT o.id, o.ticket_key, o.dag_id, o.rev, o.kind, COALESCE(t.state = 'open', false) AS ticket_open "
            "FROM ticketpilot.outbox o LEFT JOIN ticketpilot.tickets t USING (ticket_key) "
            "WHERE o.processed_at IS NULL AND o.attempts < %s AND NOT EXISTS (SELECT 1 FROM ticketpilot.tenants n "
            "WHERE n.tenant_id = split_part(o.dag_id, '__', 2) AND n.paused_at IS NOT NULL) "
            "ORDER BY o.id LIMIT %s FOR UPDATE OF o SKIP LOCKED",
            (MAX_ATTEMPTS, limit),
        ).fetchall()

    def drain(self) -> int:
        """Process every pending row once, in order; return how many rows triggered a run."""
        triggered = 0
        with connection(shared_pool(self.db_url)) as conn:
            with conn.transaction():
                rows = self.pending(conn)
                if not rows:
                    return 0
                spawns = [r for r in rows if r["kind"] == OutboxKind.SPAWN and r["ticket_open"]]
                missing = [r["dag_id"] for r in spawns if not self.airflow.dag_exists(r["dag_id"])]
                ready = self._await_dags(missing)
                for row in rows:
                    try:
                        if row["kind"] == OutboxKind.SPAWN:
                            if row["dag_id"] in missing and row["dag_id"] not in ready:
                                raise NotReady("DAG not serialised yet (factory file re-parse pending)")
                            run_id, outcome = self._spawn(row)
                        elif row["kind"] in (OutboxKind.REPLAN, OutboxKind.CANCEL):
                            run_id, outcome = self._apply(row)
                        else:
                            run_id, outcome = None, f"unknown outbox kind {row['kind']!r}; skipped"
                    except (AirflowApiError, NotReady) as exc:
                        self._failed(conn, row, str(exc))
                        continue
                    conn.execute("UPDATE ticketpilot.outbox SET processed_at = clock_timestamp(), run_id = %s, "
                                 "outcome = %s, attempts = attempts + 1, last_error = NULL WHERE id = %s",
                                 (run_id, outcome, row["id"]))
                    log.info("outbox %s %s %s: %s", row["id"], row["kind"], row["dag_id"], outcome)
                    triggered += run_id is not None
        return triggered

    def _spawn(self, row: dict[str, Any]) -> tuple[str | None, str]:
        if not row["ticket_open"]:
            return None, "ticket closed before its run started; not spawned"
        with telemetry.span("dispatch", ticket_key=row["ticket_key"],
                            attributes={"run.id": run_id_for(row["rev"]), "dag.id": row["dag_id"]}):
            run, created = self.airflow.trigger(row["dag_id"], run_id_for(row["rev"]),
                                                conf={"ticket_key": row["ticket_key"], "rev": row["rev"]})
        return run["dag_run_id"], f"{'triggered' if created else 'found'} {run['dag_run_id']}"

    def _apply(self, row: dict[str, Any]) -> tuple[str | None, str]:
        """Carry out a replan or cancel plan: fail the stale runs, then (replan) trigger the new one."""
        runs = self._runs(row["dag_id"])
        plan: RunPlan = (plan_cancel(runs, row["rev"]) if row["kind"] == OutboxKind.CANCEL
                         else plan_replan(runs, row["rev"], ticket_open=row["ticket_open"]))
        for run_id in plan.fail:
            self.airflow.request("PATCH", f"/api/v2/dags/{row['dag_id']}/dagRuns/{run_id}",
                                 json={"state": "failed", "note": plan.note})
        if plan.trigger is None:
            return None, plan.outcome
        self._await_reparse(row["dag_id"])
        run, _ = self.airflow.trigger(row["dag_id"], plan.trigger,
                                      conf={"ticket_key": row["ticket_key"], "rev": row["rev"]})
        return run["dag_run_id"], plan.outcome

    def _runs(self, dag_id: str) -> list[RunView]:
        response = self.airflow.request("GET", f"/api/v2/dags/{dag_id}/dagRuns", ok=(200, 404),
                                        params={"limit": RUNS_LISTED, "order_by": "-id"})
        if response.status_code == 404:  # the DAG is gone (or never existed): no run to act on
            return []
        return [RunView.from_api(run) for run in response.json()["dag_runs"]]

    def _await_reparse(self, dag_id: str) -> None:
        """Ask for a priority re-parse of the factory file and wait until `dag_id` was parsed again, so the
        next run is created from the DAG built from the newest ticket row."""
        before = self._last_parsed(dag_id)
        self.airflow.reparse_file(self.airflow.file_token(FACTORY_DAG_ID))
        deadline = time.monotonic() + self.dag_wait_s
        while time.monotonic() < deadline:
            if self._last_parsed(dag_id) != before:
                return
            time.sleep(self.poll_s)
        raise NotReady(f"{dag_id} not re-parsed within {self.dag_wait_s:.0f} s")

    def _last_parsed(self, dag_id: str) -> str | None:
        return self.airflow.request("GET", f"/api/v2/dags/{dag_id}").json().get("last_parsed_time")

    def _await_dags(self, dag_ids: list[str]) -> set[str]:
        """Ask for one priority re-parse of the factory file, then wait until the DAGs are serialised."""
        if not dag_ids:
            return set()
        self.airflow.reparse_file(self.airflow.file_token(FACTORY_DAG_ID))
        ready: set[str] = set()
        deadline = time.monotonic() + self.dag_wait_s
        while time.monotonic() < deadline:
            ready |= {d for d in dag_ids if d not in ready and self.airflow.dag_exists(d)}
            if len(ready) == len(dag_ids):
                break
            time.sleep(self.poll_s)
        return ready

    @staticmethod
    def _failed(conn: psycopg.Connection, row: dict[str, Any], error: str) -> None:
        log.warning("outbox %s (%s %s) not done yet: %s", row["id"], row["kind"], row["dag_id"], error)
        conn.execute("UPDATE ticketpilot.outbox SET attempts = attempts + 1, last_error = %s WHERE id = %s",
                     (error[:2000], row["id"]))

    def serve(self, idle_poll_s: float = 5.0) -> None:
        """LISTEN for new rows, and sweep every `idle_poll_s` for anything missed (or left by a crash); when
        the database goes away, wait with backoff and start listening again."""
        backoff = Backoff("the spawner")
        while True:
            try:
                with connect(self.db_url, autocommit=True) as listener:
                    listener.execute(f"LISTEN {CHANNEL}")
                    log.info("spawner listening on %s", CHANNEL)
                    backoff = Backoff("the spawner")
                    self._listen(listener, idle_poll_s)
            except (psycopg.OperationalError, PoolTimeout) as exc:
                time.sleep(backoff.next_delay(exc))

    def _listen(self, listener: psycopg.Connection, idle_poll_s: float) -> None:
        while True:
            try:
                self.drain()
            except (AirflowApiError, OSError) as exc:
                log.warning("spawner pass failed, will retry: %s", exc)
                time.sleep(1)
            if select.select([listener.fileno()], [], [], idle_poll_s)[0]:
                for _ in listener.notifies(timeout=0):
                    pass
