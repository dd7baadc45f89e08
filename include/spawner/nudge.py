"""Ask Airflow's scheduler to look next at a run whose gate was just approved.

The scheduler examines running DAG runs round-robin: `max_dagruns_per_loop_to_schedule` per loop, the least
recently examined first (`DagRun.get_running_dag_runs_to_examine` orders by `last_scheduling_decision`, nulls
first). Nothing moves a run whose task just ended to the front, so with a thousand tickets parked at gates an
approved ticket waited for the scheduler to come round to it, several loops, before its merge was queued.
Airflow's own HITL approvals wait the same way (bench/parked.py runs both).

A decided gate NOTIFYs `GATE_CHANNEL` with its DAG and run. Once a task of that run has ended after the
scheduler last looked at it (the triggerer ends an approved gate about half a second after the decision
commits), the nudger sets the run's `last_scheduling_decision` to NULL: the value a new run has, and the one
Airflow writes itself when it re-queues a cleared run. The next scheduler loop examines it first. The condition
is Airflow's own test for "changed since the scheduler last looked" (its paused-DAG sweep compares
`last_scheduling_decision` with the task instances' times), so a run the scheduler already saw is left alone
and a nudge repeated by a second spawner changes nothing.

It is the one write the platform makes to Airflow's metadata, on two columns Airflow 2.2 to 3.x share (ADR 13).
With a metadata database other than PostgreSQL it is off, and an approved run waits its turn as it would
without it. A metadata database that is down only loses the nudge, never a decision.
"""

from __future__ import annotations

import json
import logging
import select
import threading
import time
from dataclasses import dataclass, field

import psycopg
from psycopg_pool import PoolTimeout

from include.store.db import connect
from include.store.gates import GATE_CHANNEL
from include.store.pool import Backoff

log = logging.getLogger("ticketpilot.spawner.nudge")

TICK_S = 0.05
"""How often the nudger checks its pending nudges while it has any."""
IDLE_S = 1.0
"""How long the idle loop blocks on its LISTEN connection (and so how soon it notices `stop`)."""
WINDOW_S = 30.0
"""How long after a decision a run may still be nudged; later, it is left to the scheduler's round-robin."""

RunKey = tuple[str, str]
"""(dag_id, run_id)"""

NUDGE_SQL = """
WITH runs AS (
    SELECT dr.id, dr.dag_id, dr.run_id, dr.state, dr.last_scheduling_decision AS looked,
           (SELECT max(ti.end_date) FROM task_instance ti
             WHERE ti.dag_id = dr.dag_id AND ti.run_id = dr.run_id) AS ended
    FROM dag_run dr
    JOIN unnest(%s::text[], %s::text[]) AS wanted(dag_id, run_id)
      ON dr.dag_id = wanted.dag_id AND dr.run_id = wanted.run_id
), nudged AS (
    UPDATE dag_run SET last_scheduling_decision = NULL FROM runs
    WHERE dag_run.id = runs.id AND runs.state = 'running' AND runs.looked < runs.ended
    RETURNING dag_run.id
)
SELECT runs.dag_id, runs.run_id, runs.state, nudged.id IS NOT NULL AS nudged
FROM runs LEFT JOIN nudged ON nudged.id = runs.id
"""


def libpq_url(sqlalchemy_url: str) -> str | None:
    """The libpq form of Airflow's `sql_alchemy_conn`, or None when the metadata database is not PostgreSQL."""
    from sqlalchemy.engine import make_url

    url = make_url(sqlalchemy_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class RunNudger:
    """Pending nudges of approved runs, and one connection to Airflow's metadata database while it has any."""

    metadata_url: str | None
    window_s: float = WINDOW_S
    nudged: int = 0
    """Runs moved to the front of the scheduler's queue since start (logged, and read by tests)."""
    _pending: dict[RunKey, float] = field(default_factory=dict)
    _conn: psycopg.Connection | None = None

    @classmethod
    def from_airflow_config(cls) -> RunNudger:
        from airflow.configuration import conf

        url = libpq_url(conf.get("database", "sql_alchemy_conn"))
        if url is None:
            log.info("Airflow's metadata database is not PostgreSQL: approved runs wait for the scheduler's "
                     "round-robin (no nudge)")
        return cls(url)

    @property
    def waiting(self) -> bool:
        return bool(self._pending)

    def on_decision(self, payload: str) -> None:
        """Take one `GATE_CHANNEL` payload; an approval of a gate that names its DAG becomes a pending nudge."""
        try:
            body = json.loads(payload)
        except ValueError:
            log.warning("ignoring malformed %s payload %r", GATE_CHANNEL, payload)
            return
        if self.metadata_url and body.get("status") == "approved" and body.get("dag_id") and body.get("run_id"):
            self._pending[(body["dag_id"], body["run_id"])] = time.monotonic() + self.window_s

    def nudge(self) -> list[RunKey]:
        """One pass: nudge the pending runs whose gate has ended; forget those nudged, no longer running,
        gone or past their window. Returns the runs nudged."""
        if not self._pending:
            return []
        keys = list(self._pending)
        try:
            rows = self._connection().execute(NUDGE_SQL, ([k[0] for k in keys], [k[1] for k in keys])).fetchall()
        except psycopg.Error as exc:
            log.warning("could not nudge %d approved run(s), they wait for the scheduler's round-robin: %s",
                        len(keys), exc)
            self.close()
            self._pending.clear()
            return []
        found = {(dag_id, run_id): (state, nudged) for dag_id, run_id, state, nudged in rows}
        done: list[RunKey] = []
        now = time.monotonic()
        for key in keys:
            state, nudged = found.get(key, (None, False))
            if nudged:
                done.append(key)
            if nudged or state != "running" or now > self._pending[key]:
                del self._pending[key]
        if done:
            self.nudged += len(done)
            log.info("asked the scheduler to look next at %s", ", ".join(f"{d}/{r}" for d, r in done))
        if not self._pending:
            self.close()
        return done

    def serve(self, db_url: str | None = None, stop: threading.Event | None = None) -> None:
        """LISTEN for gate decisions on the platform database and nudge until stopped; a lost connection is
        re-opened with backoff (a decision missed meanwhile only waits for the round-robin). Runs in its own
        thread of the spawner process, so a slow outbox pass never delays a nudge."""
        stop = stop or threading.Event()
        backoff = Backoff("the run nudger")
        while not stop.is_set():
            try:
                with connect(db_url, autocommit=True) as listener:
                    listener.execute(f"LISTEN {GATE_CHANNEL}")
                    backoff = Backoff("the run nudger")
                    while not stop.is_set():
                        if select.select([listener.fileno()], [], [], TICK_S if self.waiting else IDLE_S)[0]:
                            for note in listener.notifies(timeout=0):
                                self.on_decision(note.payload)
                        self.nudge()
            except (psycopg.OperationalError, PoolTimeout) as exc:
                stop.wait(backoff.next_delay(exc))
        self.close()

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            assert self.metadata_url is not None
            self._conn = psycopg.connect(self.metadata_url, autocommit=True, connect_timeout=5)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
