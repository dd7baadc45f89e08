"""Docs: after the ticket's PR is merged, a CHANGELOG line, the README sections the change affects and,
when the ticket asks for a decision, an ADR, on `tp/<id>-docs`, merged at once (docs-only is R0).

When the merge conflicts because the default branch moved meanwhile (typically another ticket's CHANGELOG
line in the same spot), the change is rebuilt from the new default branch on `tp/<id>-docs-<n>` and merged
again; the SCM interface has no force-push, so a fresh branch is the only clean rebuild. Each attempt's
PR is looked up before anything is made, so a resumed step finishes where the last one stopped.

With a model configured (include.agents.llm), one call writes the docs PR's description (marked as the
model's), the CHANGELOG line's text and, when the ticket asks for a decision, the ADR's context, decision and
consequences. Each part is validated; a changelog line that shares no word with the ticket is not used.
Without a model, or without a valid answer, every part is the deterministic text; a model budget that
refuses the call fails the step before anything is written (BudgetRefusedError)."""

from __future__ import annotations

import logging
import re
import shlex
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator

from include.agents import llm
from include.agents.context import dev_result, idempotency_key, scm_for, scm_kind
from include.agents.errors import AgentError
from include.agents.playbooks import adr, changelog, readme
from include.agents.playbooks import pipeline as template
from include.agents.playbooks.secrets import env_vars_in
from include.agents.prose import Prose, grounded
from include.agents.workspace import checked_out, diffstat
from include.contracts import AgentTask, ChangeKind, DocsResult, RiskClass, Ticket
from include.policies.final_diff import classify_final_diff
from include.scm import FileChange, PullRequest, ScmAdapter, ScmError
from include.scm.git import run_git

log = logging.getLogger(__name__)

STATUS_CONTEXT = "docs"
MERGE_ATTEMPTS = 4
"""The first merge plus three rebuilds from a default branch that moved."""
DESCRIPTION_PROMPT = llm.load_prompt("docs_pr_description", "2.1.0")


class PrDescription(BaseModel):
    """One paragraph: no blank line inside, long enough to say something, short enough to read."""

    description: Annotated[Prose, StringConstraints(strip_whitespace=True, min_length=40, max_length=1200)]

    @field_validator("description")
    @classmethod
    def _one_paragraph(cls, value: str) -> str:
        if re.search(r"\n\s*\n", value):
            raise ValueError("write one paragraph, without blank lines")
        return " ".join(value.split())


class AdrDraft(BaseModel):
    context: Annotated[Prose, StringConstraints(strip_whitespace=True, min_length=20, max_length=1500)]
    decision: Annotated[Prose, StringConstraints(strip_whitespace=True, min_length=10, max_length=300)]
    consequences: list[Annotated[Prose, StringConstraints(strip_whitespace=True, min_length=5, max_length=300)]] = (
        Field(min_length=1, max_length=5))

    @field_validator("decision")
    @classmethod
    def _one_sentence_line(cls, value: str) -> str:
        if "\n" in value:
            raise ValueError("the decision is one line")
        return value.rstrip(".")


class DocsWriteup(PrDescription):
    """docs_pr_description v2: the description plus a changelog line and, when asked for, an ADR draft."""

    changelog: Annotated[Prose, StringConstraints(strip_whitespace=True, min_length=8, max_length=120)]
    adr: AdrDraft | None = None

    @field_validator("changelog")
    @classmethod
    def _changelog_line(cls, value: str) -> str:
        if "\n" in value:
            raise ValueError("the changelog entry is one line")
        if re.search(r"AB#\d|PR #\d|\]\(", value):
            raise ValueError("leave out ticket and PR numbers and links: they are added for you")
        return value.rstrip(".")

    def grounded_changelog(self, ticket: Ticket) -> str | None:
        """The changelog text when it shares a word with the ticket (a small model can drift); else None."""
        return self.changelog if grounded(self.changelog, f"{ticket.title} {ticket.description}") else None


def docs_branch(ticket: Ticket, attempt: int = 1) -> str:
    return f"tp/{ticket.workitem_id}-docs" + (f"-{attempt}" if attempt > 1 else "")


