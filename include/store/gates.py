"""Gate requests and decisions. The rules: any rejection rejects; R2 needs one approval; R3 needs two
distinct people, at least one of them a named approver of the tenant. Every decision is audited, and the
one that decides a gate NOTIFYs `GATE_CHANNEL` in its own transaction, so waiting triggers wake only once it
has committed (triggers/gate_waiter.py)."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from include import telemetry
from include.contracts.gate import GateDecision, GateOutcome
from include.contracts.risk import RiskClass
from include.policies.four_eyes import requester_refusal
from include.store import audit, roles

GATE_CHANNEL = "ticketpilot_gates"
"""LISTEN/NOTIFY channel; each payload is `{"ticket_key", "run_id", "dag_id", "status"}` of a gate just decided
(`dag_id` is null for a gate opened without one)."""


class GateError(RuntimeError):
    status_code = 400


class GateNotFound(GateError):
    status_code = 404


class GateAlreadyDecided(GateError):
    status_code = 409


class ApproverNotAllowed(GateError):
    status_code = 403


def request_gate(
    conn: psycopg.Connection, *, ticket_key: str, run_id: str, risk_class: RiskClass, named_approvers: list[str],
    dag_id: str | None = None,
) -> dict[str, Any]:
    """Open the gate for this run (idempotent) and return its row. `dag_id`: the Airflow DAG of `run_id`."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO ticketpilot.gate_requests "
            "(ticket_key, run_id, risk_class, required_approvals, named_approvers, dag_id) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (ticket_key, run_id) DO NOTHING RETURNING *",
            (ticket_key, run_id, risk_class.value, risk_class.required_approvals, named_approvers, dag_id),
        ).fetchone()
        if row is not None:
            audit.append_for_ticket(conn, ticket_key, actor="ticketpilot", action="gate.requested",
                                    details={"run_id": run_id, "risk_class": risk_class.value})
            return row
    return get_gate(conn, ticket_key, run_id)


def get_gate(conn: psycopg.Connection, ticket_key: str, run_id: str | None = None) -> dict[str, Any]:
    """The gate of `run_id`, or the ticket's most recent pending gate (then most recent of any)."""
    if run_id is not None:
        row = conn.execute(
            "SELECT * FROM ticketpilot.gate_requests WHERE ticket_key = %s AND run_id = %s", (ticket_key, run_id)
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT * FROM ticketpilot.gate_requests WHERE ticket_key = %s "
            "ORDER BY (status = 'pending') DESC, requested_at DESC LIMIT 1",
            (ticket_key,),
        ).fetchone()
    if row is None:
        raise GateNotFound(f"no gate is open for ticket {ticket_key!r}" + (f" run {run_id!r}" if run_id else ""))
    return row


def decisions(conn: psycopg.Connection, ticket_key: str, run_id: str) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT approver, decision, comment, source, decided_at FROM ticketpilot.gate_decisions "
        "WHERE ticket_key = %s AND run_id = %s ORDER BY id",
        (ticket_key, run_id),
    ).fetchall()


def record_decision(conn: psycopg.Connection, decision: GateDecision) -> dict[str, Any]:
    """Store one person's decision and return the gate row with its (possibly new) status; a span on the
    ticket's trace either way (a refusal is an error span with its reason)."""
    with telemetry.span("gate.decision", ticket_key=decision.ticket_key,
                        attributes={"gate.decision": decision.decision.value, "approver": decision.approver,
                                    "source": decision.source}):
        return _record_decision(conn, decision)


