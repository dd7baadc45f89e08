"""Azure DevOps service-hook deliveries, normalised to `Ticket`.

ADO sends two shapes for one work item: `workitem.created` carries the item itself, `workitem.updated`
carries an *update* (changed fields only) with the full snapshot in `resource.revision`. Both are read
from their snapshot, so the ticket never depends on which fields happened to change. Everything that
makes a delivery unusable raises `DeliveryError` with the exact place and reason, because that text is
what the service-hook history in ADO shows to the person fixing the subscription.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field

from include.contracts.ticket import Ticket
from include.tickets.normalise import (
    DeliveryError,
    RawModel,
    TicketDelivery,
    TrackerItem,
    json_kind,
    to_ticket,
    unique,
    validate,
)

WORKITEM_EVENT_TYPES = ("workitem.created", "workitem.updated")
CLOSED_STATES = frozenset({"closed", "removed", "done"})
"""System.State values (case-insensitive) after which no agent should work the ticket."""

TITLE = "System.Title"
DESCRIPTION = "System.Description"
ACCEPTANCE_CRITERIA = "Microsoft.VSTS.Common.AcceptanceCriteria"
REPRO_STEPS = "Microsoft.VSTS.TCM.ReproSteps"
SYSTEM_INFO = "Microsoft.VSTS.TCM.SystemInfo"
SEVERITY = "Microsoft.VSTS.Common.Severity"
PARENT = "System.Parent"
PARENT_LINK = "System.LinkTypes.Hierarchy-Reverse"
"""A relation of this rel points at the item's parent (`.../_apis/wit/workItems/{id}`)."""
BUG_SECTIONS = (("Repro steps", REPRO_STEPS), ("System info", SYSTEM_INFO))
"""Where a Bug's text lives: the Agile, Scrum and CMMI Bug forms show Repro Steps and System Info, not
Description, so a Bug read from Description alone would reach the agents as its title only."""


class RawLink(RawModel):
    href: str = ""


class RawContainer(RawModel):
    id: str | None = None
    baseUrl: str | None = None


class RawContainers(RawModel):
    collection: RawContainer | None = None
    account: RawContainer | None = None
    project: RawContainer | None = None


class RawWorkItem(RawModel):
    id: int | None = None
    rev: int | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    relations: Any = None  # read leniently by parent_id: a link list is context, not a reason to refuse
    url: str = ""
    links: dict[str, RawLink] = Field(default_factory=dict, alias="_links")


class RawWorkItemUpdate(RawModel):
    id: int | None = None
    workItemId: int | None = None
    rev: int | None = None
    revision: RawWorkItem | None = None
    links: dict[str, RawLink] = Field(default_factory=dict, alias="_links")


class RawEnvelope(RawModel):
    id: str | None = None
    eventType: str | None = None
    resource: Any = None
    resourceContainers: RawContainers | None = None


class AdoDelivery(TicketDelivery):
    """One accepted-for-processing delivery: the dedupe identity (event id, rev) and the ticket it carries,
    plus where in ADO it comes from."""

    organisation: str | None = None
    project: str | None = None
    changed_by: str = ""


def validated_envelope(payload: object, supported_types: tuple[str, ...]) -> RawEnvelope:
    """The delivery's envelope, checked for what every event needs: an object, a supported `eventType`
    (the error lists the supported ones), an event id and a resource object."""
    if not isinstance(payload, dict):
        raise DeliveryError(f"a delivery must be a JSON object, got {json_kind(payload)}")
    envelope = validate(RawEnvelope, payload, "delivery")
    supported = ", ".join(supported_types)
    if not envelope.eventType:
        raise DeliveryError(f"eventType is missing; supported: {supported}")
    if envelope.eventType not in supported_types:
        raise DeliveryError(f"eventType {envelope.eventType!r} is not supported; supported: {supported}")
    if not envelope.id:
        raise DeliveryError("id (the event id) is missing")
    if not isinstance(envelope.resource, dict):
        raise DeliveryError("resource is missing or not an object")
    return envelope


def parse_ado_delivery(payload: object, tenant: str, default_repo: str) -> AdoDelivery:
    """Validate an ADO work-item delivery and normalise it; raise DeliveryError with the reason if unusable."""
    envelope = validated_envelope(payload, WORKITEM_EVENT_TYPES)

    if envelope.eventType == "workitem.created":
        item = validate(RawWorkItem, envelope.resource, "resource")
        where, url = "resource", _link(item.links, "html") or item.url
        workitem_id = item.id
    else:
        update = validate(RawWorkItemUpdate, envelope.resource, "resource")
        if update.revision is None:
            raise DeliveryError(
                "resource.revision is missing: workitem.updated carries the full snapshot there"
            )
        item, where = update.revision, "resource.revision"
        url = _link(item.links, "html") or _link(update.links, "parent") or item.url
        # Some deliveries (and Microsoft's sample) carry workItemId 0; the snapshot's id is the item's.
        workitem_id = update.workItemId or item.id
    if not workitem_id:
        raise DeliveryError(f"{where}.id (the work item id) is missing")
    if item.rev is None:
        raise DeliveryError(f"{where}.rev is missing")
    return AdoDelivery(
        event_id=envelope.id,
        event_type=envelope.eventType,
        workitem_id=workitem_id,
        rev=item.rev,
        ticket=_ticket(item, where, tenant=tenant, workitem_id=workitem_id, url=url, default_repo=default_repo),
        organisation=_organisation(envelope.resourceContainers, url),
        project=field_text(item.fields, "System.TeamProject") or None,
        changed_by=identity(item.fields.get("System.ChangedBy")),
    )


