"""GitHub `issues` webhook deliveries, normalised to `Ticket` through the shared door (`normalise.py`).

GitHub names the event in `X-GitHub-Event` and gives every event a GUID in `X-GitHub-Delivery`, which a
redelivery keeps; that GUID is the dedupe id. Each `issues` delivery carries the whole issue, so the ticket is
read from that snapshot whatever the action changed:

- `opened`, `edited`, `reopened`, `closed`, `labeled`, `unlabeled`: a ticket revision (a closed issue closes
  the ticket, which cancels its run through the outbox, as ADO's Closed does);
- `deleted` and `transferred`: the issue left the repository, so its ticket is closed (ADO's Removed);
- any other action, and any other event: ignored (200, with the reason); `ping` answers with a note.

GitHub counts no revisions, so the rev is `issue.updated_at` in epoch seconds: a later change always has a
larger rev, and an older snapshot arriving late never overwrites a newer one. Issue numbers are per
repository, so the delivery's `origin` is the repository id (stable across renames).
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

ISSUES = "issues"
PING = "ping"
TICKET_ACTIONS = frozenset({"opened", "edited", "reopened", "closed", "labeled", "unlabeled"})
LEAVING_ACTIONS = frozenset({"deleted", "transferred"})
"""Actions after which the issue is no longer in the repository: its ticket is closed."""


class _Named(RawModel):
    name: str = ""


class _User(RawModel):
    login: str = ""


class _Issue(RawModel):
    number: int = Field(gt=0)
    title: str | None = None
    body: str | None = None
    state: str = "open"
    labels: list[_Named] = Field(default_factory=list)
    user: _User | None = None
    html_url: str = ""
    updated_at: str
    type: _Named | None = None


class _Repository(RawModel):
    id: int
    name: str
    full_name: str


class _IssuesEvent(RawModel):
    action: str
    issue: _Issue
    repository: _Repository


class _Account(RawModel):
    login: str = ""


class _Ping(RawModel):
    zen: str = ""
    hook_id: int | None = None
    repository: _Repository | None = None
    organization: _Account | None = None


def parse_github_event(event: str | None, delivery_id: str | None, payload: object, *,
                       tenant: str) -> TrackerEvent:
    """Validate a GitHub webhook delivery and normalise it; DeliveryError with the reason if unusable."""
    if not event:
        raise DeliveryError("the X-GitHub-Event header is missing")
    if not isinstance(payload, dict):
        raise DeliveryError(f"a delivery must be a JSON object, got {json_kind(payload)}")
    if event == PING:
        ping = validate(_Ping, payload, "ping")
        scope = ping.repository.full_name if ping.repository else ping.organization.login if ping.organization \
            else None
        return TrackerEvent(body=Ignored(event_type=PING, reason=f"pong: hook {ping.hook_id} reached Ticketpilot; "
                                                                  "issues events become tickets"), scope=scope)
    if event != ISSUES:
        return TrackerEvent(body=Ignored(event_type=event, reason=f"event {event!r} is not used; only 'issues' "
                                                                  "events become tickets"))
    action = payload.get("action")
    if not isinstance(action, str) or not action:
        raise DeliveryError("action is missing")
    event_type = f"{ISSUES}.{action}"
    if action not in TICKET_ACTIONS | LEAVING_ACTIONS:
        return TrackerEvent(body=Ignored(event_type=event_type, reason=f"action {action!r} does not change what "
                                         f"the ticket says; used: {', '.join(sorted(TICKET_ACTIONS))}"))
    if not delivery_id:
        raise DeliveryError("the X-GitHub-Delivery header (the delivery's id) is missing")
    hook = validate(_IssuesEvent, payload, "delivery")
    issue = hook.issue
    rev, changed_at = timestamp_rev(issue.updated_at, "issue.updated_at")
    description, criteria = split_criteria(issue.body or "")
    ticket = to_ticket(
        TrackerItem(
            source="github",
            workitem_id=issue.number,
            rev=rev,
            title=issue.title or "",
            description=description,
            acceptance_criteria=criteria,
            tags=unique([label.name for label in issue.labels]),
            work_item_type=(issue.type.name if issue.type else "") or "Issue",
            source_state=action if action in LEAVING_ACTIONS else issue.state,
            closed=action in LEAVING_ACTIONS or issue.state.lower() == "closed",
            requested_by=issue.user.login if issue.user else "",
            url=issue.html_url,
            changed_at=changed_at,
        ),
        tenant=tenant, default_repo=hook.repository.name, where="issue", title_at="issue.title",
    )
    delivery = TicketDelivery(event_id=delivery_id, event_type=f"github.{event_type}", workitem_id=issue.number,
                              rev=rev, ticket=ticket, origin=f"github:{hook.repository.id}", same_rev_replaces=True)
    return TrackerEvent(body=delivery, scope=hook.repository.full_name)
