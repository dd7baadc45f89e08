"""`directory apply` against the real platform database and real git repositories in the embedded forge: a
first apply creates the tenant, its roles, named approvers, budget, the mirrored repository and a CODEOWNERS pull
request; a second apply changes nothing; taking a person out of the file revokes their rights, which the gate store
enforces on the next decision; a tenant taken out of the file keeps its data and loses every right; a dry run
changes nothing. (The Airflow pool step is covered end to end in tests/e2e/test_own_repository.py.)"""

from __future__ import annotations

import os
import subprocess
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from include.contracts import GateDecision, GateOutcome, RiskClass
from include.contracts.directory import Directory, Role
from include.directory.apply import CODEOWNERS_BRANCH, apply
from include.maintenance.retention import DataClass, tenant_days
from include.scm.local import LocalForge
from include.store import gates, roles
from include.store.tenants import authenticate, get_tenant
from include.store.tickets import record_votes
from include.tickets.ado_events import PullRequestDelivery, ReviewerVote
from model_serving.router import ledger


@pytest.fixture(autouse=True)
def _fresh(no_ledger: None) -> None:
    """Each test starts without tenant ledgers (budgets live there)."""


def git_source(root: Path) -> Path:
    src = root / "invoicing-clone"
    src.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.org",
           "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.org"}
    (src / "README.md").write_text("# invoicing\n")
    for step in (["init", "--quiet", "--initial-branch=main"], ["add", "-A"], ["commit", "--quiet", "-m", "one"]):
        subprocess.run(["git", *step], cwd=src, env=env, check=True)
    return src


def directory(*, approvers: list[str], r3: list[str], tenants: bool = True, budget: int = 150,
              bob_email: str | None = None, retention: dict[str, int] | None = None) -> Directory:
    return Directory.model_validate({
        "people": [{"id": "alice", "name": "Alice", "email": "alice@team.example"},
                   {"id": "bob", "name": "Bob", "email": bob_email},
                   {"id": "carol", "name": "Carol"}],
        "teams": [{"id": "billing", "members": ["alice", "bob"]}],
        "tenants": [{"id": "team-own", "default_repo": "invoicing", "monthly_budget_usd": budget,
                     "retention_days": retention or {},
                     "roles": {"approver": approvers, "r3_approver": r3, "viewer": ["carol"]},
                     "repositories": [{"name": "invoicing", "source": "invoicing-clone",
                                       "owners": {"*": ["team:billing"], "docs/": ["carol"]}}]}] if tenants else [],
    })


def run(d: Directory, base: Path, **kwargs: object) -> tuple[list[str], dict[str, str], list[str]]:
    applied = apply(d, base_dir=base, airflow=None, actor="ops-ann", **kwargs)  # type: ignore[arg-type]
    return applied.changes, applied.secrets, applied.pending


def open_gate(db: psycopg.Connection, key: str, risk: RiskClass, named: list[str]) -> None:
    db.execute("INSERT INTO ticketpilot.tickets (ticket_key, tenant_id, workitem_id, rev, dag_id, state, ticket) "
               "VALUES (%s, 'team-own', %s, 1, %s, 'open', '{}')", (key, int(key.rsplit("-", 1)[1]),
                                                                      f"ticket__team-own__{key.rsplit('-', 1)[1]}"))
    gates.request_gate(db, ticket_key=key, run_id="ticket__r1", risk_class=risk, named_approvers=named)


def decide(db: psycopg.Connection, key: str, who: str) -> str:
    return gates.record_decision(db, GateDecision(ticket_key=key, run_id="ticket__r1", decision=GateOutcome.APPROVE,
                                                  approver=who, comment="ok"))["status"]


