"""`python bench/parked.py --tickets N`: park N tickets at the product's gate and N at Airflow's HITL
`ApprovalOperator` on one embedded platform, and measure what parking costs and how fast a decision resumes.

The tickets are SYNTHETIC (labelled so in their title and the DAGs' tags), spread over `--tenants` synthetic
tenants: per tenant one DAG whose runs hold the product's `GateSensor` (deferrable, R2) and then a next step, in
the tenant's own Airflow pool (as the ticket factory puts them); one DAG with `ApprovalOperator` then a next step;
one whose first step measures dispatch (trigger accepted -> first step running) while all are parked, in a
tenant pool of its own while another tenant's pool is full (a one-slot pool, one task running, more queued on
it): a tenant at its limit must not delay another tenant's dispatch.
Decisions go through `include.store.gates.record_decision`, the store path every channel (REST, UI, ADO)
ends in, for one gate run at a time; HITL answers go through Airflow's REST API.

Measured: PostgreSQL connections in use (maximum, sampled), the triggerer's CPU and RSS, dispatch p95,
approval -> next step running p95 (up to 50 decisions each), ADO hook -> 202 p95 at `--hook-rate`
deliveries/s throughout, and whether every component is still alive at the end. The last line is
`parked=N pg_conn_max=… dispatch_p95_s=… approval_next_p95_s=… hook_p95_ms=… alive=yes|no`.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import psutil
import psycopg

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from include.airflow_client import AirflowClient  # noqa: E402
from include.contracts import GateDecision, GateOutcome  # noqa: E402
from include.launcher.embedded_pg import ConnectionBudget  # noqa: E402
from include.launcher.platform import Platform, free_port  # noqa: E402
from include.store import gates, pool  # noqa: E402
from include.store.db import connect  # noqa: E402

GATE_DAG, HITL_DAG, DISPATCH_DAG = "bench_parked_gate", "bench_parked_hitl", "bench_dispatch"
BUSY_DAG, BUSY_POOL, DISPATCH_POOL = "bench_busy_tenant", "tenant-bench-busy", "tenant-bench-dispatch"
SYNTHETIC_KEY = "bench-1"
DECISIONS = 50


def tenant_gate_dag(tenant: int) -> str:
    return f"{GATE_DAG}__t{tenant:03d}"


def tenant_key(tenant: int) -> str:
    return f"bench{tenant:03d}-1"

DAG_FILE = '''"""Synthetic tickets for bench/parked.py and tests/e2e/test_parked_gates.py."""
from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG

from include.contracts import ChangeKind, RiskClass, Ticket
from sensors.gate import GateSensor

TICKET = Ticket(tenant="bench", workitem_id=1, rev=1, title="SYNTHETIC parked ticket (bench)", repo="bench",
                change_kind=ChangeKind.DEPENDENCY_BUMP, risk_class=RiskClass.R2)
ARGS = dict(schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False, tags=["synthetic"],
            max_active_runs={runs}, max_active_tasks={runs})

with DAG("{gate}", **ARGS):
    GateSensor(task_id="gate", ticket=TICKET.model_dump(mode="json")) >> EmptyOperator(task_id="next")
with DAG("{hitl}", **ARGS):
    ApprovalOperator(task_id="gate", subject="SYNTHETIC parked ticket (bench)") >> EmptyOperator(task_id="next")
with DAG("{dispatch}", **ARGS):
    EmptyOperator(task_id="first", pool="{dispatch_pool}")
with DAG("{busy}", **ARGS):
    BashOperator(task_id="work", bash_command="sleep 3600", pool="{busy_pool}")

for t in range({tenants}):  # one synthetic tenant per DAG, each in its own pool
    tenant_ticket = TICKET.model_copy(update={"tenant": f"bench{t:03d}"})
    with DAG(f"{gate}__t{t:03d}", **ARGS):
        (GateSensor(task_id="gate", ticket=tenant_ticket.model_dump(mode="json"), pool=f"tenant-bench{t:03d}")
         >> EmptyOperator(task_id="next", pool=f"tenant-bench{t:03d}"))
'''


def write_dags(folder: Path, runs: int, tenants: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    replacements = {"{runs}": str(runs + 10), "{gate}": GATE_DAG, "{hitl}": HITL_DAG, "{dispatch}": DISPATCH_DAG,
                    "{busy}": BUSY_DAG, "{busy_pool}": BUSY_POOL, "{dispatch_pool}": DISPATCH_POOL,
                    "{tenants}": str(tenants)}
    text = DAG_FILE
    for marker, value in replacements.items():
        text = text.replace(marker, value)
    (folder / "bench_parked.py").write_text(text)


def ensure_pools(client: AirflowClient, tenants: int, slots: int) -> None:
    """One pool per synthetic tenant (as tenancy provisioning makes them), the dispatch tenant's, and the busy
    tenant's single slot."""
    for t in range(tenants):
        client.ensure_pool(f"tenant-bench{t:03d}", slots, "SYNTHETIC tenant (bench/parked.py)")
    client.ensure_pool(DISPATCH_POOL, slots, "SYNTHETIC tenant (bench/parked.py)")
    client.ensure_pool(BUSY_POOL, 1, "SYNTHETIC tenant at its pool limit (bench/parked.py)")


