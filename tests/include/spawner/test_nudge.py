"""The nudger against Airflow's real metadata schema (its SQLAlchemy models, created in a scratch database of
the test server): an approved run goes to the front of the scheduler's queue once its gate has ended, and only
then; other runs, runs the scheduler already looked at and finished runs are left alone."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pgserver
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from include.contracts import GateDecision, GateOutcome, RiskClass
from include.spawner.nudge import RunNudger, libpq_url
from include.store import gates

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def airflow_db(pg_server: pgserver.PostgresServer) -> Iterator[str]:
    from airflow.models import import_all_models
    from airflow.models.base import Base
    from sqlalchemy import create_engine

    import_all_models()
    name = f"tp_airflow_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.get_uri("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_server.get_uri(name)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    Base.metadata.create_all(engine)
    engine.dispose()
    yield url


@pytest.fixture
def meta(airflow_db: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(airflow_db, autocommit=True) as conn:
        conn.execute("TRUNCATE task_instance, dag_run CASCADE")
        yield conn


def add_run(meta: psycopg.Connection, dag_id: str, run_id: str, *, looked: datetime | None,
            gate_ended: datetime | None, state: str = "running") -> None:
    """A run of `gate >> next` as the scheduler leaves it: `looked` is its last scheduling decision."""
    meta.execute("INSERT INTO dag_run (dag_id, run_id, run_type, run_after, state, last_scheduling_decision) "
                 "VALUES (%s, %s, 'manual', %s, %s, %s)", (dag_id, run_id, T0, state, looked))
    for task_id, ti_state, end in (("gate", "success" if gate_ended else "deferred", gate_ended),
                                   ("next", None, None)):
        meta.execute("INSERT INTO task_instance (id, task_id, dag_id, run_id, try_number, pool, pool_slots, state, "
                     "end_date) VALUES (%s, %s, %s, %s, 1, 'default_pool', 1, %s, %s)",
                     (uuid.uuid4(), task_id, dag_id, run_id, ti_state, end))


def looked_at(meta: psycopg.Connection, dag_id: str, run_id: str) -> datetime | None:
    return meta.execute("SELECT last_scheduling_decision FROM dag_run WHERE dag_id = %s AND run_id = %s",
                        (dag_id, run_id)).fetchone()[0]


def approved(dag_id: str | None, run_id: str, status: str = "approved") -> str:
    return json.dumps({"ticket_key": "acme-1", "run_id": run_id, "dag_id": dag_id, "status": status})


def test_an_approved_run_is_examined_next_once_its_gate_has_ended(meta: psycopg.Connection, airflow_db: str) -> None:
    add_run(meta, "ticket__acme__1", "ticket__r1", looked=T0, gate_ended=None)
    add_run(meta, "ticket__acme__2", "ticket__r1", looked=T0, gate_ended=None)  # same run id, other ticket
    nudger = RunNudger(airflow_db)
    nudger.on_decision(approved("ticket__acme__1", "ticket__r1"))
    assert nudger.nudge() == [] and nudger.waiting, "the gate is still deferred: nothing to look at yet"
    assert looked_at(meta, "ticket__acme__1", "ticket__r1") == T0

    meta.execute("UPDATE task_instance SET state = 'success', end_date = %s "
                 "WHERE dag_id = 'ticket__acme__1' AND task_id = 'gate'", (T0 + timedelta(seconds=1),))
    assert nudger.nudge() == [("ticket__acme__1", "ticket__r1")]
    assert looked_at(meta, "ticket__acme__1", "ticket__r1") is None, "NULL sorts first in the scheduler's queue"
    assert looked_at(meta, "ticket__acme__2", "ticket__r1") == T0, "the other ticket's run keeps its turn"
    assert not nudger.waiting and nudger.nudged == 1


def test_a_run_already_looked_at_or_finished_is_left_alone(meta: psycopg.Connection, airflow_db: str) -> None:
    add_run(meta, "ticket__acme__3", "ticket__r1", looked=T0 + timedelta(seconds=5),
            gate_ended=T0 + timedelta(seconds=1))
    add_run(meta, "ticket__acme__4", "ticket__r2", looked=T0, gate_ended=T0 + timedelta(seconds=1), state="failed")
    nudger = RunNudger(airflow_db)
    nudger.on_decision(approved("ticket__acme__3", "ticket__r1"))
    nudger.on_decision(approved("ticket__acme__4", "ticket__r2"))
    assert nudger.nudge() == []
    assert looked_at(meta, "ticket__acme__3", "ticket__r1") == T0 + timedelta(seconds=5)
    assert looked_at(meta, "ticket__acme__4", "ticket__r2") == T0
    assert nudger.waiting, "the running one may still change until its window ends"
    nudger.window_s = 0
    nudger.on_decision(approved("ticket__acme__3", "ticket__r1"))
    assert nudger.nudge() == [] and not nudger.waiting, "past its window it is forgotten"


def test_serving_nudges_the_run_a_committed_approval_names(
        meta: psycopg.Connection, airflow_db: str, db: psycopg.Connection, db_url: str) -> None:
    """The whole path: the store's decision NOTIFYs, the serving nudger hears it and moves the run up."""
    add_run(meta, "ticket__acme__7", "ticket__r1", looked=T0, gate_ended=T0 + timedelta(seconds=1))
    gates.request_gate(db, ticket_key="acme-7", run_id="ticket__r1", risk_class=RiskClass.R2, named_approvers=[],
                       dag_id="ticket__acme__7")
    nudger, stop = RunNudger(airflow_db), threading.Event()
    serving = threading.Thread(target=nudger.serve, args=(db_url, stop))
    serving.start()
    try:
        time.sleep(0.5)  # listening
        gates.record_decision(db, GateDecision(ticket_key="acme-7", run_id="ticket__r1", approver="alice",
                                               decision=GateOutcome.APPROVE))
        deadline = time.monotonic() + 10
        while nudger.nudged == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        serving.join(timeout=10)
    assert not serving.is_alive(), "serve() returns once stopped"
    assert nudger.nudged == 1 and looked_at(meta, "ticket__acme__7", "ticket__r1") is None


def test_only_approvals_that_name_their_dag_are_taken(airflow_db: str) -> None:
    nudger = RunNudger(airflow_db)
    for payload in (approved("ticket__acme__5", "ticket__r1", "rejected"), approved(None, "ticket__r1"), "{not json"):
        nudger.on_decision(payload)
    assert not nudger.waiting
    off = RunNudger(None)
    off.on_decision(approved("ticket__acme__5", "ticket__r1"))
    assert not off.waiting, "without a PostgreSQL metadata database there is nothing to nudge"


def test_an_unreachable_metadata_database_only_loses_the_nudge() -> None:
    nudger = RunNudger("postgresql://nobody@127.0.0.1:9/airflow")
    nudger.on_decision(approved("ticket__acme__6", "ticket__r1"))
    assert nudger.nudge() == [] and not nudger.waiting


def test_the_metadata_url_is_airflows_in_libpq_form() -> None:
    socket = conninfo_to_dict(libpq_url("postgresql+psycopg://postgres:pw@/airflow?host=/tmp/s") or "")
    assert socket == {"user": "postgres", "password": "pw", "dbname": "airflow", "host": "/tmp/s"}
    assert conninfo_to_dict(libpq_url("postgresql://u@db:5432/af") or "") == \
        {"user": "u", "host": "db", "port": "5432", "dbname": "af"}
    assert libpq_url("sqlite:////tmp/airflow.db") is None
    assert libpq_url("mysql+mysqldb://u@db/af") is None
