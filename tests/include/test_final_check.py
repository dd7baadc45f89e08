"""The final check on a real local forge: what a merge would change on the current default branch decides the
class, an empty change and a change that already landed are told apart, and a conflict is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from include import final_check, merge_step
from include.contracts import ChangeKind, DevResult, PipelineResult, PoResult, RiskClass, Ticket
from include.contracts.agent import StaleLockFile
from include.contracts.evidence import CriterionEvidence, CriterionStatus
from include.contracts.final_check import FinalOutcome
from include.policies.final_diff import classify_final_diff
from include.scm import FileChange
from include.scm.local import LocalForge
from include.ticket_end import end_without_merge
from tests.include.agents.conftest import file_at

TENANT = "finals"
REPO = "svc"
FILES = {"app/core.py": "def total(xs):\n    return sum(xs)\n", "README.md": "# svc\n"}
TICKET = Ticket(tenant=TENANT, workitem_id=41, rev=1, title="Clean up lint in app/core.py", repo=REPO,
                change_kind=ChangeKind.LINT_FIX, risk_class=RiskClass.R0)
LINT_PLAN = final_check.Plan(risk=RiskClass.R0, kind=ChangeKind.LINT_FIX)


@pytest.fixture
def forge(db: object, forge_dir: Path) -> LocalForge:
    forge = LocalForge.from_settings(TENANT)
    forge.create_repo(REPO, FILES)
    forge.ensure_branch(REPO, TICKET.branch, "main")
    return forge


def commit(forge: LocalForge, branch: str, path: str, content: str | None, key: str) -> str:
    return forge.commit_files(REPO, branch, [FileChange(path=path, content=content)], f"change {path}", key)


def test_a_change_only_to_code_keeps_the_planned_class(forge: LocalForge) -> None:
    commit(forge, TICKET.branch, "app/core.py", "def total(xs: list[int]) -> int:\n    return sum(xs)\n", "k1")
    result = final_check.check(forge, TICKET, TICKET.branch, LINT_PLAN)
    assert result.outcome is FinalOutcome.MERGE
    assert (result.files, result.lines, result.risk_class, result.raised) == (["app/core.py"], 2, RiskClass.R0, False)
    assert result.base_commit == forge.head(REPO, "main")
    assert result.head_commit == forge.head(REPO, TICKET.branch)


def test_a_fix_round_that_touches_auth_code_raises_an_r0_ticket_to_r3_with_the_reason(forge: LocalForge) -> None:
    commit(forge, TICKET.branch, "app/core.py", "import os\n", "k1")
    commit(forge, TICKET.branch, "app/auth/session.py", "TIMEOUT = 1\n", "fix1")  # what a model's fix round added
    result = final_check.check(forge, TICKET, TICKET.branch, LINT_PLAN)
    assert (result.outcome, result.planned_risk, result.risk_class) == (FinalOutcome.MERGE, RiskClass.R0, RiskClass.R3)
    assert result.raised
    assert any(r.startswith("app/auth/session.py touches authentication") for r in result.reasons), result.reasons
    assert "app/auth/session.py" in final_check.gate_comment(result)


def test_a_branch_without_commits_has_nothing_to_change(forge: LocalForge) -> None:
    result = final_check.check(forge, TICKET, TICKET.branch, LINT_PLAN)
    assert result.outcome is FinalOutcome.NOTHING_TO_CHANGE
    assert result.files == [] and "nothing to merge" in result.summary


def test_a_change_that_landed_on_main_meanwhile_is_told_apart_from_an_empty_one(forge: LocalForge) -> None:
    fixed = "def total(xs):\n    return sum(xs or [])\n"
    commit(forge, TICKET.branch, "app/core.py", fixed, "k1")
    commit(forge, "main", "app/core.py", fixed, "someone-else")
    result = final_check.check(forge, TICKET, TICKET.branch, LINT_PLAN)
    assert result.outcome is FinalOutcome.ALREADY_LANDED
    assert "already contains every change" in result.summary
    assert forge.diff(forge.open_pr(REPO, TICKET.branch, "main", "t", "", draft=True, workitem_id=41).pr_id), \
        "the PR's merge-base diff still shows the change: only the final check sees it landed"


def test_a_branch_that_no_longer_merges_is_a_conflict_naming_the_file(forge: LocalForge) -> None:
    commit(forge, TICKET.branch, "app/core.py", "one\n", "k1")
    commit(forge, "main", "app/core.py", "two\n", "other")
    result = final_check.check(forge, TICKET, TICKET.branch, LINT_PLAN)
    assert result.outcome is FinalOutcome.CONFLICT
    assert result.files == ["app/core.py"] and "rebase" in result.summary


def test_the_pipeline_steps_own_ci_file_does_not_raise_a_bump_ticket_but_a_devs_edit_to_ci_does() -> None:
    ci = "azure-pipelines.yml"
    exempt, why = classify_final_diff(RiskClass.R1, [ci, "requirements.txt"], 2, kind=ChangeKind.DEPENDENCY_BUMP,
                                      exempt=[ci])
    assert exempt == RiskClass.R1 and any("not counted: azure-pipelines.yml" in r for r in why)
    raised, why = classify_final_diff(RiskClass.R1, [ci, "requirements.txt"], 2, kind=ChangeKind.DEPENDENCY_BUMP)
    assert raised == RiskClass.R3 and any("pipeline secrets" in r for r in why)


def test_the_plan_is_the_highest_class_set_before_and_the_pos_kind() -> None:
    dev = DevResult(summary="s", branch="b", pr_id=1, head_commit="h", risk_class=RiskClass.R1)
    po = PoResult(summary="s", checklist=[], change_kind="feature", risk_class=RiskClass.R2)
    pipeline = PipelineResult(summary="s", action="created", head_commit="h")
    plan = final_check.Plan.of(TICKET, dev, po, pipeline)
    assert (plan.risk, plan.kind, plan.exempt) == (RiskClass.R2, ChangeKind.FEATURE, ("azure-pipelines.yml",))
    kept = pipeline.model_copy(update={"action": "kept_user_owned"})
    assert final_check.Plan.of(TICKET, dev, None, kept).exempt == ()


def test_the_merge_refuses_when_main_moved_so_that_the_class_rose(forge: LocalForge) -> None:
    commit(forge, TICKET.branch, "app/core.py", "import os\n", "k1")
    checked = final_check.check(forge, TICKET, TICKET.branch, LINT_PLAN)
    commit(forge, TICKET.branch, "CODEOWNERS", "* @someone\n", "late")
    now = final_check.check(forge, TICKET, TICKET.branch, LINT_PLAN)
    with pytest.raises(merge_step.MergeRefused, match="now classifies R3, not R0"):
        merge_step.recheck(checked, now, TICKET)
    merge_step.recheck(checked, checked, TICKET)  # unchanged: no objection


def test_an_unmet_criterion_parks_an_r1_change_at_the_gate_but_not_an_r0_one(forge: LocalForge) -> None:
    commit(forge, TICKET.branch, "app/core.py", "import os\n", "k1")
    checked = final_check.check(forge, TICKET, TICKET.branch, final_check.Plan(RiskClass.R1, ChangeKind.FEATURE))
    unmet = CriterionEvidence(text="test_total passes", check="tests", status=CriterionStatus.UNMET,
                              evidence="no test named test_total in the repository")
    met = unmet.model_copy(update={"status": CriterionStatus.MET})
    parked = final_check.with_unmet_criteria(checked, [met, unmet])
    assert parked.risk_class == RiskClass.R2 and parked.raised
    assert parked.reasons[-1] == ("acceptance criterion unmet: test_total passes "
                                  "(no test named test_total in the repository)")
    assert final_check.with_unmet_criteria(checked, [met]) == checked
    r0 = final_check.check(forge, TICKET, TICKET.branch, LINT_PLAN)
    assert final_check.with_unmet_criteria(r0, [unmet]).risk_class == RiskClass.R0


def test_a_ticket_with_nothing_to_merge_closes_its_pr_with_the_reason_once(forge: LocalForge, db: object) -> None:
    pr = forge.open_pr(REPO, TICKET.branch, "main", TICKET.title, "", draft=True, workitem_id=41)
    result = final_check.check(forge, TICKET, TICKET.branch, LINT_PLAN)
    reason = end_without_merge(forge, TICKET, pr.pr_id, result, "manual__1")
    assert reason.startswith("Ticketpilot closed this without merging (nothing to change)")
    assert end_without_merge(forge, TICKET, pr.pr_id, result, "manual__1") == reason
    assert forge.get_pr(pr.pr_id).status == "abandoned"
    assert [c.body for c in forge.comments(pr.pr_id)] == [reason]
    rows = db.execute("SELECT action, details FROM ticketpilot.audit_log WHERE subject = %s",  # type: ignore[attr-defined]
                      (TICKET.ticket_key,)).fetchall()
    assert [r["action"] for r in rows] == ["ticket.nothing_to_change"] * 2


def test_the_pipeline_steps_ci_file_yields_to_ci_that_main_gained_meanwhile(forge: LocalForge) -> None:
    """Two tickets on a repository without CI each get a CI file from their Pipeline step; the first merges. The
    second's only conflict is its own CI file: it keeps main's, and merges its change (not a CONFLICT)."""
    ci = "azure-pipelines.yml"
    commit(forge, TICKET.branch, "app/core.py", "def total(xs: list[int]) -> int:\n    return sum(xs)\n", "k1")
    commit(forge, TICKET.branch, ci, "steps:\n  - script: pytest -q\n", "pipeline")
    commit(forge, "main", ci, "steps:\n  - script: python -m pytest\n", "the-other-ticket")
    plan = final_check.Plan(risk=RiskClass.R0, kind=ChangeKind.LINT_FIX, exempt=(ci,))
    result = final_check.check(forge, TICKET, TICKET.branch, plan)
    assert (result.outcome, result.files, result.risk_class) == (FinalOutcome.MERGE, ["app/core.py"], RiskClass.R0)
    assert file_at(forge, REPO, TICKET.branch, ci) == file_at(forge, REPO, "main", ci)
    again = final_check.check(forge, TICKET, TICKET.branch, plan)  # the merge step checks again: nothing new
    assert again.head_commit == result.head_commit


def test_a_conflict_beyond_the_pipeline_steps_ci_file_still_stands(forge: LocalForge) -> None:
    ci = "azure-pipelines.yml"
    commit(forge, TICKET.branch, "app/core.py", "one\n", "k1")
    commit(forge, TICKET.branch, ci, "steps: []\n", "pipeline")
    commit(forge, "main", "app/core.py", "two\n", "other")
    commit(forge, "main", ci, "jobs: []\n", "other-ci")
    plan = final_check.Plan(risk=RiskClass.R0, kind=ChangeKind.LINT_FIX, exempt=(ci,))
    result = final_check.check(forge, TICKET, TICKET.branch, plan)
    assert result.outcome is FinalOutcome.CONFLICT and result.files == sorted(["app/core.py", ci])
    assert file_at(forge, REPO, TICKET.branch, ci) == "steps: []\n", "nothing is changed on a real conflict"


def test_a_lock_file_left_out_of_step_parks_the_bump_until_the_branch_carries_it(forge: LocalForge) -> None:
    """No network in the sandbox: the bump cannot regenerate package-lock.json, and `npm ci` on main would fail
    with it stale, so an R1 bump waits at the gate saying what to run; once a person pushed the regenerated lock
    file to the branch, the final change carries it and nothing is raised."""
    lock = StaleLockFile(path="package-lock.json", manifest="package.json", command="npm install", directory=".")
    plan = final_check.Plan(RiskClass.R1, ChangeKind.DEPENDENCY_BUMP)
    commit(forge, TICKET.branch, "package.json", '{"dependencies": {"lodash": "4.17.21"}}\n', "bump")
    parked = final_check.with_stale_lock_files(final_check.check(forge, TICKET, TICKET.branch, plan), [lock])
    assert parked.risk_class == RiskClass.R2 and parked.raised
    assert parked.reasons[-1] == ("lock file out of step: package-lock.json still records the old version: run "
                                  "`npm install` in the repository root and push it to the branch")
    assert "Why this class:" in final_check.gate_comment(parked)

    commit(forge, TICKET.branch, "package-lock.json", '{"lockfileVersion": 3}\n', "regenerated")
    settled = final_check.check(forge, TICKET, TICKET.branch, plan)
    assert final_check.with_stale_lock_files(settled, [lock]) == settled
    assert settled.risk_class == RiskClass.R1
