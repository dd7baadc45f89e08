"""End to end, the final change decides: a lint ticket whose fix reaches authentication code parks at an R3 gate
with the reason, and a change that lands on main while its ticket waits at the gate is closed, not merged.
Each ticket works on its own repository of tenant `acme` (tests/e2e/test_failures_and_recovery.py)."""

from __future__ import annotations

import subprocess

import pytest

from include.demo.repo import demo_repo_files
from include.launcher.follow import RunView, decide_over_rest, follow
from include.launcher.platform import Platform
from include.scm import FileChange
from include.scm.local import LocalForge
from include.store.db import connect
from tests.e2e.helpers import ACME, delivery_like, post
from tests.e2e.helpers import acme_prs as prs

pytestmark = pytest.mark.e2e
BUMP, LINT = 1, 3  # indexes into the demo deliveries
AUTH_MODULE = "invoicing/auth/tokens.py"


def file_ticket(platform: Platform, payload: dict) -> RunView:
    response = post(platform, ACME.tenant_id, payload, (ACME.hook_username, ACME.hook_secret))
    assert response.status_code == 202, response.text
    return RunView(ticket_key=response.json()["ticket_key"], dag_id=response.json()["dag_id"])


def audit(ticket_key: str, action: str) -> list[dict]:
    with connect(autocommit=True) as conn:
        return conn.execute("SELECT details FROM ticketpilot.audit_log WHERE subject = %s AND action = %s",
                            (ticket_key, action)).fetchall()


def test_a_lint_fix_that_reaches_auth_code_parks_at_an_r3_gate_with_the_reason(platform: Platform,
                                                                                acme: LocalForge) -> None:
    files = demo_repo_files() | {"invoicing/auth/__init__.py": "",
                                 AUTH_MODULE: "import os\nimport sys\n\n\ndef token_ttl() -> int:\n    return 3600\n"}
    acme.create_repo("acme-auth", files)
    payload = delivery_like(LINT, workitem_id=401, tags="lint; repo:acme-auth")
    payload["resource"]["fields"]["System.Description"] = "ruff reports unused imports (F401) across the package."
    view = file_ticket(platform, payload)
    people: list[str] = []

    def approve(v: RunView) -> list[str]:
        with connect(autocommit=True) as conn:
            gate = conn.execute("SELECT risk_class FROM ticketpilot.gate_requests WHERE ticket_key = %s",
                                (v.ticket_key,)).fetchone()
        if gate is None:
            return []
        people.append(gate["risk_class"])
        for person in ("alice", "bob"):
            decide_over_rest(platform.api_url, v.ticket_key, person, person, "approve", "seen the auth change")
        return ["alice", "bob"]

    with platform.client() as client:
        follow(client, {view.ticket_key: view}, on_gate=approve, timeout=900)
    assert view.state == "success", [(t["task_id"], t["state"]) for t in view.tasks]
    assert people == ["R3"], "planned R0, parked at R3 because the final change touches authentication code"
    [raised] = audit(view.ticket_key, "risk.raised")
    assert (raised["details"]["from"], raised["details"]["to"]) == ("R0", "R3")
    assert any(AUTH_MODULE in reason for reason in raised["details"]["reasons"])
    ticket_pr = prs("acme-auth")[0]["pr_id"]
    assert any(c.body.startswith("**Final check**") and AUTH_MODULE in c.body for c in acme.comments(ticket_pr))


def test_a_change_that_landed_while_its_ticket_waited_is_closed_not_merged(platform: Platform,
                                                                           acme: LocalForge) -> None:
    acme.create_repo("acme-landed", demo_repo_files())
    view = file_ticket(platform, delivery_like(BUMP, workitem_id=402, tags="dependencies; risk:R2; repo:acme-landed"))

    def land_then_approve(v: RunView) -> list[str]:
        """Someone merges the same change by hand while the gate waits; then the approver approves."""
        branch = next(r["source_branch"] for r in prs("acme-landed") if r["source_branch"].startswith("tp/402"))
        same = [FileChange(path=path, content=_show(acme, "acme-landed", branch, path))
                for path in ("requirements.txt", "azure-pipelines.yml")]
        acme.commit_files("acme-landed", "main", same, "Bump requests by hand", "by-hand")
        decide_over_rest(platform.api_url, v.ticket_key, "alice", "alice", "approve", "looks right")
        return ["alice"]

    with platform.client() as client:
        follow(client, {view.ticket_key: view}, on_gate=land_then_approve, timeout=900)
    tasks = {t["task_id"]: t["state"] for t in view.tasks}
    assert (tasks["merge"], tasks["docs"], tasks["report_cost"]) == ("skipped", "skipped", "success"), tasks
    [pr] = [r for r in prs("acme-landed") if not r["source_branch"].endswith("docs")]
    assert (pr["status"], pr["merge_commit"]) == ("abandoned", None)
    [closing] = acme.comments(pr["pr_id"])[-1:]
    assert "without merging (already landed)" in closing.body
    assert audit(view.ticket_key, "ticket.already_landed")
    assert "AB#402" not in (_show(acme, "acme-landed", "main", "CHANGELOG.md") or ""), "no docs for a non-merge"


def _show(forge: LocalForge, repo: str, branch: str, path: str) -> str | None:
    proc = subprocess.run(["git", "--git-dir", str(forge.repo_path(repo)), "show", f"{branch}:{path}"],
                          capture_output=True, text=True, check=False)
    return proc.stdout if proc.returncode == 0 else None