def bench_platform(home: Path, runs: int, tenants: int = 0) -> Platform:
    """An embedded platform whose DAG folder holds only the synthetic DAGs (no ticket factory)."""
    dags = home / "bench-dags"
    write_dags(dags, runs, tenants)
    return Platform(home=home, api_port=free_port(), extra_env={"AIRFLOW__CORE__DAGS_FOLDER": str(dags)})


def p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def parse_time(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


@dataclass
class ConnectionSampler:
    """Samples the server's client backends (both databases) until stopped; keeps the maximum."""

    admin_url: str
    interval_s: float = 0.5
    max_seen: int = 0
    samples: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> ConnectionSampler:
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _run(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            while not self._stop.wait(self.interval_s):
                n = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                                 "AND pid <> pg_backend_pid()").fetchone()[0]  # type: ignore[index]
                self.samples.append(n)
                self.max_seen = max(self.max_seen, n)


def trigger_many(client: AirflowClient, dag_id: str, n: int, prefix: str) -> dict[str, float]:
    """Trigger `n` runs; run id -> when its trigger was accepted."""
    accepted = {}
    for i in range(n):
        run_id = f"{prefix}{i:05d}"
        client.trigger(dag_id, run_id)
        accepted[run_id] = time.time()
    return accepted


def trigger_spread(client: AirflowClient, dag_ids: list[str], n: int, prefix: str) -> dict[str, tuple[str, float]]:
    """Trigger `n` runs round-robin over `dag_ids`; run id -> (DAG, when its trigger was accepted)."""
    accepted = {}
    for i in range(n):
        dag_id, run_id = dag_ids[i % len(dag_ids)], f"{prefix}{i:05d}"
        client.trigger(dag_id, run_id)
        accepted[run_id] = (dag_id, time.time())
    return accepted


def count_tis(client: AirflowClient, dag_id: str, task_id: str, states: tuple[str, ...]) -> int:
    """Task instances of `task_id` in `states`; `dag_id` "~" counts over every DAG."""
    params: list[tuple[str, str | int]] = [("task_id", task_id), ("limit", 1)] + [("state", s) for s in states]
    return int(client.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/~/taskInstances", params=params)
               .json()["total_entries"])


def wait_for(what: str, condition: Callable[[], bool], timeout_s: float, alive: Callable[[], None]) -> float:
    started = time.monotonic()
    while not condition():
        alive()
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"{what} not reached within {timeout_s:.0f}s")
        time.sleep(1)
    return time.monotonic() - started


