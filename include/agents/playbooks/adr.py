"""Architecture decision records, written only when a ticket asks for a decision (tag `adr`, or a title
starting with "Decide"/"ADR"): context, decision and consequences come from the ticket's own words."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from include.contracts import Ticket
from include.scm import FileChange

ADR_DIR = "docs/adr"
_NUMBERED = re.compile(r"^(?P<number>\d{4})-(?P<slug>.+)\.md$")
_DECISION_PREFIX = re.compile(r"^(adr\b[:\s-]*|decide\b[:\s-]*(on\s+|to\s+|whether\s+)?)", re.I)


def wants_adr(ticket: Ticket) -> bool:
    return "adr" in {tag.lower() for tag in ticket.tags} or bool(re.match(r"^(decide|adr)\b", ticket.title, re.I))


def adr_change(ticket: Ticket, workdir: Path, pr_id: int,
               draft: dict[str, Any] | None = None) -> tuple[str, FileChange | None]:
    """(path, change): the next free number for a new record; the existing path and no change when a
    record for this ticket's slug is already there (a rerun). `draft` (context, decision, consequences) is
    the docs model's wording; without it the record is made of the ticket's own words."""
    folder = workdir / ADR_DIR
    existing = {m["slug"]: m["number"] for p in folder.glob("*.md") if (m := _NUMBERED.match(p.name))}
    if ticket.slug in existing:
        return f"{ADR_DIR}/{existing[ticket.slug]}-{ticket.slug}.md", None
    number = f"{max(map(int, existing.values()), default=0) + 1:04d}"
    path = f"{ADR_DIR}/{number}-{ticket.slug}.md"
    return path, FileChange(path=path, content=render(ticket, number, pr_id, draft))


def render(ticket: Ticket, number: str, pr_id: int, draft: dict[str, Any] | None = None) -> str:
    decision = _DECISION_PREFIX.sub("", ticket.title).strip().rstrip(".")
    decision = decision[:1].upper() + decision[1:]
    context = ticket.description.strip() or "The ticket gives no further context."
    consequences = "\n".join(f"- {item}" for item in ticket.acceptance_criteria) or (
        "- The ticket lists no acceptance criteria; consequences follow from the decision above."
    )
    status = "Accepted"
    if draft:  # the docs model's draft: the title stays the ticket's, the record says who wrote the body
        context, consequences = draft["context"], "\n".join(f"- {item}" for item in draft["consequences"])
        decision_text = draft["decision"]
        status = "Accepted (context, decision and consequences drafted by a model from the ticket)"
    else:
        decision_text = decision
    source = f"AB#{ticket.workitem_id}" + (f" ({ticket.url})" if ticket.url else "")
    return (
        f"# {int(number)}. {decision}\n\n"
        f"- Status: {status}\n- Ticket: {source}\n- Change: PR #{pr_id}\n\n"
        f"## Context\n\n{context}\n\n"
        f"## Decision\n\n{decision_text}.\n\n"
        f"## Consequences\n\n{consequences}\n"
    )
