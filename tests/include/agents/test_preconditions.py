"""Each playbook's precondition against a real git working copy: real ruff and detect-secrets runs (a few, since
each costs about a second), the dependency files of four ecosystems, the forge's CI file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from include.agents.playbooks import lint, typo
from include.agents.playbooks.preconditions import check, declared_in
from include.contracts import ChangeKind, RiskClass, Ticket
from include.demo.repo import demo_repo_files

EXTRA_FILES = {
    "pyproject.toml": '[project]\nname = "svc"\ndependencies = ["attrs>=23"]\n'
                      '[project.optional-dependencies]\nhttp = ["httpx>=0.27"]\n',
    "setup.cfg": "[options]\ninstall_requires =\n    click>=8\n[options.extras_require]\ncolor = rich>=13\n",
    "web/package.json": '{"dependencies": {"lodash": "^4.17.20"}, "devDependencies": {"jest": "29.0.0"}}',
    "api/Api.csproj": '<Project Sdk="Microsoft.NET.Sdk"><ItemGroup>'
                      '<PackageReference Include="Newtonsoft.Json" Version="13.0.1" /></ItemGroup></Project>',
    "README.md": "# svc\n\nYou recieve a receipt.\n",
    "billing/clean.py": '"""Clean."""\n\n\ndef total() -> int:\n    return 1\n',
}


def git_repo(root: Path, files: dict[str, str]) -> Path:
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content, encoding="utf-8")
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "seed"]):
        subprocess.run(["git", *argv], cwd=root, check=True, capture_output=True)
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The demo repository (a leaked key, unused imports in invoicing/totals.py, no CI) plus the files above."""
    files = demo_repo_files() | EXTRA_FILES
    files["pyproject.toml"] = EXTRA_FILES["pyproject.toml"] + files_of_demo_pyproject_tools()
    return git_repo(tmp_path / "svc", files)


def files_of_demo_pyproject_tools() -> str:
    """The demo's ruff configuration, so ruff judges the copy as the demo's own settings say."""
    text = demo_repo_files()["pyproject.toml"]
    return text[text.index("[tool.ruff]"):]


def ticket(kind: ChangeKind, title: str, description: str = "") -> Ticket:
    return Ticket(tenant="acme", workitem_id=7, rev=1, title=title, description=description, repo="svc",
                  change_kind=kind, risk_class=RiskClass.R1)


BUMP, SECRET, LINT = ChangeKind.DEPENDENCY_BUMP, ChangeKind.SECRET_REMEDIATION, ChangeKind.LINT_FIX
DOCS, PIPELINE, FEATURE = ChangeKind.DOCS, ChangeKind.PIPELINE, ChangeKind.FEATURE

CASES = [
    (BUMP, "Bump requests to 2.32.3", {}, True, "requests is declared in requirements.txt"),
    (BUMP, "Upgrade httpx to 0.28.1", {}, True, "httpx is declared in pyproject.toml"),
    (BUMP, "Bump rich to 13.9.4", {}, True, "rich is declared in setup.cfg"),
    (BUMP, "Upgrade lodash from 4.17.20 to 4.17.21", {}, True, "lodash is declared in web/package.json"),
    (BUMP, "Upgrade Newtonsoft.Json to 13.0.3", {}, True, "Newtonsoft.Json is declared in api/Api.csproj"),
    (BUMP, "Bump flask to 3.0.3", {}, False, "the repository declares no package 'flask'"),
    (BUMP, "Bump the requests dependency to 2.x", {}, False, "'2.x' is not a version number"),
    (BUMP, "Bump requests", {}, False, "names no package and version"),
    (DOCS, "Fix typo 'recieve' in README", {}, True, "'recieve' occurs in README.md"),
    (DOCS, "Fix typo 'seperate' in README", {}, False, "'seperate' does not occur in README.md"),
    (DOCS, "Tippfehler in README korrigieren", {}, False, "quotes no typo"),
    (PIPELINE, "Add a CI pipeline", {}, True, "has no Azure Pipelines definition"),
    (PIPELINE, "Add a CI pipeline", {"azure-pipelines.yml": "steps: []\n"}, False, "already has Azure Pipelines"),
    (PIPELINE, "Update azure-pipelines.yml to Python 3.12", {"azure-pipelines.yml": "steps: []\n"}, True,
     "the ticket asks to change"),
    (FEATURE, "Add CSV export", {}, True, "no playbook"),
]


@pytest.mark.parametrize(("kind", "title", "files", "ok", "reason"), CASES, ids=[c[1][:40] for c in CASES])
def test_precondition_without_tools(tmp_path: Path, kind: ChangeKind, title: str, files: dict[str, str], ok: bool,
                                    reason: str) -> None:
    root = git_repo(tmp_path / "svc", demo_repo_files() | EXTRA_FILES | files)
    result = check(ticket(kind, title), root, "ado")
    assert (result.ok, reason in result.reason) == (ok, True), result.reason