def plan_docs(
    ticket: Ticket, workdir: Path, pr_id: int, default_branch: str, files_changed: list[str],
    written: DocsWriteup | None = None,
) -> list[FileChange]:
    """The documentation edits for a merged change, computed on a working copy of the default branch; the
    model's changelog text and ADR draft where `written` has valid, grounded ones."""
    changes: list[FileChange] = []
    log_path = workdir / changelog.CHANGELOG_PATH
    current = log_path.read_text(encoding="utf-8") if log_path.is_file() else None
    text = written.grounded_changelog(ticket) if written else None
    updated = changelog.add_entry(
        current, changelog.SUBSECTION_FOR[ticket.change_kind], changelog.entry_line(ticket, pr_id, text)
    )
    if updated != current:
        changes.append(FileChange(path=changelog.CHANGELOG_PATH, content=updated))
    readme_path = workdir / readme.README_PATH
    if readme_path.is_file():
        text = readme_path.read_text(encoding="utf-8")
        new_text = _readme(ticket, workdir, text, default_branch, files_changed)
        if new_text != text:
            changes.append(FileChange(path=readme.README_PATH, content=new_text))
    if adr.wants_adr(ticket):
        draft = written.adr if written else None
        _, record = adr.adr_change(ticket, workdir, pr_id, draft.model_dump() if draft else None)
        changes += [record] if record else []
    return changes


def _readme(ticket: Ticket, workdir: Path, text: str, default_branch: str, files_changed: list[str]) -> str:
    """PIPELINE and SECRET_REMEDIATION change how the project is built or run; other kinds leave it alone."""
    ci = template.forge_ci(scm_kind())
    if ticket.change_kind is ChangeKind.PIPELINE and ci.path in files_changed and (workdir / ci.path).is_file():
        command = shlex.join(template.declared_test_command(workdir) or [template.DEFAULT_TEST_COMMAND])
        path = ci.path
        line = (f"Every push and pull request to `{default_branch}` runs [`{path}`]({path}) on {ci.name}: "
                f"it installs the dependencies and runs `{command}`.")
        return readme.ensure_section(text, "Continuous integration", [(path, line)])
    if ticket.change_kind is ChangeKind.SECRET_REMEDIATION:
        items = [(f"`{name}`", f"- `{name}`: read by `{path}`; required, keep it in a secret store.")
                 for name, path in env_vars_in(workdir, files_changed).items()]
        if items:
            intro = "Secrets are read from environment variables, never from the source tree:"
            return readme.ensure_section(text, "Configuration", items, intro=intro)
    return text


def write_up(task: AgentTask, pr_id: int, files_changed: list[str]) -> llm.Answer[DocsWriteup] | None:
    """The model's description, changelog text and (if the ticket asks for one) ADR draft; None without a
    model or a valid answer. Asked before anything is written, so a budget refusal stops the step clean."""
    ticket = task.ticket
    return llm.complete_json(task, "docs.pr_description", DESCRIPTION_PROMPT, {
        "ticket title": ticket.title, "ticket description": ticket.description,
        "acceptance criteria": "\n".join(f"- {c}" for c in ticket.acceptance_criteria) or "(none)",
        "files changed by the merged PR": "\n".join(files_changed) or "(none listed)",
        "ADR requested": "yes" if adr.wants_adr(ticket) else "no",
    }, DocsWriteup, max_tokens=400 if adr.wants_adr(ticket) else 240)


def pr_description(task: AgentTask, pr_id: int, changes: list[FileChange], files_changed: list[str],
                   written: llm.Answer[DocsWriteup] | None = None) -> str:
    """The deterministic line, then the model's paragraph when there is a valid one."""
    ticket = task.ticket
    line = f"Changelog, README and ADR updates for AB#{ticket.workitem_id} after PR #{pr_id}."
    source = " ".join([ticket.title, ticket.description, *files_changed])
    if written is None or not grounded(written.value.description, source, at_least=2):
        return line  # no description, or one about some other change: the deterministic line alone
    return f"{line}\n\n{written.value.description}\n\n_Description written by {written.model}; review it as a draft._"


