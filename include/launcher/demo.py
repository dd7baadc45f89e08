"""`make demo`: the whole product on the embedded default, end to end, in one command.

Brings the platform up, provisions tenant `demo` with a repository that has real defects, files the
sample tickets through the ADO webhook exactly as ADO would, follows every run (approving gates as the
demo approvers over REST), prints what happened, stops everything, and exits 0 only if every ticket
ended with a merged PR and merged docs.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from include.agents.llm import LlmConfig
from include.agents.loop.change import uses_loop
from include.airflow_client import AirflowClient
from include.contracts import Ticket
from include.demo.repo import DEMO_REPO, demo_repo_files
from include.demo.tickets import demo_deliveries
from include.index import index_repository
from include.index.embedders import platform_embedder
from include.launcher.follow import RunView, approve_over_rest, follow
from include.launcher.platform import Platform
from include.scm.local import LocalForge
from include.store.db import connect
from include.telemetry.show import ticket_spans, timeline
from include.telemetry.tracing import SPANS_FILE
from include.tenancy.provision import TenantSpec, provision

DEMO_TENANT = "demo"
DEMO_APPROVERS = {"alice": "alice", "bob": "bob"}  # alice is the tenant's named approver; bob the second person


def demo_tenant() -> TenantSpec:
    return TenantSpec(
        tenant_id=DEMO_TENANT,
        hook_username=os.environ.get("TICKETPILOT_DEMO_HOOK_USER", "demo"),
        hook_secret=os.environ.get("TICKETPILOT_DEMO_HOOK_SECRET", "demo-secret"),
        default_repo=DEMO_REPO,
        approvers=["alice"],
    )


def seed(platform: Platform) -> LocalForge:
    """Tenant, pool and demo repository, and the code index of its main: idempotent, so `make demo` can run
    again on the same state."""
    with platform.client() as client:
        provision(demo_tenant(), client)
    forge = LocalForge.from_settings(DEMO_TENANT)
    forge.create_repo(DEMO_REPO, demo_repo_files(), message="Initial import of invoicing-service")
    with tempfile.TemporaryDirectory() as tmp, connect(autocommit=True) as conn:
        main = forge.checkout(DEMO_REPO, forge.default_branch(DEMO_REPO), Path(tmp) / DEMO_REPO)
        stats = index_repository(conn, DEMO_TENANT, DEMO_REPO, main, embedder=platform_embedder(DEMO_TENANT, DEMO_REPO))
    print(f"Code index of {DEMO_REPO}@{stats.commit[:10]}: {stats.model_dump_json()}")
    return forge


def loop_model(env: dict[str, str]) -> str | None:
    """The configured model when it works in Dev's tool-using loop (not the embedded SmolLM2, which keeps one
    structured answer): then the demo files one feature ticket for the loop too."""
    config = LlmConfig.from_env(env)
    return config.spec if config is not None and uses_loop(config, env) else None


def post_hook(api_url: str, spec: TenantSpec, payload: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{api_url}/ticketpilot/hooks/ado/{spec.tenant_id}", json=payload,
                      auth=(spec.hook_username, spec.hook_secret), timeout=10)


def approve_gate(api_url: str, view: RunView) -> list[str]:
    """Approve as alice, and for R3 also as bob: the two-person rule."""
    with connect(autocommit=True) as conn:
        gate = conn.execute("SELECT risk_class FROM ticketpilot.gate_requests WHERE ticket_key = %s AND run_id = %s",
                            (view.ticket_key, view.run_id)).fetchone()
    if gate is None:  # the sensor has not written its request yet; try again on the next poll
        return []
    people = ["alice", "bob"] if gate["risk_class"] == "R3" else ["alice"]
    for person in people:
        approve_over_rest(api_url, view.ticket_key, person, DEMO_APPROVERS[person], "demo approval")
        print(f"  gate {view.ticket_key}: approved by {person} over REST")
    return people


def file_tickets(platform: Platform, spec: TenantSpec, with_loop_ticket: bool = False) -> dict[str, RunView]:
    runs: dict[str, RunView] = {}
    for payload in demo_deliveries(with_loop_ticket):
        started = time.perf_counter()
        response = post_hook(platform.api_url, spec, payload)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if response.status_code not in (200, 202):
            raise RuntimeError(f"hook refused: {response.status_code} {response.text}")
        body = response.json()
        print(f"  {response.status_code} {body['ticket_key']} → {body['dag_id']} ({elapsed_ms:.0f} ms)")
        runs[body["ticket_key"]] = RunView(ticket_key=body["ticket_key"], dag_id=body["dag_id"])
    return runs


def report(forge: LocalForge, runs: dict[str, RunView], client: AirflowClient) -> bool:
    """Print each ticket's outcome; True when every ticket is merged and documented."""
    all_good = True
    with tempfile.TemporaryDirectory() as tmp:
        main = forge.checkout(DEMO_REPO, forge.default_branch(DEMO_REPO), Path(tmp) / "main")
        changelog = (main / "CHANGELOG.md").read_text()
        for key, view in runs.items():
            with connect(autocommit=True) as conn:
                row = conn.execute("SELECT ticket FROM ticketpilot.tickets WHERE ticket_key = %s", (key,)).fetchone()
            ticket = Ticket.model_validate(row["ticket"])
            pr = forge.find_pr(ticket.repo, ticket.branch)
            docs = view.task("docs")
            merged = bool(pr and pr.status == "completed")
            documented = bool(docs and docs["state"] == "success") and f"AB#{ticket.workitem_id}" in changelog
            all_good &= view.state == "success" and merged and documented
            print(f"\n━━ {key} · {ticket.title} · {ticket.risk_class} · run {view.state}")
            if pr is not None:
                print(f"  PR #{pr.pr_id} {pr.url} [{pr.status}] {pr.source_branch} → {pr.target_branch}"
                      f" merge {(pr.merge_commit or '')[:10]}")
                print("  diff:\n" + _indent(_diffstat(forge, pr.pr_id)))
                for step in ("po_refine", "test_fix_loop", "review", "docs"):
                    result = client.xcom(view.dag_id, view.run_id, step) if view.run_id else None
                    if isinstance(result, dict):
                        print(f"  {step}: {result.get('summary', '')}")
                        for line in _model_lines(forge, step, result):
                            print(f"    {line}")
                cost = client.xcom(view.dag_id, view.run_id, "report_cost") if view.run_id else None
                if isinstance(cost, dict):
                    print(f"  model cost: ${float(cost['cost_usd']):.4f} over {cost['calls']} call(s) "
                          f"({cost['tokens_in']} tokens in, {cost['tokens_out']} out)")
                for comment in forge.comments(pr.pr_id):
                    print(f"  review comment: {comment.body.splitlines()[0][:140]}")
            print(f"  approvals: {', '.join(view.approved_by) or 'none needed (merged on green)'}")
            print("  steps: " + ", ".join(_step_times(view)))
            lines = [ln for ln in changelog.splitlines() if f"AB#{ticket.workitem_id}" in ln]
            print("  CHANGELOG: " + (" | ".join(lines) or "MISSING"))
        ci_yaml = main / "azure-pipelines.yml"
        yaml_text = _indent(ci_yaml.read_text()) if ci_yaml.exists() else "  MISSING"
        print("\n━━ azure-pipelines.yml on main:\n" + yaml_text)
    return all_good


