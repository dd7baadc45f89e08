"""GitLab issue hooks (`X-Gitlab-Event: Issue Hook`), normalised to `Ticket` through the shared door.

Every issue hook carries the whole issue in `object_attributes`, so the ticket is read from that snapshot for
each action (`open`, `update`, `close`, `reopen`; the UI's "Test" delivery sends none and is read the same way).
Other hooks, and work items that are not issues (tasks, epics, incidents arrive as `object_kind: work_item`),
are ignored with the reason. Confidential issues come as 'Confidential Issue Hook' and are ignored too: their
text is not meant to leave the project.

The dedupe id is `Idempotency-Key` (the same on every retry of one delivery, GitLab 17.4+), else
`X-Gitlab-Event-UUID`. GitLab counts no revisions, so the rev is `object_attributes.updated_at` in epoch
seconds. Issue numbers (`iid`) are per project, so the delivery's `origin` is the project id.

GitLab names only the acting user (`user`), not the issue's author: `requested_by` is the author's name when
they are the actor, else `GitLab user <author_id>`; both name the same person.
"""

from __future__ import annotations

from pydantic import Field

from include.tickets.markdown import split_criteria
from include.tickets.normalise import (
    DeliveryError,
    Ignored,
    RawModel,
    TicketDelivery,
    TrackerEvent,
    TrackerItem,
    json_kind,
    timestamp_rev,
    to_ticket,
    unique,
    validate,
)

ISSUE_HOOK = "Issue Hook"
TICKET_ACTIONS = frozenset({"open", "update", "close", "reopen"})


class _Label(RawModel):
    title: str = ""


class _User(RawModel):
    id: int | None = None
    name: str = ""
    username: str = ""


class _Project(RawModel):
    id: int
    path_with_namespace: str = Field(min_length=1)


class _Issue(RawModel):
    iid: int = Field(gt=0)
    title: str | None = None
    description: str | None = None
    state: str = "opened"
    action: str | None = None
    url: str = ""
    updated_at: str
    type: str | None = None
    author_id: int | None = None
    labels: list[_Label] | None = None


class _IssueHook(RawModel):
    object_kind: str
    user: _User | None = None
    project: _Project
    object_attributes: _Issue
    labels: list[_Label] | None = None


def parse_gitlab_event(event: str | None, event_id: str | None, payload: object, *, tenant: str) -> TrackerEvent:
    """Validate a GitLab hook delivery and normalise it; DeliveryError with the reason if unusable.
    `event_id` is the delivery's Idempotency-Key, else its X-Gitlab-Event-UUID."""
    if not event:
        raise DeliveryError("the X-Gitlab-Event header is missing")
    if event != ISSUE_HOOK:
        return TrackerEvent(body=Ignored(event_type=event, reason=f"{event!r} is not used; only "
                                                                  f"{ISSUE_HOOK!r} deliveries become tickets"))
    if not isinstance(payload, dict):
        raise DeliveryError(f"a delivery must be a JSON object, got {json_kind(payload)}")
    kind = payload.get("object_kind")
    if not isinstance(kind, str) or not kind:
        raise DeliveryError("object_kind is missing")
    if kind != "issue":
        return TrackerEvent(body=Ignored(event_type=f"issue_hook.{kind}",
                                         reason=f"object_kind {kind!r} is not used; only issues become tickets"))
    attributes = payload.get("object_attributes")
    action = attributes.get("action") if isinstance(attributes, dict) else None
    if action is not None and action not in TICKET_ACTIONS:
        return TrackerEvent(body=Ignored(event_type=f"issue.{action}", reason=f"action {action!r} is not used; "
                                         f"used: {', '.join(sorted(TICKET_ACTIONS))}"))
    if not event_id:
        raise DeliveryError("neither an Idempotency-Key nor an X-Gitlab-Event-UUID header names the delivery")
    hook = validate(_IssueHook, payload, "delivery")
    issue = hook.object_attributes
    rev, changed_at = timestamp_rev(issue.updated_at, "object_attributes.updated_at")
    description, criteria = split_criteria(issue.description or "")
    labels = hook.labels if hook.labels is not None else issue.labels or []
    project = hook.project.path_with_namespace
    ticket = to_ticket(
        TrackerItem(
            source="gitlab",
            workitem_id=issue.iid,
            rev=rev,
            title=issue.title or "",
            description=description,
            acceptance_criteria=criteria,
            tags=unique([label.title for label in labels]),
            work_item_type=issue.type or "Issue",
            source_state=issue.state,
            closed=issue.state.lower() == "closed",
            requested_by=_author(hook.user, issue.author_id),
            url=issue.url,
            changed_at=changed_at,
        ),
        tenant=tenant, default_repo=project.rsplit("/", 1)[-1], where="object_attributes",
        title_at="object_attributes.title",
    )
    delivery = TicketDelivery(event_id=event_id, event_type=f"gitlab.issue.{action or 'snapshot'}",
                              workitem_id=issue.iid, rev=rev, ticket=ticket, origin=f"gitlab:{hook.project.id}",
                              same_rev_replaces=True)
    return TrackerEvent(body=delivery, scope=project)


def _author(user: _User | None, author_id: int | None) -> str:
    if user is not None and user.id is not None and user.id == author_id and (user.name or user.username):
        return f"{user.name} ({user.username})" if user.name and user.username else user.name or user.username
    return f"GitLab user {author_id}" if author_id is not None else ""
