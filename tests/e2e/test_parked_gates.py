"""Many gates parked on the embedded platform: none fails, connections stay within the budget (parked gates
add none each), a decision resumes exactly its own run, and a killed triggerer comes back by itself with the
parked gates still deciding. SYNTHETIC tickets (bench/parked.py's DAGs); N from TICKETPILOT_E2E_PARKED."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.parked import (
    GATE_DAG,
    ConnectionSampler,
    approve_gate,
    bench_platform,
    count_tis,
    started_at,
    trigger_many,
    wait_for,
)
from include.launcher.embedded_pg import RESERVED, ConnectionBudget
from include.launcher.platform import Platform
from include.store import pool

pytestmark = pytest.mark.e2e

PARKED = int(os.environ.get("TICKETPILOT_E2E_PARKED", "300"))


@pytest.fixture(scope="module")
def parked_platform() -> Iterator[Platform]:
    home = Path(tempfile.mkdtemp(prefix="tp-e2e-parked-"))
    platform = bench_platform(home, PARKED)
    try:
        platform.up()
        yield platform
    finally:
        platform.down()
        shutil.rmtree(home, ignore_errors=True)


def test_many_parked_gates_cost_no_connection_each_and_a_decision_resumes_its_run(
        parked_platform: Platform) -> None:
    assert parked_platform.pg is not None and parked_platform.supervisor is not None
    budget = ConnectionBudget.embedded(parallelism=parked_platform.parallelism, pool_max=pool.pool_max())
    with parked_platform.client() as client, ConnectionSampler(parked_platform.pg.libpq_url("postgres")) as sampler:
        wait_for("the synthetic DAG parsed", lambda: client.dag_exists(GATE_DAG), 180, lambda: None)
        runs = list(trigger_many(client, GATE_DAG, PARKED, "gate_"))
        # Warm: the first third parked, so Airflow's own pools have opened what this load makes them open.
        wait_for(f"{PARKED // 3} gates deferred",
                 lambda: count_tis(client, GATE_DAG, "gate", ("deferred",)) >= PARKED // 3,
                 900, parked_platform.supervisor.check_alive)
        warm = sampler.samples[-1]
        wait_for(f"{PARKED} gates deferred", lambda: count_tis(client, GATE_DAG, "gate", ("deferred",)) == PARKED,
                 900, parked_platform.supervisor.check_alive)
        time.sleep(5)  # settled: every trigger is running in the triggerer
        parked = sampler.samples[-1]
        assert count_tis(client, GATE_DAG, "gate", ("failed", "up_for_retry")) == 0
        assert parked - warm < 5, \
            f"{PARKED - PARKED // 3} more parked gates took {parked - warm} connections ({warm} -> {parked})"
        assert sampler.max_seen <= budget.max_connections - RESERVED, budget.describe()

        chosen = runs[PARKED // 2]
        decided = approve_gate(chosen)
        assert started_at(client, GATE_DAG, chosen, "next") - decided < 30
        others = client.request("GET", f"/api/v2/dags/{GATE_DAG}/dagRuns/{runs[0]}/taskInstances/gate").json()
        assert others["state"] == "deferred", "only the decided run resumed"
        xcom = client.request("GET", f"/api/v2/dags/{GATE_DAG}/dagRuns/{chosen}/taskInstances/gate/xcomEntries/"
                                     "return_value", params={"deserialize": True}).json()
        value = json.loads(xcom["value"]) if isinstance(xcom["value"], str) else xcom["value"]
        assert value["status"] == "approved" and value["decisions"][0]["approver"] == "bench-approver", \
            "the triggerer ended the gate with the value the merge step reads"

        triggerer = parked_platform.supervisor.procs["triggerer"]
        os.killpg(triggerer.pid, signal.SIGKILL)  # a crash, not an orderly stop: the watchdog must notice
        wait_for("the triggerer restarted", lambda: parked_platform.supervisor.procs["triggerer"].pid != triggerer.pid,
                 60, lambda: None)
        assert parked_platform.supervisor.restarts["triggerer"].count == 1
        decided = approve_gate(runs[0])
        assert started_at(client, GATE_DAG, runs[0], "next", timeout_s=180) - decided < 180
        assert count_tis(client, GATE_DAG, "gate", ("failed", "up_for_retry")) == 0
        assert all(p.poll() is None for p in parked_platform.supervisor.procs.values())
