from __future__ import annotations

from typing import Any

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred

from include.contracts import ChangeKind, GateDecision, GateOutcome, RiskClass, Ticket
from include.store import gates
from sensors.gate import GateSensor
from triggers.gate import GateEvent, GateTrigger

TICKET = Ticket(tenant="demo", workitem_id=9, rev=1, title="Rotate the payments key", repo="svc",
                change_kind=ChangeKind.SECRET_REMEDIATION, risk_class=RiskClass.R3)
RUN_ID = "ticket__r1"


class TaskInstanceStandIn:
    """The slice of the task instance the sensor reads: upstream XComs."""

    def __init__(self, xcoms: dict[str, Any]) -> None:
        self.xcoms = xcoms

    def xcom_pull(self, task_ids: str) -> Any:
        return self.xcoms.get(task_ids)


def context(dev_risk: str = "R3") -> dict[str, Any]:
    return {"run_id": RUN_ID, "ti": TaskInstanceStandIn({"dev_change": {"risk_class": dev_risk}})}


@pytest.fixture
def sensor() -> GateSensor:
    return GateSensor(task_id="gate", ticket=TICKET.model_dump(mode="json"), named_approvers=["alice"],
                      deferrable=True, poll_interval=0.1)


def event(status: str, decisions: list[dict[str, str]] | None = None) -> GateEvent:
    return GateEvent(status=status, ticket_key=TICKET.ticket_key, run_id=RUN_ID, message=status,  # type: ignore[typeddict-item]
                     decisions=decisions or [])


def test_timeout_escalates_and_fails_with_the_reason(sensor: GateSensor, db: psycopg.Connection) -> None:
    with pytest.raises(AirflowFailException, match="was not decided within 7 days, 0:00:00; nothing was merged. "
                                                   "Asked: alice"):
        sensor.execute_complete(context(), event("timeout"))
    [row] = db.execute("SELECT chain, details FROM ticketpilot.audit_log WHERE action = 'gate.timeout'").fetchall()
    assert row["chain"] == "demo" and row["details"]["run_id"] == RUN_ID and row["details"]["pr_id"] is None


def test_rejection_fails_the_run_and_names_who(sensor: GateSensor) -> None:
    rejected = [{"approver": "bob", "decision": "reject", "comment": "no rollback plan", "source": "rest"}]
    with pytest.raises(AirflowFailException, match="bob: no rollback plan"):
        sensor.execute_complete(context(), event("rejected", rejected))


def test_trigger_error_is_retryable(sensor: GateSensor) -> None:
    with pytest.raises(AirflowException, match="gate check failed") as raised:
        sensor.execute_complete(context(), event("error"))
    assert not isinstance(raised.value, AirflowFailException)


def test_approval_returns_the_decisions(sensor: GateSensor) -> None:
    approved = [{"approver": "alice", "decision": "approve", "comment": "", "source": "rest"}]
    assert sensor.execute_complete(context(), event("approved", approved))["decisions"] == approved


def test_execute_records_the_request_and_defers(db: psycopg.Connection, sensor: GateSensor) -> None:
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context())
    assert isinstance(deferred.value.trigger, GateTrigger) and deferred.value.trigger.end_on_approval
    assert deferred.value.method_name == "execute_complete"
    gate = gates.get_gate(db, TICKET.ticket_key, RUN_ID)
    assert (gate["status"], gate["risk_class"], gate["required_approvals"]) == ("pending", "R3", 2)


def test_dev_escalation_raises_the_gate_class(db: psycopg.Connection) -> None:
    r2 = TICKET.model_copy(update={"risk_class": RiskClass.R2})
    sensor = GateSensor(task_id="gate", ticket=r2.model_dump(mode="json"), deferrable=True)
    with pytest.raises(TaskDeferred):
        sensor.execute(context(dev_risk="R3"))
    assert gates.get_gate(db, TICKET.ticket_key, RUN_ID)["risk_class"] == "R3"


def test_sync_path_pokes_until_decided(db: psycopg.Connection) -> None:
    sensor = GateSensor(task_id="gate", ticket=TICKET.model_dump(mode="json"), named_approvers=["alice"],
                        deferrable=False)
    gates.request_gate(db, ticket_key=TICKET.ticket_key, run_id=RUN_ID, risk_class=RiskClass.R3,
                       named_approvers=["alice"])
    assert sensor.poke(context()) is False
    for who in ("alice", "bob"):
        gates.record_decision(db, GateDecision(ticket_key=TICKET.ticket_key, run_id=RUN_ID,
                                               decision=GateOutcome.APPROVE, approver=who))
    assert sensor.poke(context()) is True


def final_check_context(risk: str, reasons: list[str], dev_risk: str = "R3") -> dict[str, Any]:
    xcoms = {"dev_change": {"risk_class": dev_risk}, "final_check": {"risk_class": risk, "reasons": reasons}}
    return {"run_id": RUN_ID, "ti": TaskInstanceStandIn(xcoms)}


def test_final_check_class_decides_the_gate_and_its_reasons_are_logged(
        db: psycopg.Connection, capsys: pytest.CaptureFixture[str]) -> None:
    r2 = GateSensor(task_id="gate", ticket=TICKET.model_copy(update={"risk_class": RiskClass.R2})
                    .model_dump(mode="json"), deferrable=True)
    with pytest.raises(TaskDeferred):
        r2.execute(final_check_context("R3", ["touches payments/keys.py"], dev_risk="R2"))
    assert gates.get_gate(db, TICKET.ticket_key, RUN_ID)["risk_class"] == "R3"
    assert "R3 because: touches payments/keys.py" in capsys.readouterr().out, "Airflow's task log goes to stdout"


def test_a_class_without_a_gate_passes_at_once_without_a_gate_row(db: psycopg.Connection, sensor: GateSensor) -> None:
    result = sensor.execute(final_check_context("R1", ["the change shrank to a comment"]))
    assert result == {"status": "not_needed", "decisions": [], "risk_class": "R1"}
    with pytest.raises(gates.GateNotFound):
        gates.get_gate(db, TICKET.ticket_key, RUN_ID)


def test_without_final_check_the_dev_class_still_decides(db: psycopg.Connection) -> None:
    r1 = TICKET.model_copy(update={"risk_class": RiskClass.R1})
    sensor = GateSensor(task_id="gate", ticket=r1.model_dump(mode="json"), deferrable=True)
    assert sensor.execute(context(dev_risk="R1"))["status"] == "not_needed"
    with pytest.raises(TaskDeferred):
        sensor.execute(context(dev_risk="R2"))
    assert gates.get_gate(db, TICKET.ticket_key, RUN_ID)["risk_class"] == "R2"
