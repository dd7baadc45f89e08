"""The ticket store: the ingress write path and the DAG factory's read path.

`accept_delivery` is the only durable step between a tracker (ADO, GitHub, GitLab) and the spawner. It runs
as one transaction so a delivery is either fully recorded (dedupe row, ticket, outbox row, notification) or
not at all, and the tracker's retry can safely repeat it. The spawner learns about work from the outbox;
NOTIFY only wakes it early. The outbox kind follows from the stored revision and the new one
(`include.tickets.revisions`): spawn a new or reopened ticket, replan one whose planning input changed, cancel
one that was closed. A ticket belongs to one item: a delivery of an item from another origin (another
repository whose issue has the same number) is refused with `TicketConflict`, never merged into it.

The other events (comments, pull-request votes, builds) attach to a ticket that exists; each is deduped on
the same (tenant, event id, rev) key as work items, with rev 0 for events that carry no work-item revision.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict

from include.contracts.gate import GateDecision, GateOutcome
from include.contracts.ticket import Ticket, TicketState
from include.policies.risk import injection_rules
from include.policies.version import policy_version
from include.store import audit, gates, roles
from include.tickets.ado_events import BuildDelivery, CommentDelivery, PullRequestDelivery, approver_votes
from include.tickets.normalise import TicketDelivery
from include.tickets.revisions import follow_up

OUTBOX_CHANNEL = "ticketpilot_outbox"
"""NOTIFY channel; the payload is the new outbox row's id."""


class Accepted(BaseModel):
    """What the hook answers: which ticket/DAG the delivery feeds and whether it had been seen before."""

    model_config = ConfigDict(frozen=True)

    ticket_key: str
    dag_id: str
    duplicate: bool
    rev: int


class TicketConflict(Exception):
    """The delivery's item is not the one its ticket was made from (same number, other repository or tracker)."""


def accept_delivery(conn: psycopg.Connection, delivery: TicketDelivery) -> Accepted:
    """Record a delivery exactly once; create or advance its ticket; queue what the new revision asks for.
    Raises TicketConflict, storing nothing, when the ticket holds an item from another origin."""
    ticket = delivery.ticket
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        if not _first_delivery(cur, ticket.tenant, delivery.event_id, delivery.rev, ticket.ticket_key,
                               delivery.event_type):
            stored = cur.execute(
                "SELECT d.ticket_key, t.dag_id, d.rev FROM ticketpilot.deliveries d "
                "JOIN ticketpilot.tickets t USING (ticket_key) "
                "WHERE d.tenant_id = %s AND d.event_id = %s AND d.rev = %s",
                (ticket.tenant, delivery.event_id, delivery.rev),
            ).fetchone()
            return Accepted(ticket_key=stored["ticket_key"], dag_id=stored["dag_id"], duplicate=True,
                            rev=stored["rev"])

        # Serialise deliveries of one ticket, so the revision read here is the one the upsert replaces,
        # even when two deliveries race to create the ticket.
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (ticket.ticket_key,))
        previous = cur.execute("SELECT ticket, origin FROM ticketpilot.tickets WHERE ticket_key = %s",
                               (ticket.ticket_key,)).fetchone()
        if previous is not None and previous["origin"] != delivery.origin:
            raise TicketConflict(_conflict(ticket, Ticket.model_validate(previous["ticket"])))
        closed = ticket.state is TicketState.CLOSED
        # The WHERE makes the upsert monotonic: trackers may deliver revisions out of order, the newest wins.
        # Where the rev is a timestamp in whole seconds, of two changes in one second the later delivery wins.
        written = cur.execute(
            "INSERT INTO ticketpilot.tickets (ticket_key, tenant_id, workitem_id, rev, dag_id, state, ticket, "
            "closed_at, origin) VALUES (%s, %s, %s, %s, %s, %s, %s, CASE WHEN %s THEN now() END, %s) "
            "ON CONFLICT (ticket_key) DO UPDATE SET rev = EXCLUDED.rev, state = EXCLUDED.state, "
            "ticket = EXCLUDED.ticket, updated_at = now(), "
            "closed_at = CASE WHEN EXCLUDED.state = 'closed' THEN COALESCE(tickets.closed_at, now()) END "
            "WHERE tickets.rev < EXCLUDED.rev OR (%s AND tickets.rev = EXCLUDED.rev) "
            "RETURNING rev",
            (ticket.ticket_key, ticket.tenant, ticket.workitem_id, ticket.rev, ticket.dag_id, ticket.state.value,
             Jsonb(ticket.model_dump(mode="json")), closed, delivery.origin, delivery.same_rev_replaces),
        ).fetchone()
        kind = None
        if written is not None:
            audit.append(cur.connection, actor="ticketpilot", action="policy.classified", subject=ticket.ticket_key,
                         tenant=ticket.tenant,
                         details={"rev": ticket.rev, "change_kind": ticket.change_kind.value,
                                  "risk_class": ticket.risk_class.value, "policy_version": policy_version(),
                                  "injection": injection_rules(f"{ticket.title}\n{ticket.description}")})
            kind = follow_up(Ticket.model_validate(previous["ticket"]) if previous else None, ticket)
        if kind is not None:
            queued = cur.execute(
                "INSERT INTO ticketpilot.outbox (ticket_key, dag_id, rev, kind) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING RETURNING id",
                (ticket.ticket_key, ticket.dag_id, ticket.rev, kind.value),
            ).fetchone()
            if queued is not None:
                cur.execute("SELECT pg_notify(%s, %s)", (OUTBOX_CHANNEL, str(queued["id"])))
    return Accepted(ticket_key=ticket.ticket_key, dag_id=ticket.dag_id, duplicate=False, rev=delivery.rev)


