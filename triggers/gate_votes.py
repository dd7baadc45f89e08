"""Reading an ado tenant's gate decisions from its approvers' votes on the ticket's PR.

The shared gate waiter reads all its waiting gates' votes in one round per interval, batched per Azure DevOps
project: one client (one credential lookup, one HTTP connection pool) per Airflow connection, and one listing
of the project's active pull requests, which carry their reviewers' votes, however many gates wait there
(`AdoClient.active_pull_requests`, a call per 100 PRs). Only a waiting PR that is no longer active is read on
its own. The `git.pullrequest.updated` service hook records the same votes without any polling.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import TypedDict

from hooks.ado import AzureDevOpsHook
from include.scm.ado.client import AdoClient
from include.scm.ado.models import Reviewer
from include.store.db import connect
from include.store.roles import vote_identities
from include.store.tickets import record_ado_decisions, tenant_of
from include.tickets.ado_events import ReviewerVote, approver_votes

log = logging.getLogger("ticketpilot.triggers.gate")


class AdoVotes(TypedDict):
    """Where an ado tenant's gate also reads decisions: the ticket PR's reviewer votes in Azure DevOps."""

    azure_devops_conn_id: str
    repo: str
    pr_id: int
    approvers: list[str]


def pull_ado_votes(client: AdoClient, votes: AdoVotes, ticket_key: str) -> int:
    """Read the PR's reviewers and record their deciding votes (`record_votes`); the sensor's poke path."""
    return record_votes(votes, ticket_key, client.list_reviewers(votes["repo"], votes["pr_id"]))


def record_votes(votes: AdoVotes, ticket_key: str, reviewers: list[Reviewer]) -> int:
    """Record the deciding votes of the tenant's approvers on the PR as gate decisions (source 'ado');
    the same rule and store as the `git.pullrequest.updated` hook path, so a lost hook delays nothing and a
    vote seen both ways counts once. Returns the number of new decisions."""
    cast = tuple(ReviewerVote(unique_name=r.unique_name, display_name=r.display_name, vote=r.vote)
                 for r in reviewers if r.unique_name and not r.is_container)
    with connect() as conn:
        decided = approver_votes(cast, vote_identities(conn, tenant_of(conn, ticket_key), votes["approvers"]))
        return record_ado_decisions(conn, ticket_key, votes["pr_id"], decided) if decided else 0


def pull_votes_by_connection(
    waiting: Mapping[str, AdoVotes], clients: dict[str, AdoClient],
    open_client: Callable[[str], AdoClient] = lambda conn_id: AzureDevOpsHook(conn_id).get_conn(),
) -> dict[str, str]:
    """One round over every waiting ado gate (`ticket_key` -> its votes), grouped by Airflow connection, one
    listing of active PRs per connection; `clients` keeps each connection's client between rounds. Returns,
    per connection that cannot be opened (missing or malformed), why: its gates cannot be decided by votes and
    should say so. A failed read is logged and retried next round."""
    by_conn: dict[str, list[tuple[str, AdoVotes]]] = defaultdict(list)
    for ticket_key, votes in waiting.items():
        by_conn[votes["azure_devops_conn_id"]].append((ticket_key, votes))
    broken: dict[str, str] = {}
    for conn_id, gates in by_conn.items():
        if conn_id not in clients:
            try:
                clients[conn_id] = open_client(conn_id)
            except Exception as exc:  # the connection's configuration, not a passing network error
                broken[conn_id] = f"{type(exc).__name__}: {exc}"
                continue
        client = clients[conn_id]
        try:
            active = {pr.pull_request_id: pr.reviewers for pr in client.active_pull_requests()}
        except Exception as exc:  # the project's listing failing must not stop other connections
            log.warning("listing active PRs through %s failed, retrying next round: %s", conn_id, exc)
            continue
        for ticket_key, votes in gates:
            try:
                reviewers = active.get(votes["pr_id"])
                if reviewers is None:  # completed or abandoned meanwhile: its last votes still count
                    reviewers = client.list_reviewers(votes["repo"], votes["pr_id"])
                record_votes(votes, ticket_key, reviewers)
            except Exception as exc:  # one PR's read failing must not stop the others
                log.warning("reading ADO votes of %s (PR %s) failed, retrying next round: %s",
                            ticket_key, votes["pr_id"], exc)
    return broken
