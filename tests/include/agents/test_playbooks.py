"""Each playbook on a plain directory seeded with the demo repository: real ruff and detect-secrets,
no SCM, no database."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

from include.agents import tools
from include.agents.errors import AgentError, NeedsModelError
from include.agents.playbooks import adr, changelog, dependency, lint, playbook_for, readme, secrets, typo
from include.agents.playbooks import pipeline as template
from include.agents.workspace import diffstat
from include.contracts import ChangeKind, Ticket
from include.scm import FileChange

MakeTicket = Callable[..., Ticket]
PIPELINE, BUMP, SECRET, LINT = 101, 102, 103, 104


def apply(changes: list[FileChange], root: Path) -> None:
    for change in changes:
        (root / change.path).write_text(change.content or "", encoding="utf-8")


def test_dependency_bump_rewrites_only_the_pin(demo_dir: Path, demo_ticket: MakeTicket) -> None:
    ticket = demo_ticket(BUMP)
    assert dependency.parse_bump(ticket) == ("requests", Version("2.32.3"))
    changes = playbook_for(ticket)(ticket, demo_dir)
    assert changes == [FileChange(path="requirements.txt", content="requests==2.32.3\n")]
    apply(changes, demo_dir)
    assert playbook_for(ticket)(ticket, demo_dir) == []  # a rerun on its own result changes nothing


def test_dependency_bump_raises_pins_but_never_narrows_library_metadata(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "svc"\ndependencies = [\n  "requests[socks]>=2.31.0,<3; python_version >= \'3.9\'",\n'
        '  "httpx==0.27.0",\n]\n[project.optional-dependencies]\nhttp2 = ["h2==4.0.0"]\n'
    )
    (tmp_path / "setup.cfg").write_text("[options]\ninstall_requires =\n    requests>=2.20\n"
                                        "[options.extras_require]\nsocks = requests[socks]>=2.20\n")
    (tmp_path / "requirements-dev.txt").write_text("Requests == 2.31.0  # pinned for CI\npytest==8.0.0\n")
    changes = {c.path: c.content for c in dependency.bump(tmp_path, "requests", Version("2.32.3"))}
    assert changes == {"requirements-dev.txt": "Requests ==2.32.3  # pinned for CI\npytest==8.0.0\n"}, \
        "ranges in pyproject.toml and setup.cfg already admit 2.32.3 and stay as they are"
    changes = {c.path: c.content for c in dependency.bump(tmp_path, "h2", Version("4.1.0"))}
    assert 'http2 = ["h2==4.1.0"]' in changes["pyproject.toml"], "an exact pin in metadata is raised"
    with pytest.raises(AgentError, match="the range .*excludes 3.0.0; library metadata is not narrowed or widened"):
        dependency.bump(tmp_path, "requests", Version("3.0.0"))


@pytest.mark.parametrize(
    ("package", "version", "message"),
    [("flask", "3.0.0", "'flask' has no version pin"), ("requests", "2.30.0", "never downgrades")],
)
def test_dependency_bump_refuses_what_it_cannot_do(demo_dir: Path, package: str, version: str, message: str) -> None:
    with pytest.raises(AgentError, match=message):
        dependency.bump(demo_dir, package, Version(version))


def test_dependency_bump_needs_package_and_version(demo_ticket: MakeTicket) -> None:
    ticket = demo_ticket(BUMP, title="Bump requests", description="Please upgrade it.")
    with pytest.raises(AgentError, match="Bump requests to 2.32.3"):
        dependency.parse_bump(ticket)


def test_secret_remediation_moves_the_key_to_the_environment(demo_dir: Path, demo_ticket: MakeTicket) -> None:
    assert tools.secret_findings(demo_dir)  # the seed really leaks
    changes = playbook_for(demo_ticket(SECRET))(demo_ticket(SECRET), demo_dir)
    assert [c.path for c in changes] == [".env.example", "invoicing/config.py"]
    source = changes[1].content or ""
    assert 'if name == "API_KEY":\n        return _required_env("INVOICING_API_KEY")' in source
    assert "sk_live" not in source and "import os\n" in source
    assert source.index('"""Settings') < source.index("import os") < source.index("API_BASE_URL")
    ast.parse(source)
    assert tools.secret_findings(demo_dir) == []
    assert secrets.env_vars_read(source) == ["INVOICING_API_KEY"]
    assert "\nINVOICING_API_KEY=\n" in (changes[0].content or "")


def test_lint_fix_runs_ruff_fix_and_nothing_else(demo_dir: Path, demo_ticket: MakeTicket) -> None:
    changes = playbook_for(demo_ticket(LINT))(demo_ticket(LINT), demo_dir)
    assert [c.path for c in changes] == ["invoicing/totals.py"]
    fixed = changes[0].content or ""
    assert "import json" not in fixed and "import math" not in fixed and "Iterable" not in fixed
    assert "from decimal import ROUND_HALF_UP, Decimal" in fixed
    assert tools.ruff_findings(demo_dir, ["invoicing/totals.py"]) == []
    assert lint.fix(demo_dir) == []


