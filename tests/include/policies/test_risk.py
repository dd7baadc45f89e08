from __future__ import annotations

import pytest

from include.contracts.risk import RiskClass
from include.contracts.ticket import ChangeKind
from include.policies.risk import LARGE_DIFF_LINES, classify, escalate_for_diff

R0, R1, R2, R3 = RiskClass.R0, RiskClass.R1, RiskClass.R2, RiskClass.R3


@pytest.mark.parametrize(
    ("title", "tags", "kind", "risk"),
    [
        ("Rotate the leaked storage credentials", [], ChangeKind.SECRET_REMEDIATION, R3),
        ("API key committed in settings.py", [], ChangeKind.SECRET_REMEDIATION, R3),
        ("Clean up config", ["token"], ChangeKind.SECRET_REMEDIATION, R3),
        ("Add a CI pipeline for the web repo", [], ChangeKind.PIPELINE, R1),
        ("Repo has no azure-pipelines.yml", [], ChangeKind.PIPELINE, R1),
        ("Make every PR run tests", ["build"], ChangeKind.PIPELINE, R1),
        ("Bump requests to 2.32.3", [], ChangeKind.DEPENDENCY_BUMP, R1),
        ("Upgrade lodash from 4.17.20 to v4.17.21", [], ChangeKind.DEPENDENCY_BUMP, R1),
        ("Update the django package to 5.1", [], ChangeKind.DEPENDENCY_BUMP, R1),
        ("Fix ruff findings in billing", [], ChangeKind.LINT_FIX, R0),
        ("Remove unused imports", [], ChangeKind.LINT_FIX, R0),
        ("Fix typo on the login page", [], ChangeKind.DOCS, R0),
        ("Explain setup in the README", [], ChangeKind.DOCS, R0),
        ("Add CSV export to reports", [], ChangeKind.FEATURE, R2),
        ("Build a dashboard for orders", [], ChangeKind.FEATURE, R2),
        ("Support a date format option", [], ChangeKind.FEATURE, R2),
        ("Fix the memory leak in the parser", [], ChangeKind.FEATURE, R2),
    ],
)
def test_classify_kind_and_base_risk(title: str, tags: list[str], kind: ChangeKind, risk: RiskClass) -> None:
    assert classify(title, "", tags, "Task") == (kind, risk)


def test_secret_rule_wins_over_later_rules() -> None:
    assert classify("Update docs after the token leak", "", [], "Task").change_kind is ChangeKind.SECRET_REMEDIATION


def test_major_tag_makes_a_bump_r2() -> None:
    assert classify("Bump react to 19.0.0", "", ["major"], "Task") == (ChangeKind.DEPENDENCY_BUMP, R2)


@pytest.mark.parametrize(("tags", "risk"), [(["risk:R2"], R2), (["RISK:r3"], R3), (["risk:R0"], R1)])
def test_risk_tags_raise_but_never_lower(tags: list[str], risk: RiskClass) -> None:
    assert classify("Bump requests to 2.32.3", "", tags, "Task").risk_class is risk


@pytest.mark.parametrize("tag", ["security", "Production"])
def test_security_and_production_tags_need_r3(tag: str) -> None:
    assert classify("Fix typo on the login page", "", [tag], "Task") == (ChangeKind.DOCS, R3)


def test_epics_are_at_least_r2() -> None:
    assert classify("Explain setup in the README", "", [], "Epic") == (ChangeKind.DOCS, R2)


def test_credentials_in_the_description_raise_risk_not_kind() -> None:
    assert classify("Add login", "Return a session token on success.", [], "User Story") == (
        ChangeKind.FEATURE, R3)


def test_blank_tags_are_ignored() -> None:
    assert classify("Add CSV export", "", ["", "  "], "Task") == (ChangeKind.FEATURE, R2)


def test_small_plain_diff_keeps_the_planned_class() -> None:
    assert escalate_for_diff(R0, ["README.md", "docs/setup.md"], 12, 1) is R0


def test_large_or_multi_repo_diff_is_at_least_r2() -> None:
    assert escalate_for_diff(R1, ["src/app.py"], LARGE_DIFF_LINES + 1, 1) is R2
    assert escalate_for_diff(R1, ["src/app.py"], LARGE_DIFF_LINES, 1) is R1
    assert escalate_for_diff(R0, ["src/app.py"], 3, 2) is R2


@pytest.mark.parametrize(
    "path",
    ["config/secrets.yaml", "./app/.env", "certs/server.pem", "src/auth/session.py", "infra/main.tf",
     ".github/CODEOWNERS", "CODEOWNERS", "deploy\\helm\\values.yaml", "/.github/workflows/ci.yml",
     "azure-pipelines.yml"],
)
def test_sensitive_paths_need_r3(path: str) -> None:
    assert escalate_for_diff(R1, [path], 3, 1) is R3


def test_ci_definitions_are_expected_for_pipeline_tickets_only() -> None:
    ci = ["azure-pipelines.yml", ".github/workflows/ci.yml"]
    assert escalate_for_diff(R1, ci, 40, 1, kind=ChangeKind.PIPELINE) is R1
    assert escalate_for_diff(R1, ci, 40, 1, kind=ChangeKind.DEPENDENCY_BUMP) is R3
    assert escalate_for_diff(R1, [".github/CODEOWNERS"], 1, 1, kind=ChangeKind.PIPELINE) is R3


def test_escalation_never_lowers() -> None:
    assert escalate_for_diff(R3, ["README.md"], 1, 1) is R3
