"""What a newer revision of a ticket asks of its DAG: the outbox kind written with the revision.

Decided at the door, in the same transaction as the ticket row, from the stored revision and the new one,
so every kind is written at most once per (ticket, rev, kind). Whether a run exists, and what to do to it,
is the spawner's business (`include.spawner.plans`): the ingress never calls Airflow.
"""

from __future__ import annotations

from enum import StrEnum

from include.contracts.ticket import Ticket, TicketState


class OutboxKind(StrEnum):
    SPAWN = "spawn"
    """Start the ticket's work: a new open ticket, or one reopened after being closed."""
    REPLAN = "replan"
    """What the agents work from (title, description, acceptance criteria) changed on an open ticket."""
    CANCEL = "cancel"
    """The work item left the open states (Closed, Removed, Done): stop whatever still runs."""


def planning_input(ticket: Ticket) -> tuple[str, str, tuple[str, ...]]:
    """The fields the agents plan from. Tags, state reasons, assignees and the like do not re-plan."""
    return ticket.title, ticket.description, tuple(ticket.acceptance_criteria)


def follow_up(previous: Ticket | None, current: Ticket) -> OutboxKind | None:
    """The outbox kind `current` calls for, given the revision stored before it (None: a new ticket).

    Only called when `current` was written, i.e. is newer than `previous`.
    """
    is_open = current.state is TicketState.OPEN
    if previous is None:
        return OutboxKind.SPAWN if is_open else None
    was_open = previous.state is TicketState.OPEN
    if was_open and not is_open:
        return OutboxKind.CANCEL
    if not was_open and is_open:
        return OutboxKind.SPAWN
    if is_open and planning_input(previous) != planning_input(current):
        return OutboxKind.REPLAN
    return None
