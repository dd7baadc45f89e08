"""Pipeline: the tenant's forge's CI file on the PR branch (Azure Pipelines, GitHub Actions or GitLab CI),
derived from how the repository builds. It is added or updated when the ticket asks for CI, or when the
repository has no CI for its forge; otherwise the step changes nothing and says so. A file without the marker
line belongs to the team and is never touched. Where the repository has none but another open ticket asks for
CI on it, that ticket adds it: both branches would add the same file, and whichever merged second would find
its change already on main (the CI ticket closed as "already landed" when a bump happened to merge first).
The status is named for what ran: the CI configuration, not a build (the forge's own CI reports builds)."""

from __future__ import annotations

import logging

from include.agents.ci import build_plan
from include.agents.context import dev_result, idempotency_key, scm_for, scm_kind
from include.agents.playbooks import pipeline as template
from include.agents.workspace import checked_out
from include.contracts import AgentTask, ChangeKind, PipelineResult, Ticket
from include.scm import ScmAdapter
from include.settings import get_settings
from include.store.db import connect
from include.store.tickets import open_ci_tickets

log = logging.getLogger(__name__)

STATUS_CONTEXT = "ticketpilot/ci-config"
_MESSAGES = {"created": "Add {name} CI ({path})", "updated": "Update {path} to how the repository builds"}


def run(task: AgentTask) -> PipelineResult:
    ticket = task.ticket
    dev = dev_result(task)
    scm = scm_for(ticket)
    forge = scm_kind()
    ci = template.forge_ci(forge)
    asked = ticket.change_kind is ChangeKind.PIPELINE
    default = scm.default_branch(ticket.repo)
    with checked_out(scm, ticket.repo, dev.branch) as workdir:
        action, change = template.plan(workdir, default, forge, asked=asked)
        existing = template.existing_ci(workdir, forge)
        build = build_plan(workdir).summary()
    owner = ci_ticket_in_flight(scm, ticket) if action == "created" and not asked else None
    if owner is not None:
        action, change = "left_to_ticket", None
    path = ci.path if action != "kept_existing" else existing[0]
    adder = f"{owner.ticket_key} ({owner.title})" if owner else ""
    descriptions = {
        "created": f"{path} added for {ci.name}: {build}",
        "updated": f"{path} brought up to how the repository builds: {build}",
        "unchanged": f"{path} is up to date with how the repository builds",
        "kept_user_owned": f"{path} is maintained by the team (no Ticketpilot marker); left as is",
        "kept_existing": f"the ticket does not ask for CI and the repository has {ci.name} "
                         f"({', '.join(existing)}); left as is",
        "left_to_ticket": f"the repository has no {ci.name} yet and {adder} adds {path}; "
                          "this PR leaves CI to that ticket",
    }
    if change is not None:
        message = _MESSAGES[action].format(name=ci.name, path=path) + f" (AB#{ticket.workitem_id})\n\n{build}"
        head = scm.commit_files(ticket.repo, dev.branch, [change], message, idempotency_key(ticket, "pipeline"))
    else:
        head = scm.head(ticket.repo, dev.branch) or dev.head_commit
    description = descriptions[action]
    scm.set_status(dev.pr_id, STATUS_CONTEXT, "succeeded", description[:200])
    log.info("PR #%s: %s", dev.pr_id, description)
    return PipelineResult(summary=f"PR #{dev.pr_id}: {description}", path=path, action=action, head_commit=head,
                          ci_ticket=owner.ticket_key if owner else None)


def ci_ticket_in_flight(scm: ScmAdapter, ticket: Ticket) -> Ticket | None:
    """The oldest open ticket that asks for CI on the same repository and has not ended: no PR yet (it is still
    being worked) or an active one. None without a platform database (a pod that has none adds CI itself)."""
    db_url = get_settings().db_url
    if not db_url:
        return None
    with connect(db_url, autocommit=True) as conn:
        candidates = open_ci_tickets(conn, ticket.tenant, ticket.repo, excluding=ticket.ticket_key)
    for candidate in candidates:
        pr = scm.find_pr(ticket.repo, candidate.branch)
        if pr is None or pr.status == "active":
            return candidate
    return None