def _model_lines(forge: LocalForge, step: str, result: dict) -> list[str]:
    """What the model wrote for a step, so the demo shows it: PO's acceptance checklist (the model's items
    come last) and the docs PR's description paragraph."""
    if step == "po_refine" and "refined by" in result.get("summary", ""):
        return [f"- {item['text'][:140]}" for item in result.get("checklist", [])]
    if step == "docs" and result.get("docs_pr_id"):
        body = forge.get_pr(int(result["docs_pr_id"])).description
        paragraphs = [p.strip() for p in body.split("\n\n")]
        marked = [i for i, p in enumerate(paragraphs) if p.startswith("_Description written by")]
        if marked:
            return [f"description ({paragraphs[marked[0]].strip('_').split(';')[0]}): "
                    f"{paragraphs[marked[0] - 1][:300]}"]
    return []


def _diffstat(forge: LocalForge, pr_id: int) -> str:
    diff = forge.diff(pr_id)
    stat = subprocess.run(["git", "apply", "--stat"], input=diff, capture_output=True, text=True, check=False)
    return stat.stdout.strip() or diff[:800]


def _step_times(view: RunView) -> list[str]:
    out = []
    for t in sorted(view.tasks, key=lambda t: t.get("start_date") or ""):
        if t.get("start_date") and t.get("end_date"):
            seconds = (datetime.fromisoformat(t["end_date"]) - datetime.fromisoformat(t["start_date"])).total_seconds()
            out.append(f"{t['task_id']} {seconds:.1f}s")
        else:
            out.append(f"{t['task_id']} {t['state']}")
    return out


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def run_demo(platform: Platform) -> int:
    spec = demo_tenant()
    forge = seed(platform)
    model = loop_model(platform.env)
    if model:
        print(f"{model} works in the tool-using loop: a feature ticket for Dev's loop is filed as well")
    deliveries = demo_deliveries(with_loop_ticket=model is not None)
    print(f"Filing {len(deliveries)} sample tickets through POST /ticketpilot/hooks/ado/{spec.tenant_id}:")
    runs = file_tickets(platform, spec, with_loop_ticket=model is not None)
    started = time.monotonic()
    with platform.client() as client:
        follow(client, runs, on_gate=lambda view: approve_gate(platform.api_url, view), timeout=1200,
               on_change=lambda v: print(f"  {v.ticket_key}: {v.state} ({time.monotonic() - started:.0f}s)"))
        ok = report(forge, runs, client)
    print_traces(Path(platform.env["TICKETPILOT_HOME"]) / "telemetry" / SPANS_FILE, list(runs))
    print("\n" + ("All sample tickets merged and documented." if ok else "Some tickets did not finish: see above."))
    return 0 if ok else 1


def print_traces(spans_file: Path, ticket_keys: list[str]) -> None:
    """Each ticket's OpenTelemetry trace as a timeline, from the embedded span file."""
    print(f"\n━━ traces ({spans_file}; one ticket: python -m include.telemetry show <ticket_key>)")
    for key in ticket_keys:
        print("\n".join(timeline(key, ticket_spans(spans_file, key))))
