from __future__ import annotations

import pytest

from include.contracts.risk import RiskClass
from include.contracts.ticket import ChangeKind
from include.policies.kinds import find_bump
from include.policies.risk import LARGE_DIFF_LINES, classify, escalate_for_diff

R0, R1, R2, R3 = RiskClass.R0, RiskClass.R1, RiskClass.R2, RiskClass.R3


@pytest.mark.parametrize(
    ("title", "tags", "kind", "risk"),
    [
        ("Rotate the leaked storage credentials", [], ChangeKind.SECRET_REMEDIATION, R3),
        ("API key committed in settings.py", [], ChangeKind.SECRET_REMEDIATION, R3),
        ("Clean up config", ["token"], ChangeKind.FEATURE, R3),
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


def test_a_text_asking_for_two_kinds_is_a_feature() -> None:
    assert classify("Fix lint and bump requests to 2.32.3", "", [], "Task") == (ChangeKind.FEATURE, R2)


def test_the_description_names_the_kind_only_when_the_title_names_none() -> None:
    assert classify("Dependency update", "Please bump pydantic to 2.8.2.", [], "Task").change_kind is (
        ChangeKind.DEPENDENCY_BUMP)
    assert classify("Fix lint: remove unused imports", "Then set up CI.", [], "Task").change_kind is (
        ChangeKind.LINT_FIX)
    assert classify("Add CSV export", "Mention it in the README.", [], "Task").change_kind is ChangeKind.FEATURE


@pytest.mark.parametrize(
    ("text", "bump"),
    [("Bump requests to 2.32.3", ("requests", "2.32.3")),
     ("chore(deps): bump urllib3 from 2.0.7 to 2.2.2", ("urllib3", "2.2.2")),
     ("Abhängigkeit requests auf 2.32.3 aktualisieren", ("requests", "2.32.3")),
     ("Upgrade the requests[socks] dependency to v2.32.3.", ("requests[socks]", "2.32.3")),
     ("Update timeout to 30 seconds", None), ("Update timeout to 30.5", None), ("Upgrade Python to 3.12", None),
     ("Bump react to 19", None), ("Bump the react dependency to 19", ("react", "19"))],
)
def test_find_bump(text: str, bump: tuple[str, str] | None) -> None:
    assert find_bump(text) == bump


def test_major_tag_makes_a_bump_r2() -> None:
    assert classify("Bump react to 19.0.0", "", ["major"], "Task") == (ChangeKind.DEPENDENCY_BUMP, R2)


@pytest.mark.parametrize(("tags", "risk"), [(["risk:R2"], R2), (["RISK:r3"], R3), (["risk:R0"], R1)])
def test_risk_tags_raise_but_never_lower(tags: list[str], risk: RiskClass) -> None:
    assert classify("Bump requests to 2.32.3", "", tags, "Task").risk_class is risk


@pytest.mark.parametrize("tag", ["security", "Production"])
def test_security_and_production_tags_need_r3(tag: str) -> None:
    assert classify("Fix typo on the login page", "", [tag], "Task") == (ChangeKind.DOCS, R3)


def test_epics_are_features_at_least_r2() -> None:
    assert classify("Explain setup in the README", "", [], "Epic") == (ChangeKind.FEATURE, R2)
    assert classify("Explain setup in the README", "", [], "Feature") == (ChangeKind.DOCS, R2)


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
