"""Small text helpers the playbooks share."""

from __future__ import annotations

from include.contracts import Ticket


def ticket_text(ticket: Ticket) -> str:
    """Title first, then description and criteria (plain text since the ingress normalised them):
    playbooks look for what to change in that order."""
    return "\n".join([ticket.title, ticket.description, *ticket.acceptance_criteria])


def insert_padded(lines: list[str], at: int, new: list[str]) -> None:
    """Insert `new` at `at` with a blank line on each side where the neighbour is text (Markdown blocks)."""
    before = [""] if at > 0 and lines[at - 1].strip() else []
    after = [""] if at < len(lines) and lines[at].strip() else []
    lines[at:at] = [*before, *new, *after]
