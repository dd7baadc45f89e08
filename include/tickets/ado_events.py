"""Every ADO service-hook event the ingress accepts, parsed into one typed `HookEvent`.

Work-item snapshots (`workitem.created/updated`) become tickets (see `ado.py`). Three more events feed
tickets that already exist: `workitem.commented` (the comment goes on the ticket's history),
`git.pullrequest.updated` (reviewer votes, which may decide the ticket's gate) and `build.complete` (the
pipeline result of the ticket's branch). Pull requests and builds name no work item we can trust, so they
are tied to a ticket by the branch the agents push: `refs/heads/tp/<work item id>-<slug>`.

Each event also yields its `DeliveryScope`: every ADO organisation and project the payload names, so the
ingress can refuse a delivery from outside the organisation/project the tenant declared.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from include.contracts.gate import GateOutcome
from include.contracts.ticket import ticket_key
from include.tickets.ado import (
    WORKITEM_EVENT_TYPES,
    AdoDelivery,
    DeliveryError,
    RawEnvelope,
    RawModel,
    RawWorkItem,
    field_text,
    html_lines,
    identity,
    organisation_of,
    parse_ado_delivery,
    validate,
    validated_envelope,
)

COMMENTED = "workitem.commented"
PR_UPDATED = "git.pullrequest.updated"
BUILD_COMPLETE = "build.complete"
SUPPORTED_EVENT_TYPES = (*WORKITEM_EVENT_TYPES, COMMENTED, PR_UPDATED, BUILD_COMPLETE)

APPROVE_VOTES = frozenset({10, 5})
"""ADO votes that count as approval: 'approved' and 'approved with suggestions'."""
REJECT_VOTES = frozenset({-10})
"""'Rejected'. A -5 ('waiting for author') asks for changes without deciding, so it is ignored."""

_TICKET_BRANCH = re.compile(r"^refs/heads/tp/(?P<workitem>[1-9][0-9]*)(?:-|$)")
_PR_MERGE_REF = re.compile(r"^refs/pull/(?P<pr>[1-9][0-9]*)/merge$")


class DeliveryScope(BaseModel):
    """The ADO organisations and projects (by name and by id) one delivery names anywhere we look."""

    model_config = ConfigDict(frozen=True)

    organisations: frozenset[str] = frozenset()
    project_names: frozenset[str] = frozenset()
    project_ids: frozenset[str] = frozenset()


class CommentDelivery(BaseModel):
    """A comment on a work item. Only history: comment text is not an identity and never decides a gate."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    ticket_key: str
    workitem_id: int
    rev: int
    author: str
    text: str
    commented_at: datetime | None = None


class ReviewerVote(BaseModel):
    model_config = ConfigDict(frozen=True)

    unique_name: str
    display_name: str = ""
    vote: int


class PullRequestDelivery(BaseModel):
    """A pull request's current reviewer votes; `ticket_key` is None when its branch is not a ticket's."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    pull_request_id: int
    source_branch: str
    status: str
    ticket_key: str | None
    reviewers: tuple[ReviewerVote, ...] = ()


class BuildDelivery(BaseModel):
    """A finished build; `ticket_key` is None when its branch is not a ticket's."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    build_id: int
    branch: str
    ticket_key: str | None
    pull_request_id: int | None = None
    result: str
    build_number: str = ""
    definition: str = ""
    url: str = ""
    finished_at: datetime | None = None


class HookEvent(BaseModel):
    """One parsed delivery: what it says (`body`) and where in ADO it comes from (`scope`)."""

    model_config = ConfigDict(frozen=True)

    event_type: str
    scope: DeliveryScope
    body: AdoDelivery | CommentDelivery | PullRequestDelivery | BuildDelivery


class _RawIdentity(RawModel):
    uniqueName: str = ""
    displayName: str = ""
    vote: int = 0
    isContainer: bool = False


class _RawProject(RawModel):
    id: str | None = None
    name: str | None = None


class _RawRepository(RawModel):
    url: str = ""
    project: _RawProject | None = None