def run(task: AgentTask) -> DocsResult:
    ticket = task.ticket
    dev = dev_result(task)
    scm = scm_for(ticket)
    main_pr = scm.get_pr(dev.pr_id)
    if main_pr.status != "completed":
        raise AgentError(f"the docs step runs after PR #{dev.pr_id} is merged; it is {main_pr.status}")
    merge_commit = str(task.upstream.get("merge", {}).get("merge_commit") or main_pr.merge_commit or "")
    if not merge_commit:
        raise AgentError(f"the docs step of {ticket.ticket_key} documents the merged commit, but neither the merge "
                         f"step nor PR #{dev.pr_id} names one")
    entry = changelog.entry_line(ticket, dev.pr_id)
    conflict = ""
    for attempt in range(1, MERGE_ATTEMPTS + 1):
        branch = docs_branch(ticket, attempt)
        pr = scm.find_pr(ticket.repo, branch)
        if pr is not None and pr.status == "completed":
            return _result(scm, pr, entry)
        if pr is None or pr.status == "abandoned":
            pr = _build(scm, task, branch, dev.pr_id, merge_commit)
            if pr is None:
                return DocsResult(summary=f"docs for AB#{ticket.workitem_id} are already up to date",
                                  changelog_entry=entry, readme_updated=False)
            _check_docs_change(scm, ticket, pr)
        scm.set_status(pr.pr_id, STATUS_CONTEXT, "succeeded", "documentation only")
        try:
            return _result(scm, scm.merge(pr.pr_id), entry)
        except ScmError as exc:
            if "conflict" not in str(exc).lower():
                raise
            conflict = str(exc)
        log.warning("docs PR #%s conflicts (%s); rebuilding from the default branch", pr.pr_id, conflict)
        if attempt < MERGE_ATTEMPTS:
            note = (f"Superseded: the default branch moved and this PR conflicts with it; rebuilt on "
                    f"`{docs_branch(ticket, attempt + 1)}`.")
            scm.comment(pr.pr_id, note, idempotency_key(ticket, "docs", f"superseded{attempt}"))
    raise AgentError(f"the docs change for AB#{ticket.workitem_id} still conflicts after {MERGE_ATTEMPTS} "
                     f"attempts: {conflict}")


def _build(scm: ScmAdapter, task: AgentTask, branch: str, pr_id: int, merge_commit: str) -> PullRequest | None:
    """Branch from the current default branch, commit the docs edits for what `merge_commit` really changed,
    open the (non-draft) PR; None when the default branch already documents the change."""
    ticket = task.ticket
    default = scm.default_branch(ticket.repo)
    scm.ensure_branch(ticket.repo, branch, default)
    with checked_out(scm, ticket.repo, branch) as workdir:
        files_changed = merged_files(workdir, merge_commit)
        if not files_changed:
            raise AgentError(f"merge commit {merge_commit[:12]} of {ticket.ticket_key} changed no file: there is "
                             "nothing to document, and a CHANGELOG line would claim a change that is not there")
        written = write_up(task, pr_id, files_changed)  # before the first write: a budget refusal leaves nothing
        changes = plan_docs(ticket, workdir, pr_id, default, files_changed, written.value if written else None)
    if not changes and scm.head(ticket.repo, branch) == scm.head(ticket.repo, default):
        return None
    description = pr_description(task, pr_id, changes, files_changed, written)
    if changes:
        scm.commit_files(ticket.repo, branch, changes, f"Document {ticket.title} (AB#{ticket.workitem_id})",
                         idempotency_key(ticket, "docs"))
    return scm.open_pr(ticket.repo, branch, default, f"[#{ticket.workitem_id}] Docs: {ticket.title}",
                       description, draft=False, workitem_id=ticket.workitem_id)


def merged_files(workdir: Path, merge_commit: str) -> list[str]:
    """The files the ticket's merge commit changed on the default branch (its first parent is the branch before
    the merge): the docs describe this, not the plan and not the Dev step's first diff."""
    proc = run_git("diff", "--name-only", "--no-renames", f"{merge_commit}^1", merge_commit, "--", cwd=workdir)
    return sorted(line for line in proc.stdout.splitlines() if line.strip())


def _check_docs_change(scm: ScmAdapter, ticket: Ticket, pr: PullRequest) -> None:
    """The docs PR meets the policy every PR meets: a docs change that the risk tables would not merge on green
    (a touched CI file, a huge diff) is left open for a person instead of merged."""
    stat = diffstat(scm.diff(pr.pr_id))
    risk, reasons = classify_final_diff(RiskClass.R0, stat.all_files, stat.lines, kind=ChangeKind.DOCS)
    if risk.needs_gate:
        raise AgentError(f"docs PR #{pr.pr_id} of {ticket.ticket_key} classifies {risk.value} "
                         f"({'; '.join(reasons)}); it is left open for a person to review")


def _result(scm: ScmAdapter, pr: PullRequest, entry: str) -> DocsResult:
    """Read back from the merged PR's own diff, so a resumed step reports what was actually merged (the
    changelog line as committed, which may be the model's wording of `entry`)."""
    diff = scm.diff(pr.pr_id)
    files = diffstat(diff).all_files
    entry = changelog.committed_entry(diff, entry) or entry
    adr_path = next((path for path in files if path.startswith(f"{adr.ADR_DIR}/")), None)
    readme_updated = readme.README_PATH in files
    return DocsResult(
        summary=f"docs PR #{pr.pr_id} merged: {', '.join(files)}",
        changelog_entry=entry,
        readme_updated=readme_updated,
        adr_path=adr_path,
        docs_pr_id=pr.pr_id,
        merge_commit=pr.merge_commit,
    )
