from __future__ import annotations

import json

import psycopg
import pytest

from include.contracts import GateDecision, GateOutcome, RiskClass
from include.store import audit, gates

RUN = "ticket__r1"


def decide(db: psycopg.Connection, key: str, who: str, outcome: GateOutcome = GateOutcome.APPROVE) -> dict:
    return gates.record_decision(db, GateDecision(ticket_key=key, run_id=RUN, decision=outcome, approver=who,
                                                  comment=f"{who} says {outcome}"))


def test_r2_needs_one_approval(db: psycopg.Connection) -> None:
    gates.request_gate(db, ticket_key="t-1", run_id=RUN, risk_class=RiskClass.R2, named_approvers=[])
    assert decide(db, "t-1", "alice")["status"] == "approved"


def test_r3_needs_a_named_approver_and_a_second_person(db: psycopg.Connection) -> None:
    gates.request_gate(db, ticket_key="t-3", run_id=RUN, risk_class=RiskClass.R3, named_approvers=["alice"])
    assert decide(db, "t-3", "bob")["status"] == "pending"
    assert decide(db, "t-3", "carol")["status"] == "pending", "two people, but neither is the named approver"
    assert decide(db, "t-3", "alice")["status"] == "approved"


def test_rejection_wins_and_closes_the_gate(db: psycopg.Connection) -> None:
    gates.request_gate(db, ticket_key="t-4", run_id=RUN, risk_class=RiskClass.R3, named_approvers=["alice"])
    decide(db, "t-4", "alice")
    assert decide(db, "t-4", "bob", GateOutcome.REJECT)["status"] == "rejected"
    with pytest.raises(gates.GateAlreadyDecided):
        decide(db, "t-4", "carol")


def test_one_vote_per_person(db: psycopg.Connection) -> None:
    gates.request_gate(db, ticket_key="t-5", run_id=RUN, risk_class=RiskClass.R3, named_approvers=["alice"])
    decide(db, "t-5", "alice")
    with pytest.raises(gates.GateAlreadyDecided, match="alice"):
        decide(db, "t-5", "alice")


def test_unknown_gate_is_not_found(db: psycopg.Connection) -> None:
    with pytest.raises(gates.GateNotFound):
        decide(db, "nope-1", "alice")


def test_request_is_idempotent_and_every_step_is_audited(db: psycopg.Connection) -> None:
    first = gates.request_gate(db, ticket_key="t-6", run_id=RUN, risk_class=RiskClass.R2, named_approvers=[])
    again = gates.request_gate(db, ticket_key="t-6", run_id=RUN, risk_class=RiskClass.R2, named_approvers=[])
    assert first["requested_at"] == again["requested_at"]
    decide(db, "t-6", "alice")
    actions = [r["action"] for r in db.execute("SELECT action FROM ticketpilot.audit_log ORDER BY id")]
    assert actions == ["gate.requested", "gate.approve"]
    assert audit.verify(db).ok and audit.verify(db).total == 2


def test_only_the_deciding_decision_notifies_and_only_once_committed(db: psycopg.Connection, db_url: str) -> None:
    gates.request_gate(db, ticket_key="t-9", run_id=RUN, risk_class=RiskClass.R3, named_approvers=["alice"],
                       dag_id="ticket__t__9")
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {gates.GATE_CHANNEL}")
        decide(db, "t-9", "bob")
        assert list(listener.notifies(timeout=0.3)) == [], "a pending R3 gate wakes nobody"
        decide(db, "t-9", "alice")
        [note] = list(listener.notifies(timeout=2, stop_after=1))
    assert json.loads(note.payload) == {"ticket_key": "t-9", "run_id": RUN, "dag_id": "ticket__t__9",
                                        "status": "approved"}, "the DAG too: run ids repeat across ticket DAGs"


def a_ticket_requested_by(db: psycopg.Connection, key: str, requested_by: str) -> None:
    from include.store.roles import Role, grant

    db.execute("INSERT INTO ticketpilot.tenants (tenant_id, hook_username, hook_secret_sha256, default_repo) "
               "VALUES ('acme', 'hook', 'x', 'web') ON CONFLICT DO NOTHING")
    db.execute("INSERT INTO ticketpilot.tickets (ticket_key, tenant_id, workitem_id, rev, dag_id, ticket) "
               "VALUES (%s, 'acme', %s, 1, %s, %s)",
               (key, int(key.rsplit("-", 1)[1]), f"ticket__acme__{key.rsplit('-', 1)[1]}",
                json.dumps({"requested_by": requested_by})))
    grant(db, "acme", "jane.doe", Role.APPROVER, email="Jane.Doe@corp.example")


@pytest.mark.parametrize(("requested_by", "approver"), [
    ("Jane Doe <jane.doe@corp.example>", "Jane Doe"),            # ADO's display name, a directory person
    ("Jane Doe <jane.doe@corp.example>", "jane.doe"),            # the Airflow username is the e-mail's local part
    ("Jane Doe <JANE.DOE@corp.example>", "jane.doe@corp.example"),
    ("Someone Else <se@corp.example>", "se"),
    ("octocat", "octocat"),                                      # GitHub's login
])
def test_the_requester_may_not_approve_on_any_channel(db: psycopg.Connection, requested_by: str,
                                                     approver: str) -> None:
    a_ticket_requested_by(db, "acme-5", requested_by)
    gates.request_gate(db, ticket_key="acme-5", run_id=RUN, risk_class=RiskClass.R2, named_approvers=[])
    for source in ("rest", "ui", "ado"):
        with pytest.raises(gates.ApproverNotAllowed, match="four eyes"):
            gates.record_decision(db, GateDecision(ticket_key="acme-5", run_id=RUN, decision=GateOutcome.APPROVE,
                                                   approver=approver, source=source))
    assert gates.get_gate(db, "acme-5", RUN)["status"] == "pending"
    assert decide(db, "acme-5", "bob")["status"] == "approved", "another approver may"


def test_the_directory_email_links_a_username_to_the_requester(db: psycopg.Connection) -> None:
    a_ticket_requested_by(db, "acme-6", "J. Doe <jane.doe@corp.example>")
    gates.request_gate(db, ticket_key="acme-6", run_id=RUN, risk_class=RiskClass.R2, named_approvers=[])
    with pytest.raises(gates.ApproverNotAllowed, match="four eyes: jane.doe requested"):
        decide(db, "acme-6", "jane.doe")


def test_the_requester_may_still_reject(db: psycopg.Connection) -> None:
    a_ticket_requested_by(db, "acme-7", "Jane Doe <jane.doe@corp.example>")
    gates.request_gate(db, ticket_key="acme-7", run_id=RUN, risk_class=RiskClass.R2, named_approvers=[])
    assert decide(db, "acme-7", "jane.doe", GateOutcome.REJECT)["status"] == "rejected"


def test_r3_the_requester_counts_neither_as_named_approver_nor_as_second_person(db: psycopg.Connection) -> None:
    a_ticket_requested_by(db, "acme-8", "Alice <alice@corp.example>")
    gates.request_gate(db, ticket_key="acme-8", run_id=RUN, risk_class=RiskClass.R3, named_approvers=["alice"])
    with pytest.raises(gates.ApproverNotAllowed):
        decide(db, "acme-8", "alice")
    assert decide(db, "acme-8", "bob")["status"] == "pending"
    assert decide(db, "acme-8", "carol")["status"] == "pending", "the named approver asked for it: none can count"
