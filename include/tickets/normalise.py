"""The door every ticket source goes through: one item of an issue tracker in, one `Ticket` out.

Each source (ADO work items, GitHub issues, GitLab issues) reads its own payload into a `TrackerItem`; from
there one function decides title, repository, change kind and risk, so a ticket means the same whichever
tracker it came from. A parsed delivery is a `TicketDelivery`, the one shape `accept_delivery` stores.

Everything that makes a delivery unusable raises `DeliveryError` with the exact place and reason: that text
is what the tracker's delivery log shows to the person fixing the hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from include.contracts.ticket import Ticket, TicketState
from include.policies.risk import classify

REPO_TAG_PREFIX = "repo:"
"""A tag (ADO) or label (GitHub, GitLab) `repo:<name>` sends the ticket's work to repository <name>."""

M = TypeVar("M", bound=BaseModel)


class DeliveryError(ValueError):
    """The delivery cannot become a ticket; the message says where and why."""


class RawModel(BaseModel):
    """Trackers add fields over time: keep what we read typed (in the tracker's spelling), let the rest through."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class TicketDelivery(BaseModel):
    """One delivery that carries a ticket revision: the dedupe identity (event id, rev) and the ticket.

    `origin` names the tracker container the item lives in (None for ADO, whose work item ids are unique in
    the organisation; `github:<repository id>` or `gitlab:<project id>` where item numbers are per
    repository), so two items that share a number never share a ticket. `same_rev_replaces` is set by sources
    whose rev is a timestamp in whole seconds: of two changes in one second the later delivery wins.
    """

    model_config = ConfigDict(frozen=True)

    event_id: str
    event_type: str
    workitem_id: int
    rev: int
    ticket: Ticket
    origin: str | None = None
    same_rev_replaces: bool = False


class Ignored(BaseModel):
    """A signed delivery the hook answers 200 without storing anything (pings, events we do not use)."""

    model_config = ConfigDict(frozen=True)

    event_type: str
    reason: str


class TrackerEvent(BaseModel):
    """A parsed GitHub or GitLab delivery: what it carries, and the repository or project path it comes from
    (`owner/repo`, `group/subgroup/project`), which the hook checks against the tenant's declaration."""

    model_config = ConfigDict(frozen=True)

    body: TicketDelivery | Ignored
    scope: str | None = None


@dataclass(frozen=True)
class TrackerItem:
    """What a source read from its payload, before any decision about it. `changed_at` is passed to the
    ticket as the source sent it (the contract parses it)."""

    source: str
    workitem_id: int
    rev: int
    title: str
    description: str
    acceptance_criteria: list[str]
    tags: list[str]
    work_item_type: str
    source_state: str
    closed: bool
    requested_by: str = ""
    url: str = ""
    changed_at: Any = None
    severity: str = ""
    area_path: str = ""
    iteration_path: str = ""
    parent_id: int | None = None


def to_ticket(item: TrackerItem, *, tenant: str, default_repo: str, where: str, title_at: str) -> Ticket:
    """The ticket an item makes: repository from a `repo:` tag (else `default_repo`), change kind and risk
    from the text (`include.policies.risk.classify`). `where` and `title_at` name the payload's places in
    errors."""
    title = item.title.strip()
    if not title:
        raise DeliveryError(f"{title_at} is missing or empty")
    change_kind, risk_class = classify(title, item.description, item.tags, item.work_item_type, tenant=tenant)
    try:
        return Ticket(
            tenant=tenant,
            workitem_id=item.workitem_id,
            rev=item.rev,
            title=title,
            description=item.description,
            acceptance_criteria=item.acceptance_criteria,
            work_item_type=item.work_item_type,
            source_state=item.source_state,
            state=TicketState.CLOSED if item.closed else TicketState.OPEN,
            tags=item.tags,
            repo=repo_of(item.tags, default_repo),
            change_kind=change_kind,
            risk_class=risk_class,
            requested_by=item.requested_by,
            url=item.url,
            source=item.source,
            changed_at=item.changed_at,
            severity=item.severity,
            area_path=item.area_path,
            iteration_path=item.iteration_path,
            parent_id=item.parent_id,
        )
    except ValidationError as exc:
        raise DeliveryError(f"{where} does not make a valid ticket: {first_error(exc)}") from exc


def repo_of(tags: list[str], default_repo: str) -> str:
    """The repository named by the first non-empty `repo:<name>` tag, else `default_repo`."""
    for tag in tags:
        if tag.lower().startswith(REPO_TAG_PREFIX) and tag[len(REPO_TAG_PREFIX):].strip():
            return tag[len(REPO_TAG_PREFIX):].strip()
    return default_repo


def unique(values: list[str]) -> list[str]:
    """Trimmed, empty ones dropped, first occurrence kept: labels and tags as a ticket lists them."""
    return list(dict.fromkeys(value.strip() for value in values if value.strip()))


def timestamp_rev(value: str, where: str) -> tuple[int, datetime]:
    """A revision from an `updated_at` timestamp: its epoch seconds (and the parsed time).

    Issue trackers other than ADO count no revisions, but they stamp every change; the seconds since the
    epoch only grow, so an older snapshot never overwrites a newer one. Accepts ISO 8601 (GitHub, GitLab's
    newer payloads) and GitLab's older 'YYYY-MM-DD HH:MM:SS UTC'; a time without zone is UTC.
    """
    text = value.strip()
    if text.endswith(" UTC"):
        text = text[: -len(" UTC")] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise DeliveryError(f"{where} {value!r} is not a timestamp") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    seconds = int(parsed.timestamp())
    if seconds < 1:
        raise DeliveryError(f"{where} {value!r} lies before 1970")
    return seconds, parsed


def outside_scope(path: str, declared: str) -> bool:
    """Whether `path` (owner/repo, group/subgroup/project) lies outside the tenant's `declared` owner or
    namespace: equal to it, or below it, case aside, is inside."""
    inside, prefix = path.casefold(), declared.strip("/").casefold()
    return not (inside == prefix or inside.startswith(prefix + "/"))


def validate(model: type[M], data: dict[str, Any], where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise DeliveryError(f"{where}: {first_error(exc)}") from exc


def first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"])
    return f"{location}: {error['msg']}" if location else error["msg"]


def json_kind(value: object) -> str:
    names = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
