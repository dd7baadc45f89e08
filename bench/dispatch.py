"""Dispatch benchmark: hook → 202, accepted → first agent step running, ticket → draft PR, ticket → merged,
orchestration overhead, factory parse time; plain Airflow's trigger → first task as the baseline, same run.

    PYTHONPATH=. .venv/bin/python bench/dispatch.py --tickets 5 --burst 8

Starts its own embedded platform in a temporary folder and prints a markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from include.contracts import ChangeKind, RiskClass, Ticket
from include.demo.repo import demo_repo_files
from include.demo.tickets import demo_deliveries
from include.launcher.follow import RunView, follow
from include.launcher.platform import Platform, free_port
from include.scm.local import LocalForge
from include.store.db import connect, migrate
from include.tenancy.provision import TenantSpec, provision

TENANT = TenantSpec(tenant_id="bench", hook_username="bench", hook_secret="bench-secret", default_repo="svc-0")
LINT_INDEX = 3  # the demo's lint ticket: R0, no gate, touches one module
AGENT_TASKS = ("po_refine", "dev_change", "pipeline_yaml", "test_fix_loop", "review", "merge")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(values: list[float], unit: str = "s") -> str:
    p50, p95 = pct(values, 50), pct(values, 95)
    return f"p50 {p50:.3f} {unit} · p95 {p95:.3f} {unit} · max {max(values):.3f} {unit} (n={len(values)})"


def ts(value: str | datetime) -> float:
    return (value if isinstance(value, datetime) else datetime.fromisoformat(value)).timestamp()


def delivery(workitem: int, repo: str, state: str = "New") -> dict[str, Any]:
    payload = copy.deepcopy(demo_deliveries()[LINT_INDEX])
    payload["id"] = str(uuid.uuid4())
    payload["resource"]["id"] = workitem
    fields = payload["resource"]["fields"]
    fields["System.Tags"] = f"{fields.get('System.Tags', '')}; repo:{repo}".strip("; ")
    fields["System.State"] = state
    return payload


_HTTP = httpx.Client(timeout=10)  # one client, like a real sender: keeps connections, builds no SSL context per call


def post(platform: Platform, payload: dict[str, Any]) -> tuple[float, httpx.Response, float]:
    started = time.time()
    response = _HTTP.post(f"{platform.api_url}/ticketpilot/hooks/ado/{TENANT.tenant_id}", json=payload,
                          auth=(TENANT.hook_username, TENANT.hook_secret))
    return started, response, (time.time() - started) * 1000


def baseline(platform: Platform, runs: int) -> list[float]:
    """Plain Airflow: REST trigger of an existing one-task DAG → its task starts."""
    out = []
    with platform.client() as client:
        for i in range(runs):
            requested = time.time()
            client.trigger("ticketpilot__factory", f"bench_baseline_{i}_{uuid.uuid4().hex[:6]}")
            run_id = client.dag_runs("ticketpilot__factory")[-1]["dag_run_id"]
            while True:
                tis = client.task_instances("ticketpilot__factory", run_id)
                if tis and tis[0]["start_date"] and tis[0]["state"] in ("running", "success"):
                    out.append(ts(tis[0]["start_date"]) - requested)
                    break
                time.sleep(0.05)
            while client.dag_run("ticketpilot__factory", run_id)["state"] != "success":
                time.sleep(0.2)
    return out


def hook_latency(platform: Platform, count: int) -> list[float]:
    """Closed work items: the full write path (auth, parse, dedupe, upsert) without spawning runs."""
    return [post(platform, delivery(50_000 + i, "svc-0", state="Closed"))[2] for i in range(count)]


def factory_parse(platform: Platform, tickets: int) -> tuple[float, float]:
    """(seconds to build every DAG in-process, seconds for one DagBag parse of the file) with `tickets` open."""
    import os
    import subprocess
    import sys

    from include.settings import REPO_ROOT, get_settings

    assert platform.pg is not None
    admin = platform.pg.libpq_url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS bench_parse")
        conn.execute("CREATE DATABASE bench_parse")
    url = platform.pg.libpq_url("bench_parse")
    migrate(url)
    with connect(url) as conn, conn.transaction():
        conn.execute("INSERT INTO ticketpilot.tenants (tenant_id, hook_username, hook_secret_sha256, default_repo) "
                     "VALUES ('parse', 'parse', 'x', 'svc')")
        with conn.cursor() as cur:
            rows = []
            for i in range(tickets):
                t = Ticket(tenant="parse", workitem_id=i + 1, rev=1, title=f"Fix lint in module {i}", repo="svc",
                           change_kind=ChangeKind.LINT_FIX, risk_class=RiskClass.R0)
                rows.append((t.ticket_key, t.workitem_id, t.dag_id, json.dumps(t.model_dump(mode="json"))))
            cur.executemany("INSERT INTO ticketpilot.tickets (ticket_key, tenant_id, workitem_id, rev, dag_id, ticket) "
                            "VALUES (%s, 'parse', %s, 1, %s, %s)", rows)
    code = (
        "import time; t=time.perf_counter(); from include.dagfactory import build_all; t1=time.perf_counter(); "
        "d=build_all(); t2=time.perf_counter(); "
        "from airflow.dag_processing.dagbag import DagBag; t3=time.perf_counter(); "
        f"b=DagBag(dag_folder={str(REPO_ROOT / 'dags' / 'ticket_factory.py')!r}, safe_mode=False); "
        "t4=time.perf_counter(); assert not b.import_errors, b.import_errors; "
        "print('RESULT', len(d), t2-t1, t4-t3, len(b.dag_ids))"
    )
    env = {**platform.env, "TICKETPILOT_DB_URL": url}
    stdout = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                            cwd=REPO_ROOT).stdout
    out = next(line for line in stdout.splitlines() if line.startswith("RESULT ")).split()[1:]
    os.environ["TICKETPILOT_DB_URL"] = platform.env["TICKETPILOT_DB_URL"]
    get_settings.cache_clear()
    return float(out[1]), float(out[2])


def measure_tickets(platform: Platform, workitems: range, *, one_at_a_time: bool) -> dict[str, list[float]]:
    """File lint tickets (R0, each on its own repository) and time them from the hook's 202 to merged."""
    forge = LocalForge.from_settings(TENANT.tenant_id)
    accepted: dict[str, float] = {}
    views: dict[str, RunView] = {}
    figures: dict[str, list[float]] = {k: [] for k in ("hook_ms", "to_trigger", "first_step", "to_pr", "to_merged",
                                                        "overhead")}
    for workitem in workitems:
        repo = f"svc-{workitem}"
        forge.create_repo(repo, demo_repo_files())
        started, response, ms = post(platform, delivery(workitem, repo))
        assert response.status_code == 202, response.text
        body = response.json()
        accepted[body["ticket_key"]] = started + ms / 1000
        figures["hook_ms"].append(ms)
        views[body["ticket_key"]] = RunView(ticket_key=body["ticket_key"], dag_id=body["dag_id"])
        if one_at_a_time:
            with platform.client() as client:
                follow(client, {body["ticket_key"]: views[body["ticket_key"]]}, on_gate=lambda v: [], timeout=600)
    with platform.client() as client:
        follow(client, views, on_gate=lambda v: [], timeout=1800)
    with connect(autocommit=True) as conn:
        for key, view in views.items():
            assert view.state == "success", (key, [(t["task_id"], t["state"]) for t in view.tasks])
            t0 = accepted[key]
            outbox = conn.execute("SELECT processed_at FROM ticketpilot.outbox WHERE ticket_key = %s",
                                  (key,)).fetchone()
            figures["to_trigger"].append(ts(outbox["processed_at"]) - t0)
            figures["first_step"].append(ts(view.task("po_refine")["start_date"]) - t0)
            workitem = key.rsplit("-", 1)[1]
            pr = conn.execute(
                "SELECT created_at, completed_at FROM ticketpilot.pull_requests WHERE tenant_id = %s AND repo = %s "
                "AND source_branch NOT LIKE '%%-docs' ORDER BY pr_id LIMIT 1",
                (TENANT.tenant_id, f"svc-{workitem}"),
            ).fetchone()
            figures["to_pr"].append(ts(pr["created_at"]) - t0)
            merged = ts(pr["completed_at"]) - t0
            figures["to_merged"].append(merged)
            inside = sum(ts(t["end_date"]) - ts(t["start_date"]) for t in view.tasks
                         if t["task_id"] in AGENT_TASKS and t["start_date"] and t["end_date"])
            figures["overhead"].append(merged - inside)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=5, help="tickets filed one at a time")
    parser.add_argument("--burst", type=int, default=8, help="tickets filed at once")
    parser.add_argument("--hooks", type=int, default=200)
    parser.add_argument("--baseline-runs", type=int, default=10)
    parser.add_argument("--parse-tickets", type=int, default=1000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tp-bench-"))
    platform = Platform(home=home, api_port=free_port())
    try:
        platform.up()
        platform.wait_for_factory()
        with platform.client() as client:
            provision(TENANT, client)
        base = baseline(platform, args.baseline_runs)
        hooks = hook_latency(platform, args.hooks)

        solo = measure_tickets(platform, range(1, args.tickets + 1), one_at_a_time=True)
        burst = measure_tickets(platform, range(1001, 1001 + args.burst), one_at_a_time=False)
        hooks += solo["hook_ms"] + burst["hook_ms"]
        build_s, dagbag_s = factory_parse(platform, args.parse_tickets)

        print("\n| figure | result | target |\n|---|---|---|")
        print(f"| hook → 202 (client-side, keep-alive client) | {summary(hooks, 'ms')} | p95 < 25 ms |")
        print(f"| baseline: plain Airflow trigger → first task | {summary(base)} | — |")
        for name, figures in (("one ticket at a time", solo), (f"burst of {args.burst}", burst)):
            print(f"| {name}: accepted → run triggered (spawner) | {summary(figures['to_trigger'])} | — |")
            print(f"| {name}: accepted → first agent step running | {summary(figures['first_step'])} | p95 < 3 s |")
            print(f"| {name}: ticket → draft PR | {summary(figures['to_pr'])} | — |")
            print(f"| {name}: ticket → merged | {summary(figures['to_merged'])} | — |")
            overhead = summary(figures["overhead"])
            print(f"| {name}: orchestration overhead (→ merged minus time inside steps) | {overhead}"
                  " | < 20 s |")
        print(f"| factory: build {args.parse_tickets} ticket DAGs in-process | {build_s:.2f} s | < 5 s |")
        n = args.parse_tickets
        print(f"| factory: DagBag parse of the file with {n} open tickets | {dagbag_s:.2f} s | < 5 s |")
    finally:
        platform.down()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