def test_lint_fix_fixes_the_named_rule_in_the_named_file_only(demo_dir: Path, demo_ticket: MakeTicket) -> None:
    """The repository's own selection reaches further (here: pyupgrade's rules, and a second module with unused
    imports); a ticket that names F401 in one file changes that, and nothing else."""
    pyproject = demo_dir / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('select = ["E4", "E7", "E9", "F"]',
                                                       'select = ["E4", "E7", "E9", "F", "UP"]'))
    other = demo_dir / "invoicing" / "other.py"
    other.write_text("import os\nfrom typing import List, Optional\n\n\n"
                     "def names(given: Optional[List[str]] = None) -> List[str]:\n    return given or []\n")
    totals = demo_dir / "invoicing" / "totals.py"
    totals.write_text(totals.read_text() + "\n\ndef pick(x: Optional[int]) -> Optional[int]:\n    return x\n")
    totals.write_text("from typing import Optional\n" + totals.read_text())
    ticket = demo_ticket(LINT, title="Fix ruff F401 findings in invoicing/totals.py",
                         description="ruff reports unused imports there.")
    changes = playbook_for(ticket)(ticket, demo_dir)
    assert [c.path for c in changes] == ["invoicing/totals.py"], "nothing outside the named file"
    fixed = changes[0].content or ""
    assert "import json" not in fixed and "Optional[int]" in fixed, "F401 fixed, pyupgrade's rules left alone"
    assert "import os" in other.read_text()


def test_docs_playbook_fixes_the_named_typo(demo_dir: Path, demo_ticket: MakeTicket) -> None:
    readme_path = demo_dir / "README.md"
    readme_path.write_text(readme_path.read_text() + "\nRecieve a receipt once you recieve the payment.\n")
    ticket = demo_ticket(PIPELINE, title="Fix typo 'recieve' in README", change_kind=ChangeKind.DOCS)
    changes = playbook_for(ticket)(ticket, demo_dir)
    assert [c.path for c in changes] == ["README.md"]
    assert "Receive a receipt once you receive the payment." in (changes[0].content or "")
    apply(changes, demo_dir)
    assert playbook_for(ticket)(ticket, demo_dir) == []


def test_docs_playbook_takes_an_explicit_correction_and_refuses_vague_tickets(
    demo_dir: Path, demo_ticket: MakeTicket
) -> None:
    explicit = demo_ticket(PIPELINE, title="Docs: replace 'cents' with 'minor units'", change_kind=ChangeKind.DOCS)
    assert "integer minor units" in (typo.apply(explicit, demo_dir)[0].content or "")
    vague = demo_ticket(PIPELINE, title="Improve the README", description="", change_kind=ChangeKind.DOCS)
    with pytest.raises(AgentError, match="named typos only"):
        typo.apply(vague, demo_dir)
    (demo_dir / "docs").mkdir()
    (demo_dir / "docs/usage.md").write_text("Run teh tests.\n")
    named = demo_ticket(PIPELINE, title="Fix typo 'teh' in docs/usage.md", change_kind=ChangeKind.DOCS)
    assert typo.apply(named, demo_dir) == [FileChange(path="docs/usage.md", content="Run the tests.\n")]
    absent = demo_ticket(PIPELINE, title="Fix typo 'seperate' in README", change_kind=ChangeKind.DOCS)
    with pytest.raises(AgentError, match="does not occur in README.md"):
        typo.apply(absent, demo_dir)


def test_pipeline_template_lifecycle(demo_dir: Path) -> None:
    action, change = template.plan(demo_dir, "main")
    assert action == "created" and change is not None
    rendered = change.content or ""
    assert rendered.splitlines()[0] == template.MARKER
    document = yaml.safe_load(rendered)
    scripts = "\n".join(str(step.get("script", "")) for step in document["steps"])
    assert "pip install -r requirements.txt" in scripts and "pip install pytest" in scripts
    assert document["steps"][0]["inputs"]["versionSpec"] == "3.11"
    assert document["trigger"]["branches"]["include"] == ["main"]
    apply([change], demo_dir)
    assert template.declared_test_command(demo_dir) == ["python", "-m", "pytest", "-q"]
    assert template.plan(demo_dir, "main") == ("unchanged", None)
    (demo_dir / "requirements-dev.txt").write_text("pytest==8.3.0\n")
    action, change = template.plan(demo_dir, "main")
    assert action == "updated" and "pip install pytest" not in (change.content or "")
    (demo_dir / template.PIPELINE_PATH).write_text("steps:\n  - script: pytest -x\n")
    assert template.plan(demo_dir, "main") == ("kept_user_owned", None)
    assert template.declared_test_command(demo_dir) == ["pytest", "-x"]


