"""Dev: the ticket's change on its own branch, behind a draft PR linked to the work item.

A deterministic playbook makes the change when the ticket's kind has one. Otherwise (a `feature` ticket),
with a model configured, the model proposes structured edits (include.agents.model_edits), which are checked
against the working copy, applied and committed; the Test step then runs the repository's tests on them.
Without a model such a ticket fails with NeedsModelError before anything is written.

Branch, commit and PR are each looked up before they are made (idempotency key `<ticket>:dev:r<rev>`),
so a retried or resumed step returns the same PR instead of opening a second one; a resumed model step finds
its commit by that key and does not ask the model again."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from include.agents import llm, model_edits, po, tools
from include.agents.context import idempotency_key, scm_for, scm_kind
from include.agents.edits import write_changes
from include.agents.errors import AgentError, NeedsModelError
from include.agents.loop import change as loop_change
from include.agents.playbooks import Playbook, dependency, playbook_for, secrets
from include.agents.playbooks import pipeline as ci_template
from include.agents.playbooks.secret_values import Leftover
from include.agents.testing import resolve_test_command
from include.agents.workspace import checked_out, diffstat, keyed_commit, repo_files
from include.contracts import AgentTask, ChangeKind, DevResult, PoResult, Ticket
from include.contracts.agent import AcceptanceItem, StaleLockFile
from include.policies.push import push_refusal
from include.policies.risk import escalate_for_diff
from include.scm import ScmAdapter
from include.scm.base import FileChange

log = logging.getLogger(__name__)


def run(task: AgentTask) -> DevResult:
    ticket, maker = _change_maker(task)  # PO's effective kind; NeedsModelError before anything is written
    scm = scm_for(ticket)
    repo, branch = ticket.repo, ticket.branch
    default = scm.default_branch(repo)
    scm.ensure_branch(repo, branch, default)
    with checked_out(scm, repo, branch) as workdir:
        proposed: Proposed | None = None
        secrets_left: list[Leftover] = []
        if isinstance(maker, llm.LlmConfig):
            paths, proposed = _apply_model_edits(task, maker, scm, workdir, default)
        else:
            paths, secrets_left = _apply_playbook(scm, ticket, maker, workdir, default)
        head = scm.head(repo, branch) or ""
        pr = scm.find_pr(repo, branch)
        if pr is None or pr.status == "abandoned":
            env_vars = _env_vars(ticket, workdir, paths)
            pr = scm.open_pr(
                repo, branch, default, f"[#{ticket.workitem_id}] {ticket.title}",
                pr_description(ticket, po.checklist_of(task), env_vars, proposed,
                               stale_lock_files(workdir, paths), secrets_left), draft=True,
                workitem_id=ticket.workitem_id,
            )
        stat = diffstat(scm.diff(pr.pr_id))
        env_vars = _env_vars(ticket, workdir, stat.files)
        stale_locks = stale_lock_files(workdir, stat.all_files)
    risk = escalate_for_diff(ticket.risk_class, stat.all_files, stat.lines, 1, kind=ticket.change_kind,
                             tenant=ticket.tenant)
    log.info("PR #%s on %s: %d files, %d lines, risk %s", pr.pr_id, branch, len(stat.all_files), stat.lines, risk)
    summary = f"PR #{pr.pr_id} ({'draft' if pr.is_draft else pr.status}) on {branch}: "
    summary += f"{len(stat.all_files)} files, {stat.lines} lines changed, risk {risk.value}"
    if env_vars:
        summary += f"; secrets now read from {', '.join(env_vars)}"
    if proposed:
        summary += f"; edits proposed by {proposed.model}"
    if stale_locks:
        summary += f"; lock file(s) to regenerate before merging: {', '.join(lock.path for lock in stale_locks)}"
    return DevResult(
        summary=summary,
        branch=branch,
        pr_id=pr.pr_id,
        pr_url=pr.url,
        head_commit=head,
        files_changed=stat.all_files,
        lines_changed=stat.lines,
        risk_class=risk,
        proposed_by=proposed.model if proposed else None,
        stale_lock_files=stale_locks,
    )


@dataclass(frozen=True)
class Proposed:
    """A model-made change as the PR description tells it: who proposed it and its one-sentence summary."""

    model: str
    summary: str
    transcript: str | None = None
    """Where the tool-using loop's transcript is kept, when the loop made the change."""