def _conflict(ticket: Ticket, holder: Ticket) -> str:
    return (f"ticket {ticket.ticket_key} belongs to {holder.url or holder.source + ' item ' + str(holder.workitem_id)}"
            f", not to {ticket.url or ticket.source + ' item ' + str(ticket.workitem_id)}: issue numbers are only "
            "unique within one repository or project, so a tenant takes its issues from one (declare it: "
            "github_owner 'owner/repo', gitlab_namespace 'group/project')")


class Recorded(BaseModel):
    """What a comment, vote or build delivery changed; `recorded` counts rows written (0: nothing to do)."""

    model_config = ConfigDict(frozen=True)

    ticket_key: str | None
    duplicate: bool = False
    recorded: int = 0
    note: str


def record_comment(conn: psycopg.Connection, tenant: str, comment: CommentDelivery) -> Recorded:
    """Put a work-item comment on its ticket's history (once). Comments on untracked work items are ignored."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        if not _ticket_exists(cur, comment.ticket_key):
            return Recorded(ticket_key=None, note=f"work item {comment.workitem_id} is not a ticket; ignored")
        if not _first_delivery(cur, tenant, comment.event_id, comment.rev, comment.ticket_key, "workitem.commented"):
            return Recorded(ticket_key=comment.ticket_key, duplicate=True, note="comment already recorded")
        cur.execute(
            "INSERT INTO ticketpilot.ticket_comments (tenant_id, event_id, ticket_key, rev, author, body, "
            "commented_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (tenant, comment.event_id, comment.ticket_key, comment.rev, comment.author, comment.text,
             comment.commented_at),
        )
    return Recorded(ticket_key=comment.ticket_key, recorded=1,
                    note="comment recorded; comments never approve or reject a gate")


def record_votes(conn: psycopg.Connection, tenant: str, approvers: list[str],
                 pull_request: PullRequestDelivery) -> Recorded:
    """Turn the deciding votes of the tenant's approvers into decisions on the ticket's pending gate.

    A decision is final: an approver's later change of vote is not recorded again (the gate store refuses
    a second decision by the same person), and votes on a gate already decided, or on a ticket without a
    pending gate, change nothing. Each decision is audited by `gates.record_decision` with source 'ado'.
    """
    key = pull_request.ticket_key
    if key is None:
        return Recorded(ticket_key=None, note=f"branch {pull_request.source_branch!r} is not a ticket branch; ignored")
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        decided = approver_votes(pull_request.reviewers, roles.vote_identities(conn, tenant, approvers))
        if not _first_delivery(cur, tenant, pull_request.event_id, 0, key, "git.pullrequest.updated"):
            return Recorded(ticket_key=key, duplicate=True, note="delivery already processed")
        recorded = record_ado_decisions(conn, key, pull_request.pull_request_id, decided)
    return Recorded(ticket_key=key, recorded=recorded,
                    note=f"{recorded} gate decision(s) recorded from {len(decided)} deciding approver vote(s)")


def record_ado_decisions(conn: psycopg.Connection, ticket_key: str, pr_id: int,
                         decided: list[tuple[str, GateOutcome]]) -> int:
    """Record approvers' deciding ADO votes on the ticket's pending gate; returns how many were new.
    Shared by the service-hook path and the gate trigger's polling of the PR, so both agree on a decision."""
    recorded = 0
    for approver, outcome in decided:
        decision = GateDecision(ticket_key=ticket_key, decision=outcome, approver=approver, source="ado",
                                comment=f"ADO pull request {pr_id}: {outcome.value}")
        try:
            gates.record_decision(conn, decision)
        except gates.GateError:
            continue  # no pending gate, or this approver already decided: nothing changes
        recorded += 1
    return recorded