def started_at(client: AirflowClient, dag_id: str, run_id: str, task_id: str, timeout_s: float = 120) -> float:
    """When `task_id` of the run started (waiting until it has)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ti = client.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}").json()
        if (start := parse_time(ti.get("start_date"))) is not None:
            return start
        time.sleep(0.1)
    raise TimeoutError(f"{dag_id}/{run_id}/{task_id} did not start within {timeout_s:.0f}s")


def phases(client: AirflowClient, decided: dict[str, tuple[str, float]]) -> str:
    """Where approval -> next went, p50 per phase: the gate task ending, then the next task starting (Airflow
    clears `queued_when` once a task finished, so queueing is inside the second phase)."""
    ended, started = [], []
    for run_id, (dag_id, at) in decided.items():
        base = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        gate, nxt = (client.request("GET", f"{base}/{task}").json() for task in ("gate", "next"))
        end, start = parse_time(gate.get("end_date")), parse_time(nxt.get("start_date"))
        if end is not None and start is not None:
            ended.append(end - at)
            started.append(start - end)
    if not ended:
        return "no complete runs"
    return (f"decision->gate ended p50 {statistics.median(ended):.2f}s p95 {p95(ended):.2f}s, gate ended->next "
            f"started p50 {statistics.median(started):.2f}s p95 {p95(started):.2f}s")


def approve_gate(run_id: str, ticket_key: str = SYNTHETIC_KEY) -> float:
    """Record an approval for the product gate of `run_id`; returns when it committed."""
    with connect(autocommit=True) as conn:
        gates.record_decision(conn, GateDecision(ticket_key=ticket_key, run_id=run_id,
                                                 decision=GateOutcome.APPROVE, approver="bench-approver",
                                                 comment="synthetic bench approval"))
    return time.time()


def approve_hitl(client: AirflowClient, run_id: str) -> float:
    client.request("PATCH", f"/api/v2/dags/{HITL_DAG}/dagRuns/{run_id}/taskInstances/gate/-1/hitlDetails",
                   json={"chosen_options": ["Approve"], "params_input": {}})
    return time.time()


@dataclass
class HookLoad:
    """Posts ADO deliveries to tenant `demo`'s hook at `rate`/s until stopped; keeps each one's latency."""

    url: str
    auth: tuple[str, str]
    rate: float
    latencies_ms: list[float] = field(default_factory=list)
    failures: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> HookLoad:
        if self.rate > 0:
            threading.Thread(target=self._run, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _run(self) -> None:
        from tests.e2e.helpers import delivery_like  # the recorded ADO sample, new ids each time

        with httpx.Client(timeout=10) as http:
            i = 0
            while not self._stop.wait(1 / self.rate):
                i += 1
                started = time.perf_counter()
                try:
                    status = http.post(self.url, json=delivery_like(0, workitem_id=900_000 + i), auth=self.auth)
                    ok = status.status_code == 202
                except httpx.HTTPError:
                    ok = False
                self.failures += not ok
                self.latencies_ms.append((time.perf_counter() - started) * 1000)


def triggerer_usage(platform: Platform) -> str:
    assert platform.supervisor is not None
    proc = psutil.Process(platform.supervisor.procs["triggerer"].pid)
    family = [proc, *proc.children(recursive=True)]
    cpu = sum(p.cpu_times().user + p.cpu_times().system for p in family)
    rss = sum(p.memory_info().rss for p in family) / 2**20
    return f"triggerer cpu_s={cpu:.1f} rss_mb={rss:.0f}"


def run(tickets: int, tenants: int, hook_rate: float, timeout_s: float) -> str:
    from include.launcher.demo import demo_tenant, seed

    home = Path(tempfile.mkdtemp(prefix="tp-bench-parked-"))
    platform = bench_platform(home, tickets, tenants)
    try:
        platform.up()
        seed(platform)
        assert platform.supervisor is not None and platform.pg is not None
        budget = ConnectionBudget.embedded(parallelism=platform.parallelism, pool_max=pool.pool_max())
        print(f"SYNTHETIC tickets: {tickets} at the product gate over {tenants} tenants (a pool each), {tickets} "
              f"at HITL ApprovalOperator; PostgreSQL {budget.describe()}", flush=True)
        spec = demo_tenant()
        hook_url = f"{platform.api_url}/ticketpilot/hooks/ado/{spec.tenant_id}"
        gate_dags = [tenant_gate_dag(t) for t in range(tenants)]
        with platform.client() as client, \
                ConnectionSampler(platform.pg.libpq_url("postgres")) as sampler, \
                HookLoad(hook_url, (spec.hook_username, spec.hook_secret), hook_rate) as hooks:
            ensure_pools(client, tenants, slots=4)
            wait_for("synthetic DAGs parsed", lambda: all(client.dag_exists(d) for d in
                                                           (*gate_dags, HITL_DAG, DISPATCH_DAG, BUSY_DAG)),
                     600, lambda: None)
            gate_runs = trigger_spread(client, gate_dags, tickets, "gate_")
            hitl_runs = trigger_spread(client, [HITL_DAG], tickets, "hitl_")
            parked_s = wait_for("every gate parked",
                                lambda: count_tis(client, "~", "gate", ("deferred", "awaiting_input")) >= 2 * tickets,
                                timeout_s, lambda: None)
            failed = count_tis(client, "~", "gate", ("failed", "up_for_retry"))
            print(f"parked {2 * tickets} in {parked_s:.0f}s; failed gates: {failed}; connections now "
                  f"{sampler.samples[-1] if sampler.samples else '?'}; {triggerer_usage(platform)}", flush=True)
            trigger_spread(client, [BUSY_DAG], 5, "busy_")
            wait_for("the busy tenant at its pool limit", lambda: count_tis(client, BUSY_DAG, "work", ("running",))
                     == 1 and count_tis(client, BUSY_DAG, "work", ("scheduled", "queued")) >= 1, 120, lambda: None)
            dispatch = [started_at(client, dag_id, run_id, "first") - accepted for run_id, (dag_id, accepted)
                        in trigger_spread(client, [DISPATCH_DAG], min(tickets, 20), "d_").items()]
            held = count_tis(client, BUSY_DAG, "work", ("scheduled", "queued"))
            print(f"dispatch while tenant {BUSY_POOL} is at its limit (1 running, {held} held by its pool): "
                  f"p50 {statistics.median(dispatch):.2f}s p95 {p95(dispatch):.2f}s", flush=True)
            gate_decided: dict[str, tuple[str, float]] = {}
            hitl_decided: dict[str, tuple[str, float]] = {}
            gate_next, hitl_next = [], []
            for run_id, (dag_id, _) in list(gate_runs.items())[:DECISIONS]:
                tenant = int(dag_id.rsplit("__t", 1)[1])
                decided = approve_gate(run_id, tenant_key(tenant))
                gate_decided[run_id] = (dag_id, decided)
                gate_next.append(started_at(client, dag_id, run_id, "next") - decided)
            for run_id in list(hitl_runs)[:DECISIONS]:
                decided = approve_hitl(client, run_id)
                hitl_decided[run_id] = (HITL_DAG, decided)
                hitl_next.append(started_at(client, HITL_DAG, run_id, "next") - decided)
            usage = triggerer_usage(platform)
            print(f"product gate: {phases(client, gate_decided)}", flush=True)
            print(f"HITL baseline: {phases(client, hitl_decided)}", flush=True)
        alive = all(p.poll() is None for p in platform.supervisor.procs.values())
        restarts = sum(r.count for r in platform.supervisor.restarts.values())
        print(f"product gate: approval->next p95 {p95(gate_next):.2f}s (n={len(gate_next)}); HITL baseline: "
              f"approval->next p95 {p95(hitl_next):.2f}s (n={len(hitl_next)}); dispatch p95 {p95(dispatch):.2f}s; "
              f"hooks {len(hooks.latencies_ms)} sent, {hooks.failures} not 202; {usage}; "
              f"component restarts {restarts}", flush=True)
        return (f"parked={tickets} pg_conn_max={sampler.max_seen} dispatch_p95_s={p95(dispatch):.2f} "
                f"approval_next_p95_s={p95(gate_next):.2f} hook_p95_ms={p95(hooks.latencies_ms):.0f} "
                f"alive={'yes' if alive else 'no'}")
    finally:
        platform.down()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=100, help="synthetic tenants the gates are spread over")
    parser.add_argument("--hook-rate", type=float, default=50.0, help="ADO deliveries per second during the run")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds allowed for parking every ticket")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout` stops it: the platform still goes down
    print(run(args.tickets, args.tenants, args.hook_rate, args.timeout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