def test_feature_tickets_need_a_model(demo_ticket: MakeTicket, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket = demo_ticket(PIPELINE, change_kind=ChangeKind.FEATURE)
    monkeypatch.delenv("TICKETPILOT_LLM_MODEL", raising=False)
    with pytest.raises(NeedsModelError) as unconfigured:
        playbook_for(ticket)
    assert str(unconfigured.value) == (
        "Ticket acme-101 needs a language model (change kind 'feature') and none is configured. Configure the "
        "model router: create the Airflow connection 'llm_<tenant>' or 'llm_default' (type pydanticai, extra "
        '{"model": "provider:model"}, password = API key, host = base URL for a self-hosted server), or set '
        "TICKETPILOT_LLM_MODEL to a 'provider:model' (e.g. 'openai:gpt-4o-mini' with "
        "OPENAI_API_KEY, or 'vllm:<model>' with TICKETPILOT_LLM_BASE_URL pointing at an OpenAI-compatible server); "
        "see README \"Models\"."
    )
    monkeypatch.setenv("TICKETPILOT_LLM_MODEL", "vllm:Qwen/Qwen2.5-7B-Instruct")
    with pytest.raises(NeedsModelError,
                       match=r"asks the configured model \(vllm:Qwen/Qwen2.5-7B-Instruct\) for structured edits"):
        playbook_for(ticket)


def test_changelog_entries_land_in_their_subsection(demo_dir: Path, demo_ticket: MakeTicket) -> None:
    seed = (demo_dir / "CHANGELOG.md").read_text()
    lint_line = changelog.entry_line(demo_ticket(LINT), 7)
    assert lint_line == "- Fix lint: remove unused imports (AB#104, PR #7)"
    text = changelog.add_entry(seed, "Fixed", lint_line)
    text = changelog.add_entry(text, "Added", "- CI (AB#101, PR #8)")
    text = changelog.add_entry(text, "Fixed", "- Typo (AB#105, PR #9)")
    unreleased = text.split("## [Unreleased]\n", 1)[1].split("## [0.3.0]", 1)[0]
    assert unreleased == (
        "\n### Added\n\n- CI (AB#101, PR #8)\n\n### Fixed\n\n" + lint_line + "\n- Typo (AB#105, PR #9)\n\n"
    )
    assert text.endswith(seed.split("## [Unreleased]\n", 1)[1].split("\n", 1)[1])  # releases untouched
    assert changelog.add_entry(text, "Fixed", lint_line) == text
    created = changelog.add_entry(None, "Security", "- Key (AB#103, PR #2)")
    assert created.startswith(changelog.HEADER) and created.endswith("### Security\n\n- Key (AB#103, PR #2)\n")


def test_readme_sections_are_added_once_before_license() -> None:
    text = "# svc\n\n## Usage\n\nRun it.\n\n## License\n\nMIT\n"
    items = [("`A_KEY`", "- `A_KEY`: required")]
    once = readme.ensure_section(text, "Configuration", items, intro="Set these:")
    assert "## Usage\n\nRun it.\n\n## Configuration\n\nSet these:\n\n- `A_KEY`: required\n\n## License" in once
    assert readme.ensure_section(once, "Configuration", items) == once
    more = readme.ensure_section(once, "Configuration", [*items, ("`B_KEY`", "- `B_KEY`: optional")])
    assert "- `A_KEY`: required\n- `B_KEY`: optional\n\n## License" in more


def test_adr_only_when_asked_and_numbered(tmp_path: Path, demo_ticket: MakeTicket) -> None:
    assert not adr.wants_adr(demo_ticket(PIPELINE))
    ticket = demo_ticket(PIPELINE, title="Decide on Azure Pipelines for CI")
    assert adr.wants_adr(ticket) and adr.wants_adr(demo_ticket(LINT, tags=["ADR"]))
    (tmp_path / "docs/adr").mkdir(parents=True)
    (tmp_path / "docs/adr/0001-record-architecture-decisions.md").write_text("# 1. Record decisions\n")
    path, change = adr.adr_change(ticket, tmp_path, 5)
    assert path == "docs/adr/0002-decide-on-azure-pipelines-for-ci.md" and change is not None
    content = change.content or ""
    assert content.startswith("# 2. Azure Pipelines for CI\n")
    assert "## Context\n\ninvoicing-service has no CI" in content and "- Change: PR #5" in content
    assert "## Consequences\n\n- azure-pipelines.yml exists at the repository root" in content
    apply([change], tmp_path)
    assert adr.adr_change(ticket, tmp_path, 5) == (path, None)


def test_diffstat_counts_hunk_lines_and_deletions() -> None:
    diff = (
        "diff --git a/a.txt b/a.txt\nindex 1..2 100644\n--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n"
        " keep\n--- a removed line that starts with dashes\n+new\n"
        "diff --git a/gone.py b/gone.py\ndeleted file mode 100644\nindex 3..0\n--- a/gone.py\n+++ /dev/null\n"
        "@@ -1 +0,0 @@\n-x = 1\n"
    )
    stat = diffstat(diff)
    assert (stat.files, stat.deleted, stat.lines, stat.all_files) == (["a.txt"], ["gone.py"], 3, ["a.txt", "gone.py"])
