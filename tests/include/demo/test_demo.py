"""The demo content is real: the seed's tests pass, its four defects are found by the real tools, the
four fixes touch disjoint files and leave the tests green, and the deliveries are ADO-shaped tickets the
ingress classifies as intended."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from include.agents import tools
from include.agents.playbooks import pipeline as template
from include.agents.playbooks import playbook_for
from include.contracts import ChangeKind, RiskClass
from include.demo.repo import DEMO_REPO, demo_repo_files
from include.demo.tickets import demo_deliveries
from include.settings import REPO_ROOT
from include.tickets import parse_ado_delivery

SAMPLE = REPO_ROOT / "tests" / "fixtures" / "ado-events" / "workitem.created.json"
EXPECTED = {
    101: (ChangeKind.PIPELINE, RiskClass.R1),
    102: (ChangeKind.DEPENDENCY_BUMP, RiskClass.R1),
    103: (ChangeKind.SECRET_REMEDIATION, RiskClass.R3),
    104: (ChangeKind.LINT_FIX, RiskClass.R0),
}


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    root = tmp_path / DEMO_REPO
    for path, content in demo_repo_files().items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content, encoding="utf-8")
    return root


def run_tests(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root,
                          capture_output=True, text=True, timeout=120, check=False)


def test_seed_tests_pass_and_collect_only_their_own(seed: Path) -> None:
    proc = run_tests(seed)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 passed" in proc.stdout


def test_the_tools_find_exactly_the_planted_defects(seed: Path) -> None:
    secrets = tools.secret_findings(seed)
    assert {f["filename"] for f in secrets} == {"invoicing/config.py"}
    assert "Stripe Access Key" in {f["type"] for f in secrets}
    python = [p for p in demo_repo_files() if p.endswith(".py")]
    lint = tools.ruff_findings(seed, python)
    assert {(f["filename"], f["code"]) for f in lint} == {("invoicing/totals.py", "F401")}
    assert not (seed / "azure-pipelines.yml").exists()
    assert (seed / "requirements.txt").read_text() == "requests==2.31.0\n"
    severities = {f["issue_severity"] for f in tools.bandit_findings(seed, python)}
    assert severities <= {"LOW"}  # asserts in tests, nothing worse


def test_four_fixes_touch_disjoint_files_and_keep_the_tests_green(seed: Path) -> None:
    touched: dict[int, set[str]] = {}
    for delivery in demo_deliveries():
        ticket = parse_ado_delivery(delivery, "acme", DEMO_REPO).ticket
        changes = playbook_for(ticket)(ticket, seed)
        if ticket.change_kind is ChangeKind.PIPELINE:
            _, pipeline_change = template.plan(seed, "main")
            changes = [pipeline_change] if pipeline_change else []
        for change in changes:
            (seed / change.path).write_text(change.content or "", encoding="utf-8")
        touched[ticket.workitem_id] = {change.path for change in changes}
    assert touched == {
        101: {"azure-pipelines.yml"},
        102: {"requirements.txt"},
        103: {"invoicing/config.py", ".env.example"},  # the variable is documented in the same PR
        104: {"invoicing/totals.py"},
    }
    assert run_tests(seed).returncode == 0


def test_deliveries_have_the_shape_of_the_ado_sample() -> None:
    sample = json.loads(SAMPLE.read_text())
    deliveries = demo_deliveries()
    assert [d["resource"]["id"] for d in deliveries] == [101, 102, 103, 104]
    assert len({d["id"] for d in deliveries}) == 4 and deliveries == demo_deliveries()
    for delivery in deliveries:
        assert set(sample) <= set(delivery) and set(sample["resource"]) <= set(delivery["resource"])
        assert set(sample["resource"]["_links"]) <= set(delivery["resource"]["_links"])
        assert delivery["eventType"] == "workitem.created" and delivery["resource"]["rev"] == 1
        fields = delivery["resource"]["fields"]
        assert {k for k in sample["resource"]["fields"] if k.startswith("System.")} <= set(fields)
        assert fields["System.State"] == "New" and "<" in fields["System.CreatedBy"]
        assert fields["Microsoft.VSTS.Common.AcceptanceCriteria"].startswith("<ul><li>")


def test_the_ingress_classifies_each_delivery_as_intended() -> None:
    for delivery in demo_deliveries():
        ticket = parse_ado_delivery(delivery, "acme", DEMO_REPO).ticket
        assert (ticket.change_kind, ticket.risk_class) == EXPECTED[ticket.workitem_id]
        assert ticket.acceptance_criteria and ticket.requested_by.startswith("Dana Whitfield <")
    assert "security" in parse_ado_delivery(demo_deliveries()[2], "acme", DEMO_REPO).ticket.tags