def _record_decision(conn: psycopg.Connection, decision: GateDecision) -> dict[str, Any]:
    with conn.transaction():
        gate = get_gate(conn, decision.ticket_key, decision.run_id)
        gate = conn.execute(
            "SELECT * FROM ticketpilot.gate_requests WHERE ticket_key = %s AND run_id = %s FOR UPDATE",
            (gate["ticket_key"], gate["run_id"]),
        ).fetchone()
        if gate["status"] != "pending":
            raise GateAlreadyDecided(f"gate for {decision.ticket_key} is already {gate['status']}")
        who = _decider(conn, gate["ticket_key"], decision.approver)
        override = who["window_id"] if who and decision.decision is GateOutcome.APPROVE else None
        refusal = None if override else roles.gate_refusal(conn, gate["ticket_key"], decision.approver)
        if refusal is None and who is not None and decision.decision is GateOutcome.APPROVE:
            refusal = requester_refusal(decision.approver, who["requested_by"] or "", who["email"])
        if refusal is not None:
            raise ApproverNotAllowed(refusal)
        inserted = conn.execute(
            "INSERT INTO ticketpilot.gate_decisions (ticket_key, run_id, approver, decision, comment, source) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (ticket_key, run_id, approver) DO NOTHING RETURNING id",
            (gate["ticket_key"], gate["run_id"], decision.approver, decision.decision.value,
             decision.comment, decision.source),
        ).fetchone()
        if inserted is None:
            raise GateAlreadyDecided(f"{decision.approver} has already decided on {decision.ticket_key}")
        status = "approved" if override else _status(gate, decisions(conn, gate["ticket_key"], gate["run_id"]))
        if status != "pending":
            gate = conn.execute(
                "UPDATE ticketpilot.gate_requests SET status = %s, decided_at = now() "
                "WHERE ticket_key = %s AND run_id = %s RETURNING *",
                (status, gate["ticket_key"], gate["run_id"]),
            ).fetchone()
            conn.execute("SELECT pg_notify(%s, %s)", (GATE_CHANNEL, json.dumps(
                {"ticket_key": gate["ticket_key"], "run_id": gate["run_id"], "dag_id": gate["dag_id"],
                 "status": status})))
        details = {"run_id": gate["run_id"], "comment": decision.comment, "source": decision.source,
                   "gate_status": status}
        if override:
            details |= {"break_glass_window": override, "break_glass_reason": who["window_reason"]}
        audit.append_for_ticket(conn, decision.ticket_key, actor=decision.approver,
                                action="gate.override" if override else f"gate.{decision.decision.value}",
                                details=details)
    return gate


def _decider(conn: psycopg.Connection, ticket_key: str, approver: str) -> dict[str, Any] | None:
    """What the rules need to know about a person deciding a ticket's gate, in one round trip: who requested the
    ticket, the approver's e-mail in the Team Directory, and the approver's open break-glass window on its tenant
    (include/tenancy/break_glass.py). None for a gate whose ticket the store does not hold."""
    return conn.execute(
        "SELECT t.ticket->>'requested_by' AS requested_by, (SELECT r.email FROM ticketpilot.tenant_roles r "
        "WHERE r.tenant_id = t.tenant_id AND r.person = %(who)s AND r.email IS NOT NULL LIMIT 1) AS email, "
        "b.id AS window_id, b.reason AS window_reason FROM ticketpilot.tickets t "
        "LEFT JOIN LATERAL (SELECT id, reason FROM ticketpilot.break_glass b WHERE b.admin = %(who)s "
        "AND b.tenant_id = t.tenant_id AND b.closed_at IS NULL AND b.expires_at > now() "
        "ORDER BY b.expires_at DESC LIMIT 1) b ON true WHERE t.ticket_key = %(key)s",
        {"who": approver, "key": ticket_key}).fetchone()


def _status(gate: dict[str, Any], made: list[dict[str, Any]]) -> str:
    if any(d["decision"] == GateOutcome.REJECT.value for d in made):
        return "rejected"
    approvers = {d["approver"] for d in made if d["decision"] == GateOutcome.APPROVE.value}
    if len(approvers) < gate["required_approvals"]:
        return "pending"
    named = set(gate["named_approvers"])
    if gate["risk_class"] == RiskClass.R3.value and named and not approvers & named:
        return "pending"
    return "approved"