def _ticket(item: RawWorkItem, where: str, *, tenant: str, workitem_id: int, url: str,
            default_repo: str) -> Ticket:
    fields = item.fields
    source_state = field_text(fields, "System.State") or "New"
    return to_ticket(
        TrackerItem(
            source="ado",
            workitem_id=workitem_id,
            rev=item.rev,
            title=field_text(fields, TITLE),
            description=description(fields),
            acceptance_criteria=[_strip_bullet(line) for line in html_lines(field_text(fields, ACCEPTANCE_CRITERIA))],
            tags=parse_tags(field_text(fields, "System.Tags")),
            work_item_type=field_text(fields, "System.WorkItemType") or "Task",
            source_state=source_state,
            closed=source_state.lower() in CLOSED_STATES,
            requested_by=identity(fields.get("System.CreatedBy")),
            url=url,
            changed_at=fields.get("System.ChangedDate"),
            severity=field_text(fields, SEVERITY),
            area_path=field_text(fields, "System.AreaPath"),
            iteration_path=field_text(fields, "System.IterationPath"),
            parent_id=parent_id(item),
        ),
        tenant=tenant, default_repo=default_repo, where=where, title_at=f"{where}.fields[{TITLE!r}]",
    )


def description(fields: dict[str, Any]) -> str:
    """The item's text as plain lines: its Description, then each Bug section that has text, under a heading."""
    lines = html_lines(field_text(fields, DESCRIPTION))
    for heading, name in BUG_SECTIONS:
        if section := html_lines(field_text(fields, name)):
            lines += [f"{heading}:", *section]
    return "\n".join(lines)


def parent_id(item: RawWorkItem) -> int | None:
    """The parent's id: `System.Parent` where ADO sends it, else the hierarchy link among the relations (the
    snapshot of `workitem.updated` carries relations, not always the field). Anything unreadable is no parent:
    a parent is context for the agents, never a reason to refuse the ticket."""
    value = item.fields.get(PARENT)
    if isinstance(value, int | str) and str(value).isdigit() and int(value) > 0:
        return int(value)
    for relation in item.relations if isinstance(item.relations, list) else []:
        if isinstance(relation, dict) and relation.get("rel") == PARENT_LINK:
            tail = urlsplit(str(relation.get("url", ""))).path.rstrip("/").rsplit("/", 1)[-1]
            if tail.isdigit() and int(tail) > 0:
                return int(tail)
    return None


def parse_tags(value: str) -> list[str]:
    """ADO's 'a; b; a' → ['a', 'b']: trimmed, empty ones dropped, first occurrence kept."""
    return unique(value.split(";"))


def html_lines(value: str) -> list[str]:
    """Rich-text HTML as the non-empty plain lines a reader would see (blocks, list items, <br> break)."""
    parser = _TextParser()
    parser.feed(value)
    parser.close()
    return [" ".join(line.split()) for line in "".join(parser.parts).splitlines() if line.strip()]


class _TextParser(HTMLParser):
    _BREAKS = frozenset({"br", "p", "div", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
                         "blockquote", "pre"})
    _HIDDEN = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden:
            self._hidden -= 1
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def _strip_bullet(line: str) -> str:
    """Criteria typed as '- x', '* x', '• x' or '1. x' in plain text keep only their text."""
    head, _, rest = line.partition(" ")
    if rest and (head in ("-", "*", "•") or (head[:-1].isdigit() and head[-1:] in (".", ")"))):
        return rest.strip()
    return line


def identity(value: object) -> str:
    """Identities arrive as 'Name <email>' strings (resourceVersion 1.0) or as identity objects (newer)."""
    if isinstance(value, dict):
        name, unique = value.get("displayName") or "", value.get("uniqueName") or ""
        return f"{name} <{unique}>" if name and unique else str(name or unique)
    return "" if value is None else str(value)


def _organisation(containers: RawContainers | None, item_url: str) -> str | None:
    """The organisation name, from the containers' base URLs when sent, else from the work item's URL."""
    urls = [c.baseUrl for c in (containers.account, containers.collection) if c and c.baseUrl] \
        if containers else []
    return next((org for org in map(organisation_of, (*urls, item_url)) if org), None)


def organisation_of(url: str) -> str | None:
    """The organisation an ADO URL belongs to: dev.azure.com/{org}/... or {org}.visualstudio.com."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.endswith(".visualstudio.com"):
        return host.split(".", 1)[0]
    segments = [s for s in parts.path.split("/") if s]
    if host == "dev.azure.com" and segments:
        return segments[0]
    return None


def _link(links: dict[str, RawLink], name: str) -> str:
    link = links.get(name)
    return link.href if link else ""


def field_text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    return "" if value is None else str(value)