def _change_maker(task: AgentTask) -> tuple[Ticket, Playbook | llm.LlmConfig]:
    """The ticket as PO decided to work it (its effective change kind and class, from `task.upstream["po"]`
    when the PO step ran), and what makes its change: the kind's playbook; else the configured model; else
    NeedsModelError: nothing is written, and the message says what to configure."""
    ticket = task.ticket
    if "po" in task.upstream:
        decided = PoResult.model_validate(task.upstream["po"])
        ticket = ticket.model_copy(update={"change_kind": ChangeKind(decided.change_kind),
                                           "risk_class": ticket.risk_class.at_least(decided.risk_class)})
    try:
        return ticket, playbook_for(ticket)
    except NeedsModelError:
        config = llm.LlmConfig.for_tenant(ticket.tenant)
        if config is None:
            raise
        return ticket, config


def _apply_playbook(scm: ScmAdapter, ticket: Ticket, playbook: Playbook, workdir: Path,
                    default: str) -> tuple[list[str], list[Leftover]]:
    """Commit what the playbook changes; the paths it changed, and for secret remediation the flagged values it
    left for a person (the PR lists them). A playbook that changes nothing on a branch that holds nothing yet is
    refused before a PR opens: never an empty PR. For a pipeline ticket the change is the CI file the Pipeline
    step commits next, so the refusal asks that step's plan."""
    repo, branch = ticket.repo, ticket.branch
    left: list[Leftover] = []
    if ticket.change_kind is ChangeKind.SECRET_REMEDIATION:
        done = secrets.remediation(ticket, workdir)
        changes, left = done.changes, done.left_for_people
    else:
        changes = playbook(ticket, workdir)
    if changes:
        paths = ", ".join(change.path for change in changes)
        message = f"{ticket.title} (AB#{ticket.workitem_id})\n\n{ticket.change_kind.value} playbook changed {paths}"
        _refuse_unpushable(ticket, workdir, changes)
        scm.commit_files(repo, branch, changes, message, idempotency_key(ticket, "dev"))
    elif scm.head(repo, branch) == scm.head(repo, default):
        nothing = f"the {ticket.change_kind.value} playbook found nothing to change in {repo}@{default}"
        if ticket.change_kind is ChangeKind.PIPELINE:
            action, ci_change = ci_template.plan(workdir, default, scm_kind(), asked=True)
            if ci_change is None:
                raise AgentError(f"ticket {ticket.ticket_key}: {nothing}: its CI file is {action.replace('_', ' ')}")
        else:
            raise AgentError(f"ticket {ticket.ticket_key}: {nothing}; the repository already looks the way the "
                             "ticket asks")
    return [change.path for change in changes], left


def _apply_model_edits(task: AgentTask, config: llm.LlmConfig, scm: ScmAdapter, workdir: Path,
                       default: str) -> tuple[list[str], Proposed | None]:
    """Ask the model for edits, apply them to the working copy and commit them; a resumed step finds its
    earlier commit by the idempotency key and asks nothing."""
    ticket = task.ticket
    key = idempotency_key(ticket, "dev")
    earlier = keyed_commit(workdir, key, default)
    if earlier is not None:
        sha, message = earlier
        log.info("%s: commit %s already carries %s; not asking the model again", ticket.ticket_key, sha[:12], key)
        return [], _proposed_in(message)
    if loop_change.uses_loop(config):
        test_argv = resolve_test_command(workdir, tools.repo_sandbox(workdir).python)
        made = loop_change.make_change(config, task, workdir, test_argv)
        changes, summary, model = made.changes, made.outcome.summary, made.model
        transcript = str(made.outcome.transcript)
        summary_line = (f"{summary}\n\nTranscript: {transcript} ({made.outcome.turns} model turns, "
                        f"{made.outcome.tokens} tokens, ${made.outcome.cost_usd})")
    else:
        proposal = model_edits.propose_change(config, task, workdir, model_edits.EditBudget.for_model(config))
        write_changes(workdir, proposal.changes)
        changes, summary, model, transcript = proposal.changes, proposal.plan.summary, proposal.model, None
        summary_line = summary
    paths = ", ".join(change.path for change in changes)
    message = f"{ticket.title} (AB#{ticket.workitem_id})\n\n{summary_line}\n\nEdits proposed by {model}: {paths}"
    _refuse_unpushable(ticket, workdir, changes)
    scm.commit_files(ticket.repo, ticket.branch, changes, message, key)
    return [change.path for change in changes], Proposed(model, summary, transcript)


