"""The final check: what merging the ticket's branch would change on the *current* default branch, and the
risk class that change deserves. Plain code; operators/final_check.py wires it before the gate, and the merge
step runs it again on the default branch as it is at merge time.

Why not the PR's diff: the forge's PR diff is taken against the merge base, so a change that already landed on
the default branch (another ticket, a person) still shows there, and an R3 gate would ask approvers to approve
something that is already merged. `git merge-tree --write-tree` computes the merge result without touching any
working tree; its diff against the default branch's tip is exactly what the merge would add.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from include.agents.context import idempotency_key
from include.agents.evidence import unmet
from include.agents.workspace import diffstat
from include.contracts import ChangeKind, DevResult, PipelineResult, PoResult, RiskClass, Ticket
from include.contracts.agent import StaleLockFile
from include.contracts.evidence import CriterionEvidence
from include.contracts.final_check import FinalCheckResult, FinalOutcome
from include.policies.final_diff import classify_final_diff
from include.scm import FileChange, ScmAdapter
from include.scm.git import run_git

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """What was decided before the final diff: the highest planned class and the effective change kind."""

    risk: RiskClass
    kind: ChangeKind
    exempt: tuple[str, ...] = ()

    @classmethod
    def of(cls, ticket: Ticket, dev: DevResult, po: PoResult | None = None,
           pipeline: PipelineResult | None = None) -> Plan:
        risk = ticket.risk_class.at_least(dev.risk_class)
        kind = ticket.change_kind
        if po is not None:
            risk = risk.at_least(po.risk_class)
            kind = ChangeKind(po.change_kind)
        written = pipeline is not None and pipeline.action in ("created", "updated")
        return cls(risk=risk, kind=kind, exempt=(pipeline.path,) if written and pipeline else ())


def check(scm: ScmAdapter, ticket: Ticket, branch: str, plan: Plan) -> FinalCheckResult:
    """Compare `branch`'s merge result with the default branch's tip, in two throwaway clones."""
    default = scm.default_branch(ticket.repo)
    with tempfile.TemporaryDirectory(prefix="tp-final-") as tmp:
        base_dir = scm.checkout(ticket.repo, default, Path(tmp) / "base")
        head_dir = scm.checkout(ticket.repo, branch, Path(tmp) / "head")
        base = _rev(base_dir, "HEAD")
        head = _rev(head_dir, "HEAD")
        run_git("fetch", "--quiet", "--no-tags", str(head_dir), f"+{head}:refs/ticketpilot/head", cwd=base_dir)
        own = run_git("diff", f"{base}...{head}", "--", cwd=base_dir).stdout
        merged = run_git("merge-tree", "--write-tree", "--no-messages", base, head, cwd=base_dir, ok=(0, 1))
        if merged.returncode == 1:
            conflicted = sorted({line.split("\t", 1)[1] for line in merged.stdout.splitlines()[1:] if "\t" in line})
            if conflicted and set(conflicted) <= set(plan.exempt):
                _keep_defaults_ci(scm, ticket, branch, base_dir, conflicted, f"{default}@{base[:12]}")
                return check(scm, ticket, branch, replace(plan, exempt=()))
            return _result(FinalOutcome.CONFLICT, plan, base, head, files=conflicted,
                           summary=f"{branch} no longer merges onto {default}@{base[:12]}: conflicts in "
                                   f"{', '.join(conflicted) or 'its files'}; rebase it or re-plan the ticket")
        final = run_git("diff", base, merged.stdout.split()[0], "--", cwd=base_dir).stdout
    stat = diffstat(final)
    if not stat.all_files:
        if diffstat(own).all_files:
            return _result(FinalOutcome.ALREADY_LANDED, plan, base, head,
                           summary=f"{default}@{base[:12]} already contains every change of {branch}: "
                                   "nothing left to merge, so the PR is closed instead of approved")
        return _result(FinalOutcome.NOTHING_TO_CHANGE, plan, base, head,
                       summary=f"{branch} changes nothing against {default}@{base[:12]}: nothing to merge")
    risk, reasons = classify_final_diff(plan.risk, stat.all_files, stat.lines, kind=plan.kind, exempt=plan.exempt,
                                         tenant=ticket.tenant)
    verdict = f"raised from {plan.risk.value} to {risk.value}" if risk != plan.risk else f"stays {risk.value}"
    return _result(FinalOutcome.MERGE, plan, base, head, risk=risk, reasons=reasons, files=stat.all_files,
                   lines=stat.lines,
                   summary=f"the merge would change {len(stat.all_files)} file(s), {stat.lines} line(s) on "
                           f"{default}@{base[:12]}; risk {verdict}")


def _keep_defaults_ci(scm: ScmAdapter, ticket: Ticket, branch: str, base_dir: Path, paths: list[str],
                      where: str) -> None:
    """The branch's Pipeline step added CI to a repository that had none, and the default branch has gained its
    own since (another ticket's PR, a person): the step's purpose is met, so the branch takes the default
    branch's file instead of conflicting with it. Only the step's own file; any other conflict stands."""
    changes = [FileChange(path=path, content=(base_dir / path).read_text(encoding="utf-8")) for path in paths]
    message = (f"Keep {where}'s {', '.join(paths)} (AB#{ticket.workitem_id})\n\nThe default branch gained CI "
               "after this branch's Pipeline step wrote it; the ticket's change merges with the CI already there.")
    scm.commit_files(ticket.repo, branch, changes, message, idempotency_key(ticket, "final-check", "keep-ci", where))
    log.info("%s: %s already has %s; the branch keeps it instead of conflicting", ticket.ticket_key, where,
             ", ".join(paths))


def with_unmet_criteria(result: FinalCheckResult, criteria: list[CriterionEvidence]) -> FinalCheckResult:
    """An unmet acceptance criterion blocks the merge of R1 and above unless a person overrides it at the gate:
    such a change is raised to at least R2, with the criteria as reasons, so it parks there. R0 (docs, lint)
    merges on green as before: its criteria are reported, not enforced."""
    missing = unmet(criteria)
    if result.outcome is not FinalOutcome.MERGE or not missing or result.risk_class is RiskClass.R0:
        return result
    reasons = [*result.reasons, *(f"acceptance criterion unmet: {c.text} ({c.evidence})" for c in missing)]
    risk = result.risk_class.at_least(RiskClass.R2)
    return result.model_copy(update={"risk_class": risk, "reasons": reasons,
                                     "summary": f"{result.summary}; {len(missing)} acceptance criterion(s) unmet, "
                                                "a person decides at the gate"})


def with_stale_lock_files(result: FinalCheckResult, locks: list[StaleLockFile]) -> FinalCheckResult:
    """A bump whose lock files still record the old version would break a frozen install (`npm ci`, a
    locked-mode restore) on the default branch: while the final change lacks them, the merge waits at the gate
    (at least R2) with what to run. Once a person pushed them to the branch, they are in the final change and
    nothing is raised."""
    missing = [lock for lock in locks if lock.path not in result.files]
    if result.outcome is not FinalOutcome.MERGE or not missing:
        return result
    reasons = [*result.reasons, *(f"lock file out of step: {lock.note()}" for lock in missing)]
    return result.model_copy(update={"risk_class": result.risk_class.at_least(RiskClass.R2), "reasons": reasons,
                                     "summary": f"{result.summary}; {len(missing)} lock file(s) to regenerate "
                                                "before merging"})


def gate_comment(result: FinalCheckResult) -> str:
    """The PR comment approvers read before deciding: what would merge, against which tip, and why the class."""
    lines = [f"**Final check** against the default branch at `{result.base_commit[:12]}` "
             f"(branch at `{result.head_commit[:12]}`): {result.summary}.", ""]
    lines += [f"- `{path}`" for path in result.files[:50]]
    if len(result.files) > 50:
        lines.append(f"- … and {len(result.files) - 50} more")
    if result.reasons:
        lines += ["", "Why this class:", *(f"- {reason}" for reason in result.reasons)]
    return "\n".join(lines)


def _rev(workdir: Path, ref: str) -> str:
    return run_git("rev-parse", "--verify", f"{ref}^{{commit}}", cwd=workdir).stdout.strip()


def _result(outcome: FinalOutcome, plan: Plan, base: str, head: str, *, summary: str, risk: RiskClass | None = None,
            reasons: list[str] | None = None, files: list[str] | None = None, lines: int = 0) -> FinalCheckResult:
    return FinalCheckResult(outcome=outcome, risk_class=risk or plan.risk, planned_risk=plan.risk,
                            reasons=reasons or [], files=files or [], lines=lines, base_commit=base,
                            head_commit=head, summary=summary)
