"""A tenant's Rego bundle on the real PostgreSQL: it tightens the door and the diff, never loosens them; a bad
bundle is refused with the reason when it is set; versions are kept and audited; processes pick up a new one."""

from __future__ import annotations

import psycopg
import pytest

from include.contracts.risk import RiskClass
from include.contracts.ticket import ChangeKind
from include.policies import tenant_bundles
from include.policies.engine import PolicyError
from include.policies.final_diff import classify_final_diff
from include.policies.risk import classify, escalate_for_diff
from include.policies.tenant_bundles import set_bundle, validate_bundle

PAYMENTS = '''
package ticketpilot.tenant

import rego.v1

door_floors contains {"risk": "R3", "why": "payments are audited by the PCI team"} if {
	regex.match(`\\bpayments?\\b`, input.text)
}

path_rules := [{"glob": "db/migrations/*", "risk": "R3", "why": "schema changes need the DBA"}]
'''

LOOSER = '''
package ticketpilot.tenant

import rego.v1

door_floors contains {"risk": "R0", "why": "we trust ourselves"} if true

path_rules := [{"glob": "*.pem", "risk": "R0", "why": "certificates are fine here"}]
'''


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tenant_bundles, "_cache", {})


def test_a_bundle_tightens_the_door_and_the_diff(db: psycopg.Connection) -> None:
    assert set_bundle(db, "acme", PAYMENTS, actor="ops-ann") == 1
    assert classify("Round the payment total", "", [], "Task", tenant="acme").risk_class is RiskClass.R3
    assert classify("Round the payment total", "", [], "Task", tenant="other").risk_class is RiskClass.R2
    assert classify("Round the payment total", "", [], "Task").risk_class is RiskClass.R2
    assert escalate_for_diff(RiskClass.R1, ["db/migrations/0007_add.sql"], 5, 1, tenant="acme") is RiskClass.R3
    assert escalate_for_diff(RiskClass.R1, ["db/migrations/0007_add.sql"], 5, 1, tenant="other") is RiskClass.R1
    risk, reasons = classify_final_diff(RiskClass.R1, ["DB/Migrations/0007_add.sql"], 5, kind=ChangeKind.FEATURE,
                                        tenant="acme")
    assert risk is RiskClass.R3
    assert reasons == ["DB/Migrations/0007_add.sql schema changes need the DBA (tenant policy) (R3)"]


def test_a_bundle_cannot_loosen_anything(db: psycopg.Connection) -> None:
    set_bundle(db, "acme", LOOSER, actor="ops-ann")
    assert classify("Rotate the leaked API key", "", [], "Task", tenant="acme").risk_class is RiskClass.R3
    assert classify("Add CSV export", "", [], "Task", tenant="acme").risk_class is RiskClass.R2
    assert escalate_for_diff(RiskClass.R1, ["certs/server.pem"], 3, 1, tenant="acme") is RiskClass.R3


def test_an_unknown_class_in_a_floor_counts_as_r3(db: psycopg.Connection) -> None:
    set_bundle(db, "acme", PAYMENTS.replace('"risk": "R3", "why": "payments', '"risk": "high", "why": "payments'),
               actor="ops-ann")
    assert classify("Round the payment total", "", [], "Task", tenant="acme").risk_class is RiskClass.R3


@pytest.mark.parametrize(("source", "reason"), [
    ("package ticketpilot.risk\nimport rego.v1\ndoor := {}\n", "declares ticketpilot.risk"),
    ("package ticketpilot.tenant\npackage other\n", "declares ticketpilot.tenant, other"),
    ("import rego.v1\n", "no package"),
    ("package ticketpilot.tenant\nimport rego.v1\ndoor_floors contains x if {\n", "do not compile"),
    ('package ticketpilot.tenant\nimport rego.v1\npath_rules := [{"glob": "a/*", "risk": "R3"}]\n',
     "needs a glob, a risk"),
    ('package ticketpilot.tenant\nimport rego.v1\npath_rules := [{"glob": "a/*", "risk": "R9", "why": "x"}]\n',
     "needs a glob, a risk"),
])
def test_a_bad_bundle_is_refused_when_it_is_set(db: psycopg.Connection, source: str, reason: str) -> None:
    with pytest.raises(PolicyError, match=reason):
        set_bundle(db, "acme", source, actor="ops-ann")
    assert db.execute("SELECT count(*) AS n FROM ticketpilot.policy_bundles").fetchone()["n"] == 0


def test_versions_are_kept_audited_and_picked_up(db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    assert set_bundle(db, "acme", LOOSER, actor="ops-ann") == 1
    assert set_bundle(db, "acme", LOOSER, actor="ops-ann") == 1, "the same source is no new version"
    assert classify("Round the payment total", "", [], "Task", tenant="acme").risk_class is RiskClass.R2
    monkeypatch.setattr(tenant_bundles, "REFRESH_S", 0.0)
    assert set_bundle(db, "acme", PAYMENTS, actor="ops-bob") == 2
    assert classify("Round the payment total", "", [], "Task", tenant="acme").risk_class is RiskClass.R3
    rows = db.execute("SELECT actor, details FROM ticketpilot.audit_log WHERE chain = 'acme' AND "
                      "action = 'policy.bundle.set' ORDER BY seq").fetchall()
    assert [(r["actor"], r["details"]["version"]) for r in rows] == [("ops-ann", 1), ("ops-bob", 2)]


def test_validation_returns_an_engine_with_its_own_version() -> None:
    from include.policies.engine import platform_engine

    assert validate_bundle(PAYMENTS).version != platform_engine().version
