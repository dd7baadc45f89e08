"""Pipeline: the CI definition on the PR branch, from the one template. A file without the marker line
belongs to the team and is never touched; the step still reports success, since CI is configured."""

from __future__ import annotations

import logging

from include.agents.context import dev_result, idempotency_key, scm_for
from include.agents.playbooks import pipeline as template
from include.agents.workspace import checked_out
from include.contracts import AgentTask, PipelineResult

log = logging.getLogger(__name__)

STATUS_CONTEXT = "ci/pipeline-config"
_MESSAGES = {"created": "Add {path}", "updated": "Update {path} to the current template"}
_DESCRIPTIONS = {
    "created": "{path} added from template v1",
    "updated": "{path} brought up to template v1",
    "unchanged": "{path} is up to date with template v1",
    "kept_user_owned": "{path} is maintained by the team (no Ticketpilot marker); left as is",
}


def run(task: AgentTask) -> PipelineResult:
    ticket = task.ticket
    dev = dev_result(task)
    scm = scm_for(ticket)
    default = scm.default_branch(ticket.repo)
    with checked_out(scm, ticket.repo, dev.branch) as workdir:
        action, change = template.plan(workdir, default)
    path = template.PIPELINE_PATH
    if change is not None:
        message = _MESSAGES[action].format(path=path) + f" (AB#{ticket.workitem_id})"
        head = scm.commit_files(ticket.repo, dev.branch, [change], message, idempotency_key(ticket, "pipeline"))
    else:
        head = scm.head(ticket.repo, dev.branch) or dev.head_commit
    description = _DESCRIPTIONS[action].format(path=path)
    scm.set_status(dev.pr_id, STATUS_CONTEXT, "succeeded", description)
    log.info("PR #%s: %s", dev.pr_id, description)
    return PipelineResult(summary=f"PR #{dev.pr_id}: {description}", path=path, action=action, head_commit=head)