def test_ci_file_is_the_forges(tmp_path: Path) -> None:
    root = git_repo(tmp_path / "svc", {"azure-pipelines.yml": "steps: []\n", "README.md": "x\n"})
    assert check(ticket(PIPELINE, "Set up CI"), root, "github").ok, "GitHub runs no azure-pipelines.yml"
    assert not check(ticket(PIPELINE, "Set up CI"), root, "ado").ok


TOOL_CASES = [
    (SECRET, "Remove leaked Stripe API key from config", "", True,
     "detect-secrets finds a secret at invoicing/config.py:"),
    (LINT, "Fix lint: remove unused imports", "ruff reports F401 in invoicing/totals.py.", True,
     "in invoicing/totals.py"),
    (LINT, "Fix ruff findings in billing", "", False, "ruff finds nothing it can fix in billing"),
    (LINT, "Fix F841 in invoicing/totals.py", "", False, "ruff finds nothing it can fix for F841 in "
     "invoicing/totals.py"),
]


@pytest.mark.parametrize(("kind", "title", "description", "ok", "reason"), TOOL_CASES,
                         ids=[c[1][:40] for c in TOOL_CASES])
def test_precondition_with_real_scanners(repo: Path, kind: ChangeKind, title: str, description: str, ok: bool,
                                         reason: str) -> None:
    result = check(ticket(kind, title, description), repo)
    assert (result.ok, reason in result.reason) == (ok, True), result.reason


def test_no_secret_means_no_secret_playbook(tmp_path: Path) -> None:
    files = {k: v for k, v in demo_repo_files().items() if k != "invoicing/config.py"}
    result = check(ticket(SECRET, "Geleakten API-Schlüssel entfernen"), git_repo(tmp_path / "svc", files))
    assert (result.ok, result.reason) == (False, "detect-secrets finds no secret in the repository")


def test_lint_scope_reads_paths_modules_and_named_directories(repo: Path) -> None:
    assert lint.lint_scope(ticket(LINT, "Fix lint in invoicing.totals"), repo) == ["invoicing/totals.py"]
    assert lint.lint_scope(ticket(LINT, "Linter-Warnungen im Modul billing beheben"), repo) == ["billing"]
    assert lint.lint_scope(ticket(LINT, "Remove unused imports"), repo) == []
    assert lint.lint_scope(ticket(LINT, "Fix ruff F401 findings in billing/clean.py"), repo) == ["billing/clean.py"], \
        "a path after 'in' names the file, not the package it starts with"
    assert declared_in(repo, "Attrs") == ["pyproject.toml"]


@pytest.mark.parametrize(("title", "description", "rules"), [
    ("Fix ruff F401 findings in freezegun/api.py", "", ["F401"]),
    ("Lint: unused imports in colortable.py", "ruff reports F401 for os and sys", ["F401"]),
    ("Clean up unused imports in bleach/callbacks.py", "imported but unused", ["F401"]),
    ("Ungenutzte Importe im Modul billing entfernen", "", ["F401"]),
    ("Fix E501 and UP006 in the S3 uploader", "also C901 in sync()", ["E501", "UP006", "C901"]),
    ("Sort the imports in api.py", "", ["I001"]),
    ("Fix lint in billing", "ruff is red on main", []),
    ("Remove the AWS S3 key from AB#403", "", []),
], ids=lambda value: value if isinstance(value, str) else None)
def test_lint_rules_are_the_ones_the_ticket_names(title: str, description: str, rules: list[str]) -> None:
    assert lint.lint_rules(ticket(LINT, title, description)) == rules


@pytest.mark.parametrize(("description", "expected"), [
    ('In README.md: "keeps the field names as they were so you that you can repopulate it" should read '
     '"so that you can repopulate it".', {"so you that you can repopulate it": "so that you can repopulate it"}),
    ("In README.rst steht „Bleach can also linkify text safley“, richtig ist „safely“.", {"safley": "safely"}),
    ("Replace 'recieve' -> 'receive' in the README.", {"recieve": "receive"}),
], ids=["a sentence quoted, a fragment corrected", "German quotes", "arrow"])
def test_typo_corrections_as_teams_write_them(description: str, expected: dict[str, str]) -> None:
    assert typo.corrections(ticket(ChangeKind.DOCS, "Fix a typo in the README", description)) == expected


def test_a_quoted_phrase_is_found_across_a_line_break(tmp_path: Path) -> None:
    text = "keeps the field names as they were so you that you can\nrepopulate it.\n"
    fixed = typo.occurrence("so you that you can repopulate it").sub("so that you can repopulate it", text)
    assert fixed == "keeps the field names as they were so that you can repopulate it.\n"
