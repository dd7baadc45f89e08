"""Review: ruff, bandit and detect-secrets on the files the PR changes, curated into a review people read
(include.agents.review_findings): rules that do not fit the file's role dropped, duplicates merged, the highest
findings on the PR's own lines (and every blocking one) commented at their line up to a cap, and one report
comment with the rest. A high finding (any secret, a high bandit issue) on a line the PR adds or changes blocks:
the PR stays a draft and the `review` status fails. One on a line the PR leaves as it is was on the default
branch before: it is commented at its line and named in the summary for a ticket of its own, but does not hold
up an unrelated change (a real project's test fixture URL with `user:pass@`, a key a secret ticket is to
remove). Otherwise the status succeeds and the draft is published for people to review.

With a model configured (include.agents.llm), one more comment carries the model's short summary of the
diff and the risks it sees, marked with the model that wrote it; without one, or without a valid answer, the
review is the deterministic one alone. Neither the findings nor the verdict ever come from the model.

Comment keys carry PR, tool, path, line and code (the report: PR and its findings), so a rerun posts nothing
it posted before."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from include.agents import evidence, llm, po, review_findings, tools
from include.agents.context import dev_result, idempotency_key, scm_for
from include.agents.prose import Prose
from include.agents.workspace import checked_out, diffstat
from include.contracts import AgentTask, Finding, ReviewResult

log = logging.getLogger(__name__)

STATUS_CONTEXT = "review"
SUMMARY_PROMPT = llm.load_prompt("review_summary", "1.0.0")
Severity = Literal["low", "medium", "high"]
_BANDIT_SEVERITY: dict[str, Severity] = {"LOW": "low", "MEDIUM": "medium", "HIGH": "high"}


def findings_for(workdir: Path, files: list[str]) -> list[Finding]:
    """All findings on `files` (repository-relative, existing in `workdir`), in a stable order."""
    python = [path for path in files if path.endswith(".py")]
    found = [_from_ruff(item) for item in tools.ruff_findings(workdir, python)]
    found += [_from_bandit(item) for item in tools.bandit_findings(workdir, python)]
    found += _from_detect_secrets(tools.secret_findings(workdir, files))
    return sorted(found, key=lambda f: (f.path, f.line, f.tool, f.code))


def run(task: AgentTask) -> ReviewResult:
    ticket = task.ticket
    dev = dev_result(task)
    scm = scm_for(ticket)
    diff = scm.diff(dev.pr_id)
    changed = diffstat(diff).files
    with checked_out(scm, ticket.repo, dev.branch) as workdir:
        raw = findings_for(workdir, [path for path in changed if (workdir / path).is_file()])
        tests = task.upstream.get("test")
        criteria = evidence.verify(po.checklist_of(task), evidence.Context(
            workdir=workdir, changed=changed, tests_passed=bool(tests["passed"]) if tests else None))
    findings = review_findings.curated(raw, review_findings.touched_lines(diff))
    dropped = review_findings.not_applicable(raw)
    told = summarise(task, diff, findings)  # before any write: a budget refusal stops the step here
    already = {comment.comment_id for comment in scm.comments(dev.pr_id)}
    commented = review_findings.inline(findings)
    posted = 0
    for finding in commented:
        key = idempotency_key(ticket, "review", f"pr{dev.pr_id}", finding.tool, finding.path,
                              str(finding.line), finding.code)
        comment = scm.comment(dev.pr_id, _body(finding), key, path=finding.path, line=finding.line or None)
        posted += comment.comment_id not in already
    report = review_findings.report_body(findings, commented, raw, len(changed))
    if report is not None:
        key = idempotency_key(ticket, "review", f"pr{dev.pr_id}", "report", _digest(findings, dropped))
        posted += scm.comment(dev.pr_id, report, key).comment_id not in already
    if criteria:
        body = evidence.comment_body(criteria)
        key = idempotency_key(ticket, "review", f"pr{dev.pr_id}", "criteria",
                              hashlib.sha256(body.encode("utf-8")).hexdigest()[:16])
        posted += scm.comment(dev.pr_id, body, key).comment_id not in already
    if told is not None:
        key = idempotency_key(ticket, "review", f"pr{dev.pr_id}", "summary")
        posted += scm.comment(dev.pr_id, summary_body(told), key).comment_id not in already
    high = sum(f.severity == "high" and f.touched for f in findings)
    standing = sum(f.severity == "high" and not f.touched for f in findings)
    counts = f"{len(findings)} findings ({high} high) in {len(changed)} changed files"
    if standing:
        counts += (f"; {standing} high on lines this PR did not touch, already on the default branch: commented, "
                   "for a ticket of their own")
    if high:
        scm.set_status(dev.pr_id, STATUS_CONTEXT, "failed", f"{counts}; blocking")
        summary = f"PR #{dev.pr_id}: {counts}; blocking, the PR stays a draft"
    else:
        scm.set_status(dev.pr_id, STATUS_CONTEXT, "succeeded", counts)
        scm.publish(dev.pr_id)
        summary = f"PR #{dev.pr_id}: {counts}; published for review"
    if told is not None:
        summary += f"; summarised by {told.model}"
    log.info("%s (%d at their line, %d new comments)", summary, len(commented), posted)
    return ReviewResult(ok=not high, summary=summary, findings=findings, blocking=bool(high), comments_posted=posted,
                        commented_inline=len(commented), not_applicable=dropped, criteria=criteria,
                        model_summary=told.value.summary if told else None,
                        model_risks=told.value.risks if told else [], summarised_by=told.model if told else None)


def _digest(findings: list[Finding], dropped: dict[str, int]) -> str:
    """Names the report by what it says: a rerun on the same findings posts nothing new, a review of a changed
    PR posts its new report."""
    said = [f"{f.tool} {f.code} {f.path}:{f.line} {f.touched}" for f in findings] + [str(dropped)]
    text = "\n".join(said)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class ReviewSummary(BaseModel):
    """What the model may add to the review: one short paragraph on the diff and a few one-line risks."""

    summary: Annotated[Prose, StringConstraints(strip_whitespace=True, min_length=20, max_length=800)]
    risks: list[Annotated[Prose, StringConstraints(strip_whitespace=True, min_length=3, max_length=240,
                                                   pattern=r"^[^\n]+$")]] = Field(default_factory=list, max_length=5)

    @field_validator("summary")
    @classmethod
    def _one_paragraph(cls, value: str) -> str:
        if re.search(r"\n\s*\n", value):
            raise ValueError("write one paragraph, without blank lines")
        return " ".join(value.split())


def summarise(task: AgentTask, diff: str, findings: list[Finding]) -> llm.Answer[ReviewSummary] | None:
    """The model's summary and risks of the diff; None without a model or a valid answer (the review is the
    deterministic one alone). A budget refusal raises."""
    ticket = task.ticket
    criteria = "\n".join(f"- {text}" for text in ticket.acceptance_criteria) or "(none)"
    found = "\n".join(f"{f.severity} {f.tool} {f.code} {f.path}:{f.line}: {f.message}" for f in findings)
    return llm.complete_json(task, "review.summary", SUMMARY_PROMPT, {
        "ticket title": ticket.title, "acceptance criteria": criteria, "automated findings": found or "(none)",
        "pull request diff": diff or "(empty)",
    }, ReviewSummary, max_tokens=300)


def summary_body(told: llm.Answer[ReviewSummary]) -> str:
    lines = [f"**Summary** (written by {told.model}: a model's reading of the diff, not a verdict)", "",
             told.value.summary]
    if told.value.risks:
        lines += ["", "Risks to check:", "", *(f"- {risk}" for risk in told.value.risks)]
    return "\n".join(lines)


def _body(finding: Finding) -> str:
    code = f" `{finding.code}`" if finding.code else ""
    return f"**{finding.severity}** · {finding.tool}{code}: {finding.message}"


def _from_ruff(item: dict[str, Any]) -> Finding:
    return Finding(tool="ruff", severity="low", path=item["filename"], line=item["location"]["row"],
                   code=item.get("code") or "", message=item["message"])


def _from_bandit(item: dict[str, Any]) -> Finding:
    return Finding(tool="bandit", severity=_BANDIT_SEVERITY.get(item["issue_severity"], "low"),
                   path=Path(item["filename"]).as_posix().removeprefix("./"), line=item["line_number"],
                   code=item["test_id"], message=item["issue_text"])


def _from_detect_secrets(items: list[dict[str, Any]]) -> list[Finding]:
    """One finding per line: detect-secrets reports the same literal once per detector that matched it."""
    detectors: dict[tuple[str, int], list[str]] = defaultdict(list)
    for item in items:
        detectors[(item["filename"], item["line_number"])].append(item["type"])
    return [
        Finding(tool="detect-secrets", severity="high", path=path, line=line, code=", ".join(sorted(types)),
                message=f"possible secret ({', '.join(sorted(types))}): read it from the environment and rotate it")
        for (path, line), types in sorted(detectors.items())
    ]