def test_first_apply_builds_everything_and_the_second_changes_nothing(
        db: psycopg.Connection, forge_dir: Path, tmp_path: Path) -> None:
    git_source(tmp_path)
    changes, secrets, pending = run(directory(approvers=["team:billing"], r3=["alice"]), tmp_path)
    assert pending == []
    assert changes[:2] == ["team-own: created on the embedded forge", "team-own: grant approver to alice"]
    assert "team-own: monthly budget none -> 150 USD" in changes
    assert any(c.startswith("team-own/invoicing: mirrored with its history from invoicing-clone (1 commit(s)")
               for c in changes)
    assert any(c.startswith(f"team-own/invoicing: CODEOWNERS proposed on {CODEOWNERS_BRANCH} (PR ") for c in changes)

    tenant = get_tenant(db, "team-own")
    assert tenant is not None and tenant.approvers == ["alice"]
    assert authenticate(tenant, "team-own", secrets["team-own"])
    assert roles.grants(db, "team-own") == {("alice", Role.APPROVER), ("bob", Role.APPROVER),
                                            ("alice", Role.R3_APPROVER), ("carol", Role.VIEWER)}
    budgets = ledger.rows(db, ledger.sql.SQL("SELECT limit_usd, period FROM {}").format(
        ledger.table("team-own", "budgets")))
    assert [(b["limit_usd"], b["period"]) for b in budgets] == [(Decimal(150), "month")]
    forge = LocalForge.from_settings("team-own")
    pr = forge.find_pr("invoicing", CODEOWNERS_BRANCH)
    assert pr is not None and pr.target_branch == "main"
    owners = forge.checkout("invoicing", CODEOWNERS_BRANCH, tmp_path / "w") / "CODEOWNERS"
    assert owners.read_text().splitlines()[1:] == ["* alice@team.example @bob", "docs/ @carol"]
    entries = db.execute("SELECT actor, action, subject FROM ticketpilot.audit_log ORDER BY id").fetchall()
    assert [(e["actor"], e["action"], e["subject"]) for e in entries] == [("ops-ann", "directory.apply", "team-own")]

    assert run(directory(approvers=["team:billing"], r3=["alice"]), tmp_path) == ([], {}, [])
    assert db.execute("SELECT count(*) AS n FROM ticketpilot.audit_log").fetchone()["n"] == 1, "a no-op audits nothing"


def test_a_person_taken_out_of_the_file_loses_the_right_to_decide_gates(
        db: psycopg.Connection, forge_dir: Path, tmp_path: Path) -> None:
    git_source(tmp_path)
    run(directory(approvers=["team:billing"], r3=["alice"]), tmp_path)
    open_gate(db, "team-own-1", RiskClass.R2, [])
    open_gate(db, "team-own-2", RiskClass.R2, [])
    with pytest.raises(gates.ApproverNotAllowed, match="carol may not decide gates of tenant team-own: the Team "
                                                       "Directory grants them viewer"):
        decide(db, "team-own-1", "carol")
    assert decide(db, "team-own-1", "bob") == "approved"

    changes, _, _ = run(directory(approvers=["alice"], r3=["alice"]), tmp_path)
    assert changes == ["team-own: revoke approver from bob"]
    with pytest.raises(gates.ApproverNotAllowed, match="bob may not decide gates of tenant team-own"):
        decide(db, "team-own-2", "bob")
    assert decide(db, "team-own-2", "alice") == "approved"


def test_r3_named_approvers_follow_the_file(db: psycopg.Connection, forge_dir: Path, tmp_path: Path) -> None:
    git_source(tmp_path)
    run(directory(approvers=["team:billing"], r3=["alice"]), tmp_path)
    changes, _, _ = run(directory(approvers=["team:billing"], r3=["bob"]), tmp_path)
    assert changes == ["team-own: approvers ['alice'] -> ['bob']", "team-own: grant r3_approver to bob",
                       "team-own: revoke r3_approver from alice"]
    tenant = get_tenant(db, "team-own")
    assert tenant is not None and tenant.approvers == ["bob"]


def votes(event: str, key: str, *cast: tuple[str, int]) -> PullRequestDelivery:
    return PullRequestDelivery(event_id=event, pull_request_id=7, source_branch=f"refs/heads/tp/{key}",
                               status="active", ticket_key=key,
                               reviewers=tuple(ReviewerVote(unique_name=who, vote=vote) for who, vote in cast))


def test_ado_votes_are_recorded_for_the_person_the_directory_names(
        db: psycopg.Connection, forge_dir: Path, tmp_path: Path) -> None:
    """A PR vote names its voter by sign-in e-mail; in a directory-managed tenant it decides as the person, so
    alice approving in the UI and again in Azure DevOps is one person, never the R3 gate's second pair of eyes."""
    git_source(tmp_path)
    run(directory(approvers=["team:billing"], r3=["alice"]), tmp_path)
    open_gate(db, "team-own-4", RiskClass.R3, ["alice"])
    assert decide(db, "team-own-4", "alice") == "pending"
    pushed = record_votes(db, "team-own", ["alice"], votes("e1", "team-own-4", ("ALICE@Team.example", 10),
                                                            ("mallory@team.example", 10)))
    assert pushed.recorded == 0, "alice already decided; mallory holds no gate role"

    changes, _, _ = run(directory(approvers=["team:billing"], r3=["alice"], bob_email="Bob@team.example"), tmp_path)
    assert changes == ["team-own: e-mail of bob None -> 'bob@team.example'",  # and CODEOWNERS names the e-mail
                       f"team-own/invoicing: CODEOWNERS proposed on {CODEOWNERS_BRANCH} (PR 1)"]
    pushed = record_votes(db, "team-own", ["alice"], votes("e2", "team-own-4", ("bob@team.example", 10)))
    assert pushed.recorded == 1
    decided = db.execute("SELECT approver, source FROM ticketpilot.gate_decisions WHERE ticket_key = 'team-own-4' "
                         "ORDER BY decided_at").fetchall()
    assert [(r["approver"], r["source"]) for r in decided] == [("alice", "rest"), ("bob", "ado")]


