"""Outbox consumer: for each pending row, make its DAG exist (priority reparse of the factory file),
then trigger its run with a deterministic run id, then mark the row done.

Crash-safe by construction: a row is only marked done after the trigger call, and the run id is derived
from the ticket revision, so a replayed row finds the existing run (409) instead of creating a second one.
Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several spawners can run side by side.
"""

from __future__ import annotations

import logging
import select
import time
from dataclasses import dataclass
from typing import Any

import psycopg

from include.airflow_client import AirflowApiError, AirflowClient
from include.contracts.ticket import FACTORY_DAG_ID
from include.store.db import connect

log = logging.getLogger("ticketpilot.spawner")

CHANNEL = "ticketpilot_outbox"
MAX_ATTEMPTS = 20


def run_id_for(rev: int) -> str:
    return f"ticket__r{rev}"


@dataclass
class Spawner:
    airflow: AirflowClient
    db_url: str | None = None
    dag_wait_s: float = 60.0
    poll_s: float = 0.1

    def pending(self, conn: psycopg.Connection, limit: int = 50) -> list[dict[str, Any]]:
        return conn.execute(
            "SELECT id, ticket_key, dag_id, rev FROM ticketpilot.outbox WHERE processed_at IS NULL "
            "AND attempts < %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
            (MAX_ATTEMPTS, limit),
        ).fetchall()

    def drain(self) -> int:
        """Process every pending row once; return how many were spawned."""
        spawned = 0
        with connect(self.db_url) as conn:
            with conn.transaction():
                rows = self.pending(conn)
                if not rows:
                    return 0
                missing = [r["dag_id"] for r in rows if not self.airflow.dag_exists(r["dag_id"])]
                ready = self._await_dags(missing)
                for row in rows:
                    if row["dag_id"] in missing and row["dag_id"] not in ready:
                        self._failed(conn, row, "DAG not serialised yet (factory file re-parse pending)")
                        continue
                    try:
                        run, created = self.airflow.trigger(row["dag_id"], run_id_for(row["rev"]),
                                                            conf={"ticket_key": row["ticket_key"], "rev": row["rev"]})
                    except AirflowApiError as exc:
                        self._failed(conn, row, str(exc))
                        continue
                    conn.execute("UPDATE ticketpilot.outbox SET processed_at = clock_timestamp(), run_id = %s, "
                                 "attempts = attempts + 1, last_error = NULL WHERE id = %s",
                                 (run["dag_run_id"], row["id"]))
                    log.info("%s %s run %s", "triggered" if created else "found", row["dag_id"], run["dag_run_id"])
                    spawned += 1
        return spawned

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
        log.warning("outbox %s (%s) not spawned yet: %s", row["id"], row["dag_id"], error)
        conn.execute("UPDATE ticketpilot.outbox SET attempts = attempts + 1, last_error = %s WHERE id = %s",
                     (error[:2000], row["id"]))

    def serve(self, idle_poll_s: float = 5.0) -> None:
        """LISTEN for new rows, and sweep every `idle_poll_s` for anything missed (or left by a crash)."""
        with connect(self.db_url, autocommit=True) as listener:
            listener.execute(f"LISTEN {CHANNEL}")
            log.info("spawner listening on %s", CHANNEL)
            while True:
                try:
                    self.drain()
                except (AirflowApiError, OSError) as exc:
                    log.warning("spawner pass failed, will retry: %s", exc)
                    time.sleep(1)
                if select.select([listener.fileno()], [], [], idle_poll_s)[0]:
                    for _ in listener.notifies(timeout=0):
                        pass