def record_build(conn: psycopg.Connection, tenant: str, build: BuildDelivery) -> Recorded:
    """Record a finished build of a ticket's branch (once per build)."""
    key = build.ticket_key
    if key is None:
        return Recorded(ticket_key=None, note=f"branch {build.branch!r} is not a ticket branch; ignored")
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        if not _ticket_exists(cur, key):
            return Recorded(ticket_key=None, note=f"{key} is not a ticket; ignored")
        if not _first_delivery(cur, tenant, build.event_id, 0, key, "build.complete"):
            return Recorded(ticket_key=key, duplicate=True, note="build already recorded")
        written = cur.execute(
            "INSERT INTO ticketpilot.ticket_builds (tenant_id, build_id, ticket_key, branch, pull_request_id, "
            "result, build_number, definition, url, finished_at, event_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING build_id",
            (tenant, build.build_id, key, build.branch, build.pull_request_id, build.result, build.build_number,
             build.definition, build.url, build.finished_at, build.event_id),
        ).fetchone()
    return Recorded(ticket_key=key, recorded=int(written is not None),
                    note=f"build {build.build_id} {build.result}" if written else "build already recorded")


def _first_delivery(cur: psycopg.Cursor, tenant: str, event_id: str, rev: int, ticket_key: str,
                    event_type: str) -> bool:
    """Insert the dedupe row; False when (tenant, event id, rev) was seen before (an ADO retry)."""
    return cur.execute(
        "INSERT INTO ticketpilot.deliveries (tenant_id, event_id, rev, ticket_key, event_type) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING ticket_key",
        (tenant, event_id, rev, ticket_key, event_type),
    ).fetchone() is not None


def _ticket_exists(cur: psycopg.Cursor, ticket_key: str) -> bool:
    return cur.execute("SELECT 1 FROM ticketpilot.tickets WHERE ticket_key = %s", (ticket_key,)).fetchone() is not None


def load_open_tickets(conn: psycopg.Connection, retention_hours: int = 24) -> list[Ticket]:
    """Every ticket the DAG factory should render: open ones, and closed ones still inside the retention
    window (so their last runs stay browsable). One indexed query: the factory parses often."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT ticket FROM ticketpilot.tickets "
            "WHERE state = 'open' OR closed_at > now() - make_interval(hours => %s) ORDER BY ticket_key",
            (retention_hours,),
        ).fetchall()
    return [Ticket.model_validate(row["ticket"]) for row in rows]


def open_ci_tickets(conn: psycopg.Connection, tenant: str, repo: str, *, excluding: str,
                    within_hours: int = 24) -> list[Ticket]:
    """The tenant's open tickets that ask for CI on `repo` (their kind at intake is `pipeline`), filed or updated
    within the window, oldest first. Another ticket's Pipeline step leaves CI to them instead of racing them with
    the same file; the window keeps a ticket that was refused and left open from holding CI back for ever."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT ticket FROM ticketpilot.tickets WHERE tenant_id = %s AND state = 'open' AND ticket_key <> %s "
            "AND ticket->>'repo' = %s AND ticket->>'change_kind' = 'pipeline' "
            "AND updated_at > now() - make_interval(hours => %s) ORDER BY created_at, ticket_key",
            (tenant, excluding, repo, within_hours),
        ).fetchall()
    return [Ticket.model_validate(row["ticket"]) for row in rows]


def tenant_of(conn: psycopg.Connection, ticket_key: str) -> str | None:
    row = conn.execute("SELECT tenant_id FROM ticketpilot.tickets WHERE ticket_key = %s", (ticket_key,)).fetchone()
    return None if row is None else row["tenant_id"]


def get_ticket(conn: psycopg.Connection, ticket_key: str) -> Ticket | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT ticket FROM ticketpilot.tickets WHERE ticket_key = %s", (ticket_key,)).fetchone()
    return Ticket.model_validate(row["ticket"]) if row else None
