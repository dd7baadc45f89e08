"""A gate that times out escalates: the tenant's alert channel gets it once (a real HTTP receiver), the reason is
on the PR (the local forge), the audit log keeps it; a second escalation of the same run repeats nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from include.contracts import ChangeKind, RiskClass, Ticket
from include.gate_timeout import escalate_timeout
from include.scm import FileChange
from include.scm.local import LocalForge
from tests.emulators.webhook_receiver import WebhookReceiver

TICKET = Ticket(tenant="acme", workitem_id=12, rev=1, title="Rotate the payments key", repo="svc",
                change_kind=ChangeKind.SECRET_REMEDIATION, risk_class=RiskClass.R3)


@pytest.fixture
def pr(db: psycopg.Connection, forge_dir: Path) -> tuple[LocalForge, int]:
    forge = LocalForge.from_settings("acme")
    forge.create_repo("svc", {"README.md": "svc\n"})
    forge.ensure_branch("svc", TICKET.branch, "main")
    forge.commit_files("svc", TICKET.branch, [FileChange(path="a.txt", content="a\n")], "change", "k1")
    return forge, forge.open_pr("svc", TICKET.branch, "main", "t", "d", draft=True, workitem_id=12).pr_id


def test_the_channel_the_pr_and_the_audit_log_hear_of_it_once(pr: tuple[LocalForge, int], db: psycopg.Connection,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    forge, pr_id = pr
    with WebhookReceiver() as receiver:
        monkeypatch.setenv("AIRFLOW_CONN_ALERTS_ACME", json.dumps({"conn_type": "generic",
                                                                  "extra": {"url": receiver.url}}))
        for _ in range(2):
            reason = escalate_timeout(TICKET, "run-1", timedelta(days=2), ["alice"], forge, pr_id)
    assert reason.startswith("Ticketpilot: the gate of acme-12 (Rotate the payments key) was not decided within "
                             "2 days, 0:00:00; nothing was merged. Asked: alice.")
    assert [r.body["kind"] for r in receiver.received] == ["gate.timeout"] * 2
    assert len({r.headers["idempotency-key"] for r in receiver.received}) == 1, "one key: the receiver drops one"
    assert [c.body for c in forge.comments(pr_id)] == [reason], "the PR comment is keyed: written once"
    rows = db.execute("SELECT details FROM ticketpilot.audit_log WHERE chain = 'acme' AND action = 'gate.timeout'"
                      ).fetchall()
    assert rows and rows[0]["details"]["channel"] == "alerts_acme" and rows[0]["details"]["pr_id"] == pr_id


def test_without_a_channel_the_pr_still_gets_the_reason(pr: tuple[LocalForge, int], db: psycopg.Connection,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    forge, pr_id = pr
    monkeypatch.delenv("AIRFLOW_CONN_ALERTS_ACME", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_TICKETPILOT_ALERTS", raising=False)
    reason = escalate_timeout(TICKET, "run-2", timedelta(hours=1), [], forge, pr_id)
    assert "Asked: the tenant's approvers" in reason
    assert [c.body for c in forge.comments(pr_id)] == [reason]
    assert "no alert channel" in caplog.text