class _RawPullRequest(RawModel):
    pullRequestId: int
    sourceRefName: str = ""
    status: str = ""
    url: str = ""
    repository: _RawRepository | None = None
    reviewers: list[_RawIdentity] = Field(default_factory=list)


class _RawDefinition(RawModel):
    name: str = ""
    project: _RawProject | None = None


class _RawBuild(RawModel):
    id: int
    buildNumber: str = ""
    status: str = ""
    result: str | None = None
    url: str = ""
    finishTime: datetime | None = None
    sourceBranch: str = ""
    sourceGetVersion: str = ""
    triggerInfo: dict[str, Any] = Field(default_factory=dict)
    definition: _RawDefinition | None = None
    project: _RawProject | None = None


def parse_event(payload: object, tenant: str, default_repo: str) -> HookEvent:
    """Validate a delivery of any supported event type; DeliveryError (with the supported list) otherwise."""
    envelope = validated_envelope(payload, SUPPORTED_EVENT_TYPES)
    body: AdoDelivery | CommentDelivery | PullRequestDelivery | BuildDelivery
    if envelope.eventType in WORKITEM_EVENT_TYPES:
        body = parse_ado_delivery(payload, tenant=tenant, default_repo=default_repo)
    elif envelope.eventType == COMMENTED:
        body = _comment(envelope.id, envelope.resource, tenant)
    elif envelope.eventType == PR_UPDATED:
        body = _pull_request(envelope.id, envelope.resource, tenant)
    else:
        body = _build(envelope.id, envelope.resource, tenant)
    return HookEvent(event_type=envelope.eventType, scope=_scope(envelope), body=body)


def ticket_of_branch(tenant: str, ref: str) -> str | None:
    """The ticket key behind an agent branch `refs/heads/tp/<work item>-<slug>`, else None."""
    match = _TICKET_BRANCH.match(ref)
    return ticket_key(tenant, int(match["workitem"])) if match else None


def approver_votes(reviewers: tuple[ReviewerVote, ...],
                   identities: Mapping[str, str]) -> list[tuple[str, GateOutcome]]:
    """(person, outcome) for every deciding vote cast by one of the tenant's approvers.

    `identities` maps an approver's sign-in name, case-folded, to the person recorded for their decision
    (`include.store.roles.vote_identities`). A reviewer counts only when their uniqueName (the sign-in
    e-mail) is one of those names, case aside: a display name is free text anyone can set, so it never
    matches. The person recorded is the tenant's spelling, so an R3 gate's named-approver rule and the
    four-eyes rule see the same string on every channel.
    """
    decided: list[tuple[str, GateOutcome]] = []
    for reviewer in reviewers:
        approver = identities.get(reviewer.unique_name.casefold())
        if approver is None:
            continue
        if reviewer.vote in APPROVE_VOTES:
            decided.append((approver, GateOutcome.APPROVE))
        elif reviewer.vote in REJECT_VOTES:
            decided.append((approver, GateOutcome.REJECT))
    return decided


def scope_mismatch(scope: DeliveryScope, org: str | None, project: str | None) -> str | None:
    """Why a delivery falls outside the tenant's declared organisation/project, or None when it does not.

    A declared project is compared by id when it is a GUID, else by name; ADO names are case-insensitive.
    A delivery that names no organisation (or project) cannot contradict the declaration and passes: the
    hook credentials already authenticate it.
    """
    if org:
        for named in sorted(scope.organisations):
            if named.casefold() != org.casefold():
                return f"the delivery comes from organisation {named!r}, not {org!r}"
    if project:
        declared_by_id = _is_guid(project)
        named_projects = scope.project_ids if declared_by_id else scope.project_names
        for named in sorted(named_projects):
            if named.casefold() != project.casefold():
                return f"the delivery comes from project {named!r}, not {project!r}"
    return None