def _refuse_unpushable(ticket: Ticket, workdir: Path, changes: list[FileChange]) -> None:
    """The push decision of the platform's and the tenant's policies, before anything is committed or pushed."""
    refusal = push_refusal(ticket.tenant, ticket.repo, workdir, changes)
    if refusal is not None:
        raise AgentError(f"ticket {ticket.ticket_key}: the change is refused before any push: {refusal}. Nothing "
                         "was committed; split the ticket, or ask the tenant's policy owners")


_PROPOSED = re.compile(r"^Edits proposed by (?P<model>\S+): ", re.M)
_TRANSCRIPT = re.compile(r"^Transcript: (?P<path>\S+) ", re.M)


def _proposed_in(message: str) -> Proposed | None:
    """Read back who proposed a committed change and its summary, from the message `_apply_model_edits` wrote."""
    found = _PROPOSED.search(message)
    paragraphs = [p.strip() for p in message.strip().split("\n\n")]
    if found is None or len(paragraphs) < 3:
        return None
    transcript = _TRANSCRIPT.search(message)
    return Proposed(model=found["model"], summary=paragraphs[1], transcript=transcript["path"] if transcript else None)


def _env_vars(ticket: Ticket, workdir: Path, paths: list[str]) -> list[str]:
    """For secret remediation: the variables the changed modules read, named in the PR and the summary."""
    if ticket.change_kind is not ChangeKind.SECRET_REMEDIATION:
        return []
    return list(secrets.env_vars_in(workdir, paths))


def stale_lock_files(workdir: Path, changed: list[str]) -> list[StaleLockFile]:
    """Lock files the branch's manifest changes left out of step (include.agents.playbooks.dependency)."""
    return dependency.stale_lock_files(repo_files(workdir), changed)


def pr_description(ticket: Ticket, checklist: list[AcceptanceItem], env_vars: list[str],
                   proposed: Proposed | None = None, stale_locks: list[StaleLockFile] | None = None,
                   secrets_left: list[Leftover] | None = None) -> str:
    link = f"[AB#{ticket.workitem_id}]({ticket.url})" if ticket.url else f"AB#{ticket.workitem_id}"
    lines = [
        f"Work item: {link}",
        f"Change kind: `{ticket.change_kind.value}` · planned risk: {ticket.risk_class.value}",
        "",
        "## Acceptance criteria",
        "",
        *(f"- [ ] {item.text} _(check: {item.check})_" for item in checklist),
    ]
    if proposed:
        lines += [
            "",
            "## Change",
            "",
            proposed.summary,
            "",
            f"_Edits proposed by {proposed.model}; the test step runs the repository's tests on them. A model "
            "wrote this code: review it as a draft._",
        ]
        if proposed.transcript:
            lines += ["", f"Transcript of the tool-using loop (each tool call, its result, tokens and cost): "
                          f"`{proposed.transcript}`"]
    if env_vars:
        lines += [
            "",
            "## Secrets",
            "",
            f"The code now reads {', '.join(f'`{n}`' for n in env_vars)} from the environment. The leaked value "
            "is still in the repository's history: rotate it, removing it from the code does not revoke it.",
        ]
    if secrets_left:
        lines += [
            "",
            "## Secrets left for a person",
            "",
            "detect-secrets still flags these; the playbook did not move them, for the reason given:",
            "",
            *(f"- [ ] `{item.path}:{item.line}` ({', '.join(item.kinds)}): {item.reason}" for item in secrets_left),
        ]
    if stale_locks:
        lines += [
            "",
            "## Before merging",
            "",
            *(f"- [ ] `{lock.path}` still records the old version: run `{lock.command}` in "
              f"`{lock.directory}` and push the result to this branch" for lock in stale_locks),
            "",
            "Lock files are generated by the package manager, never edited by hand, and Ticketpilot's sandbox has "
            "no network to run it: this PR waits at the gate until its final change includes them.",
        ]
    lines += ["", "Opened as a draft by Ticketpilot; the review step publishes it once the checks pass."]
    return "\n".join(lines)