def test_retention_days_follow_the_file(db: psycopg.Connection, forge_dir: Path, tmp_path: Path) -> None:
    git_source(tmp_path)
    run(directory(approvers=["alice"], r3=[]), tmp_path)
    changes, _, _ = run(directory(approvers=["alice"], r3=[], retention={"transcripts": 30}), tmp_path)
    assert changes == ["team-own: retention of transcripts 90 -> 30 days"]
    assert run(directory(approvers=["alice"], r3=[], retention={"transcripts": 30}), tmp_path)[0] == []
    assert tenant_days(db, "team-own")[DataClass.TRANSCRIPTS] == 30
    changes, _, _ = run(directory(approvers=["alice"], r3=[]), tmp_path)
    assert changes == ["team-own: retention of transcripts 30 -> 90 days (the default)"]
    with pytest.raises(ValueError, match="less than or equal to 3650"):
        directory(approvers=["alice"], r3=[], retention={"transcripts": 5000})


def test_a_tenant_taken_out_of_the_file_keeps_its_data_and_loses_every_right(
        db: psycopg.Connection, forge_dir: Path, tmp_path: Path) -> None:
    git_source(tmp_path)
    run(directory(approvers=["team:billing"], r3=["alice"]), tmp_path)
    changes, _, _ = run(directory(approvers=[], r3=[], tenants=False), tmp_path)
    assert "team-own: approvers ['alice'] -> [] (no longer in the directory)" in changes
    assert roles.grants(db, "team-own") == set()
    open_gate(db, "team-own-3", RiskClass.R2, [])
    with pytest.raises(gates.ApproverNotAllowed, match="grants them no role"):
        decide(db, "team-own-3", "alice")
    assert get_tenant(db, "team-own") is not None
    assert (forge_dir / "team-own" / "invoicing.git" / "HEAD").is_file()


def test_a_dry_run_lists_the_changes_and_makes_none(db: psycopg.Connection, forge_dir: Path, tmp_path: Path) -> None:
    git_source(tmp_path)
    changes, secrets, _ = run(directory(approvers=["team:billing"], r3=["alice"]), tmp_path, dry_run=True)
    assert "team-own: created on the embedded forge" in changes and "team-own: grant approver to bob" in changes
    assert secrets == {} and get_tenant(db, "team-own") is None and not (forge_dir / "team-own").exists()
    run(directory(approvers=["team:billing"], r3=["alice"]), tmp_path)
    changes, _, _ = run(directory(approvers=["alice"], r3=["alice"], budget=90), tmp_path, dry_run=True)
    assert changes == ["team-own: revoke approver from bob", "team-own: monthly budget 150.000000 USD per month -> "
                                                             "90 USD"]
    assert ("bob", Role.APPROVER) in roles.grants(db, "team-own")


def test_the_scheduled_reconcile_does_not_create_tenants(db: psycopg.Connection, forge_dir: Path,
                                                         tmp_path: Path) -> None:
    changes, secrets, pending = run(directory(approvers=["alice"], r3=[]), tmp_path, create_tenants=False)
    assert (changes, secrets) == ([], {}) and get_tenant(db, "team-own") is None
    assert pending == ["team-own: new tenant, not created here: run `ticketpilot directory apply` to create it (its "
                       "hook secret is shown once)"]


def test_a_repository_without_a_source_is_reported_not_invented(db: psycopg.Connection, forge_dir: Path,
                                                                tmp_path: Path) -> None:
    d = directory(approvers=["alice"], r3=[])
    d = d.model_copy(update={"tenants": [d.tenants[0].model_copy(update={
        "repositories": [d.tenants[0].repositories[0].model_copy(update={"source": None})]})]})
    _, _, pending = run(d, tmp_path)
    assert pending == ["team-own/invoicing: not in the embedded forge and no `source` to mirror it from: add "
                       "`source:` (a path or git URL) or `ticketpilot repo add` it"]
