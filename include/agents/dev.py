"""Dev: the ticket's change on its own branch, behind a draft PR linked to the work item.

Branch, commit and PR are each looked up before they are made (idempotency key `<ticket>:dev:r<rev>`),
so a retried or resumed step returns the same PR instead of opening a second one."""

from __future__ import annotations

import logging
from pathlib import Path

from include.agents import po
from include.agents.context import idempotency_key, scm_for
from include.agents.errors import AgentError
from include.agents.playbooks import playbook_for
from include.agents.playbooks.secrets import env_vars_in
from include.agents.workspace import checked_out, diffstat
from include.contracts import AgentTask, ChangeKind, DevResult, PoResult, Ticket
from include.contracts.agent import AcceptanceItem
from include.policies.risk import escalate_for_diff

log = logging.getLogger(__name__)


def run(task: AgentTask) -> DevResult:
    ticket = task.ticket
    playbook = playbook_for(ticket)  # NeedsModelError before anything is written
    scm = scm_for(ticket)
    repo, branch = ticket.repo, ticket.branch
    default = scm.default_branch(repo)
    scm.ensure_branch(repo, branch, default)
    with checked_out(scm, repo, branch) as workdir:
        changes = playbook(ticket, workdir)
        if changes:
            paths = ", ".join(change.path for change in changes)
            message = f"{ticket.title} (AB#{ticket.workitem_id})\n\n{ticket.change_kind.value} playbook changed {paths}"
            head = scm.commit_files(repo, branch, changes, message, idempotency_key(ticket, "dev"))
        else:
            head = scm.head(repo, branch) or ""
            if ticket.change_kind is not ChangeKind.PIPELINE and head == scm.head(repo, default):
                raise AgentError(
                    f"ticket {ticket.ticket_key}: the {ticket.change_kind.value} playbook found nothing to "
                    f"change in {repo}@{default}; the repository already looks the way the ticket asks"
                )
        pr = scm.find_pr(repo, branch)
        if pr is None or pr.status == "abandoned":
            env_vars = _env_vars(ticket, workdir, [change.path for change in changes])
            pr = scm.open_pr(
                repo, branch, default, f"[#{ticket.workitem_id}] {ticket.title}",
                pr_description(ticket, _checklist(task), env_vars), draft=True, workitem_id=ticket.workitem_id,
            )
        stat = diffstat(scm.diff(pr.pr_id))
        env_vars = _env_vars(ticket, workdir, stat.files)
    risk = escalate_for_diff(ticket.risk_class, stat.all_files, stat.lines, 1, kind=ticket.change_kind)
    log.info("PR #%s on %s: %d files, %d lines, risk %s", pr.pr_id, branch, len(stat.all_files), stat.lines, risk)
    summary = f"PR #{pr.pr_id} ({'draft' if pr.is_draft else pr.status}) on {branch}: "
    summary += f"{len(stat.all_files)} files, {stat.lines} lines changed, risk {risk.value}"
    if env_vars:
        summary += f"; secrets now read from {', '.join(env_vars)}"
    return DevResult(
        summary=summary,
        branch=branch,
        pr_id=pr.pr_id,
        pr_url=pr.url,
        head_commit=head,
        files_changed=stat.all_files,
        lines_changed=stat.lines,
        risk_class=risk,
    )


def _env_vars(ticket: Ticket, workdir: Path, paths: list[str]) -> list[str]:
    """For secret remediation: the variables the changed modules read, named in the PR and the summary."""
    if ticket.change_kind is not ChangeKind.SECRET_REMEDIATION:
        return []
    return list(env_vars_in(workdir, paths))


def _checklist(task: AgentTask) -> list[AcceptanceItem]:
    """The PO step's checklist when it ran, else the same deterministic one computed here."""
    if "po" in task.upstream:
        return PoResult.model_validate(task.upstream["po"]).checklist
    return po.checklist(task.ticket)


def pr_description(ticket: Ticket, checklist: list[AcceptanceItem], env_vars: list[str]) -> str:
    link = f"[AB#{ticket.workitem_id}]({ticket.url})" if ticket.url else f"AB#{ticket.workitem_id}"
    lines = [
        f"Work item: {link}",
        f"Change kind: `{ticket.change_kind.value}` · planned risk: {ticket.risk_class.value}",
        "",
        "## Acceptance criteria",
        "",
        *(f"- [ ] {item.text} _(check: {item.check})_" for item in checklist),
    ]
    if env_vars:
        lines += [
            "",
            "## Secrets",
            "",
            f"The code now reads {', '.join(f'`{n}`' for n in env_vars)} from the environment. The leaked value "
            "is still in the repository's history: rotate it, removing it from the code does not revoke it.",
        ]
    lines += ["", "Opened as a draft by Ticketpilot; the review step publishes it once the checks pass."]
    return "\n".join(lines)