def _comment(event_id: str, resource: dict[str, Any], tenant: str) -> CommentDelivery:
    item = validate(RawWorkItem, resource, "resource")
    if not item.id:
        raise DeliveryError("resource.id (the work item id) is missing")
    if item.rev is None:
        raise DeliveryError("resource.rev is missing")
    text = "\n".join(html_lines(field_text(item.fields, "System.History")))
    if not text:
        raise DeliveryError("resource.fields['System.History'] (the comment) is missing or empty")
    return CommentDelivery(
        event_id=event_id, ticket_key=ticket_key(tenant, item.id), workitem_id=item.id, rev=item.rev,
        author=identity(item.fields.get("System.ChangedBy")), text=text,
        commented_at=item.fields.get("System.ChangedDate"),
    )


def _pull_request(event_id: str, resource: dict[str, Any], tenant: str) -> PullRequestDelivery:
    pr = validate(_RawPullRequest, resource, "resource")
    return PullRequestDelivery(
        event_id=event_id, pull_request_id=pr.pullRequestId, source_branch=pr.sourceRefName, status=pr.status,
        ticket_key=ticket_of_branch(tenant, pr.sourceRefName),
        reviewers=tuple(ReviewerVote(unique_name=r.uniqueName, display_name=r.displayName, vote=r.vote)
                        for r in pr.reviewers if r.uniqueName and not r.isContainer),
    )


def _build(event_id: str, resource: dict[str, Any], tenant: str) -> BuildDelivery:
    build = validate(_RawBuild, resource, "resource")
    branch = _build_branch(build)
    merge_ref = _PR_MERGE_REF.match(build.sourceBranch)
    pr_number = build.triggerInfo.get("pr.number") or (merge_ref["pr"] if merge_ref else None)
    return BuildDelivery(
        event_id=event_id, build_id=build.id, branch=branch, ticket_key=ticket_of_branch(tenant, branch),
        pull_request_id=int(pr_number) if str(pr_number or "").isdigit() else None,
        # Pipelines builds report status 'completed' and the outcome in `result`; XAML builds (the sample)
        # put the outcome in `status`.
        result=build.result or build.status or "unknown",
        build_number=build.buildNumber, definition=build.definition.name if build.definition else "",
        url=build.url, finished_at=build.finishTime,
    )


def _build_branch(build: _RawBuild) -> str:
    """The branch the build ran for: a PR build's source branch, else `sourceBranch`, else the ref inside
    `sourceGetVersion` ('LG:refs/heads/x:<commit>', the XAML form)."""
    pr_source = build.triggerInfo.get("pr.sourceBranch")
    if isinstance(pr_source, str) and pr_source:
        return pr_source
    if build.sourceBranch:
        return build.sourceBranch
    parts = build.sourceGetVersion.split(":")
    return parts[1] if len(parts) >= 3 and parts[1].startswith("refs/") else ""


def _scope(envelope: RawEnvelope) -> DeliveryScope:
    resource: dict[str, Any] = envelope.resource
    urls: list[str] = []
    names: set[str] = set()
    ids: set[str] = set()
    containers = envelope.resourceContainers
    if containers is not None:
        for container in (containers.collection, containers.account, containers.project):
            if container is not None and container.baseUrl:
                urls.append(container.baseUrl)
        if containers.project is not None and containers.project.id:
            ids.add(containers.project.id)
    for snapshot in (resource, resource.get("revision")):
        if isinstance(snapshot, dict):
            urls.append(_str(snapshot.get("url")))
            fields = snapshot.get("fields")
            if isinstance(fields, dict) and isinstance(fields.get("System.TeamProject"), str):
                names.add(fields["System.TeamProject"])
    owners = [resource.get("project")]
    for container in (resource.get("repository"), resource.get("definition")):
        if isinstance(container, dict):
            urls.append(_str(container.get("url")))
            owners.append(container.get("project"))
    for owner in owners:
        if isinstance(owner, dict):
            names.update(v for v in [_str(owner.get("name"))] if v)
            ids.update(v for v in [_str(owner.get("id"))] if v)
    return DeliveryScope(organisations=frozenset(org for org in map(organisation_of, urls) if org),
                         project_names=frozenset(names), project_ids=frozenset(ids))


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
