"""The real-project fixtures: each sdist builds into a git repository that keeps its licence, carries the planted
defects where the platform's own scanners find them, and passes its own test suite in the sandbox's venv built
from what the repository declares (one venv per project per session)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from include.agents import tools
from include.agents.playbooks.preconditions import declared_in
from include.contracts import ChangeKind
from include.demo.real_projects import (
    BRANCH,
    CI_FILES,
    REPLAY_MODEL,
    SDISTS,
    Project,
    build,
    deliveries,
    main,
    project,
    project_names,
    project_tenant,
    publish,
)
from include.policies.kinds import find_bump
from include.sandbox import Sandbox, repo_venv
from include.scm.local import LocalForge
from model_serving.router.providers.replay import DEFAULT_DIR, load_scripts

PROJECTS = project_names()
REPLAY_DIR = DEFAULT_DIR / "real-projects"
PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider"]
PLAYBOOK_KINDS = {ChangeKind.DEPENDENCY_BUMP, ChangeKind.SECRET_REMEDIATION, ChangeKind.LINT_FIX,
                  ChangeKind.PIPELINE, ChangeKind.DOCS}


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("real-projects")
    return {name: build(root / name, name) for name in PROJECTS}


@pytest.fixture(scope="session")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real-project-venvs")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def commit_of(repo: Path, message: str) -> str:
    return git(repo, "log", "--format=%H", "--fixed-strings", "--grep", message).split()[0]


def pinned(repo: Path, spec: Project) -> Version:
    """The version the planted pin holds, read from the file the plant wrote."""
    path = repo / spec.plant("pin").path
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith(("#", "-")):
            requirement = Requirement(line)
            if requirement.name == spec.dependency.name:
                (only,) = requirement.specifier
                assert only.operator == "==", line
                return Version(only.version)
    raise AssertionError(f"{path.name} pins no {spec.dependency.name}")


def dotted(path: str) -> str:
    """`src/pkg/mod.py` -> `pkg.mod`."""
    parts = PurePosixPath(path).with_suffix("").parts
    return ".".join(parts[1:] if parts[0] == "src" else parts)


@pytest.mark.parametrize("name", PROJECTS)
def test_sdist_is_small_and_is_the_recorded_one(name: str) -> None:
    spec = project(name)
    data = (SDISTS / spec.sdist).read_bytes()
    assert len(data) < 300_000
    assert hashlib.sha256(data).hexdigest() == spec.sha256
    source = (SDISTS / "SOURCE.md").read_text(encoding="utf-8")
    assert spec.sha256 in source and f"| {spec.version} | {spec.licence} |" in source


@pytest.mark.parametrize("name", PROJECTS)
def test_history_is_the_import_then_one_commit_per_defect(built: dict[str, Path], name: str) -> None:
    spec, repo = project(name), built[name]
    assert git(repo, "branch", "--show-current").strip() == BRANCH
    subjects = git(repo, "log", "--reverse", "--format=%s").splitlines()
    assert subjects == [f"Import {name} {spec.version} from its sdist", *(p.message for p in spec.plants)]
    assert git(repo, "status", "--porcelain") == ""
    for plant in spec.plants:  # each commit changes exactly the path its plant names
        changed = git(repo, "show", "--name-only", "--format=", commit_of(repo, plant.message)).split()
        assert changed and all(path.startswith(plant.path) for path in changed), (plant.defect, changed)


def test_a_rebuild_gives_the_same_commits_and_publishing_keeps_the_history(built: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    assert main([str(tmp_path / "again"), "--project", "freezegun"]) == 0
    head = git(built["freezegun"], "rev-parse", "HEAD").strip()
    assert git(tmp_path / "again" / "freezegun", "rev-parse", "HEAD").strip() == head
    forge = LocalForge("freezegun", tmp_path / "forge", "postgresql://unused")  # repositories need no database
    assert publish(forge, "freezegun", built["freezegun"]) == head
    assert publish(forge, "freezegun", tmp_path / "again" / "freezegun") == head  # an existing one is kept
    clone = forge.checkout("freezegun", BRANCH, tmp_path / "clone")
    assert git(clone, "log", "--format=%s").splitlines() == git(built["freezegun"], "log", "--format=%s").splitlines()
    assert git(forge.repo_path("freezegun"), "remote").strip() == ""


@pytest.mark.parametrize("name", PROJECTS)
def test_licence_files_are_kept_and_build_artefacts_are_not(built: dict[str, Path], name: str) -> None:
    spec, repo = project(name), built[name]
    tracked = set(git(repo, "ls-files").split())
    assert set(spec.licence_files) <= tracked
    assert all((repo / path).stat().st_size > 500 for path in spec.licence_files)
    assert not [path for path in tracked if ".egg-info/" in path]
    assert "PKG-INFO" in tracked


@pytest.mark.parametrize("name", PROJECTS)
def test_detect_secrets_finds_the_planted_credential(built: dict[str, Path], name: str) -> None:
    repo, plant = built[name], project(name).plant("credential")
    findings = tools.secret_findings(repo, [plant.path])
    assert findings and {f["filename"] for f in findings} == {plant.path}
    diff = git(repo, "show", "--format=", "-U0", commit_of(repo, plant.message)).splitlines()
    added = {line[1:] for line in diff if line.startswith("+") and not line.startswith("+++")}
    lines = (repo / plant.path).read_text(encoding="utf-8").splitlines()
    assert all(lines[f["line_number"] - 1] in added for f in findings), "only the planted lines are flagged"


@pytest.mark.parametrize("name", PROJECTS)
def test_ruff_finds_the_unused_imports(built: dict[str, Path], name: str) -> None:
    repo, path = built[name], project(name).plant("lint").path
    source = (repo / path).read_text(encoding="utf-8")
    findings = tools.ruff_findings(repo, [path])
    assert (repo / path).read_text(encoding="utf-8") == source, "looking for findings must not fix them"
    assert {f["code"] for f in findings if f["filename"] == path} >= {"F401"}


@pytest.mark.parametrize("name", PROJECTS)
def test_the_pin_is_older_than_latest_and_inside_the_declared_range(built: dict[str, Path], name: str) -> None:
    spec, repo = project(name), built[name]
    version = pinned(repo, spec)
    assert version == Version(spec.dependency.pinned) < Version(spec.dependency.latest)
    assert version in SpecifierSet(spec.dependency.declared)
    assert spec.plant("pin").path in declared_in(repo, spec.dependency.name)


@pytest.mark.parametrize("name", PROJECTS)
def test_there_is_no_ci_definition_and_the_readme_typo_occurs(built: dict[str, Path], name: str) -> None:
    spec, repo = project(name), built[name]
    assert not [path for path in CI_FILES if (repo / path).exists()]
    readme = (repo / spec.typo.path).read_text(encoding="utf-8")
    assert readme.count(spec.typo.wrong) == 1 and spec.typo.right not in readme


@pytest.mark.parametrize("name", PROJECTS)
def test_tickets_cover_every_kind_and_both_outcomes(name: str) -> None:
    tickets = project(name).tickets
    merged = {t.expect.kind for t in tickets if t.expect.outcome == "merged"}
    refused = [t for t in tickets if t.expect.outcome == "refused"]
    assert merged == PLAYBOOK_KINDS
    assert {t.type for t in refused if t.expect.kind is ChangeKind.FEATURE} >= {"Bug", "User Story"}
    assert any(t.expect.kind is ChangeKind.DEPENDENCY_BUMP for t in refused)
    assert [d["resource"]["fields"]["System.Title"] for d in deliveries(name)] == [t.title for t in tickets]


def test_ticket_ids_are_unique_and_some_tickets_are_german() -> None:
    tickets = [t for name in PROJECTS for t in project(name).tickets]
    assert len({t.id for t in tickets}) == len(tickets)
    assert sum(t.language == "de" for t in tickets) >= 2


@pytest.mark.parametrize("name", PROJECTS)
def test_labels_agree_with_the_repository(built: dict[str, Path], name: str) -> None:
    """Every label is true of the built repository: merged tickets ask for a change that is needed there, the
    bump names the declared dependency and the refused bump a package the repository does not declare."""
    spec, repo = project(name), built[name]
    for ticket in spec.tickets:
        expect = ticket.expect
        for path in expect.touches:
            assert (repo / path).exists() is (expect.kind is not ChangeKind.PIPELINE), (ticket.id, path)
        for path, text in expect.present.items():
            assert text not in (repo / path).read_text(encoding="utf-8"), (ticket.id, text)
        for path, text in expect.absent.items():
            assert text in (repo / path).read_text(encoding="utf-8"), (ticket.id, text)
        if expect.kind is ChangeKind.DEPENDENCY_BUMP:
            package, version = find_bump(ticket.title) or ("", "")
            if expect.outcome == "merged":
                assert (package, version) == (spec.dependency.name, spec.dependency.latest)
                assert declared_in(repo, package)
            else:
                assert package and not declared_in(repo, package), ticket.title


@pytest.mark.parametrize("name", PROJECTS)
def test_its_own_suite_passes_on_main_in_its_own_venv(built: dict[str, Path], venvs: Path, name: str) -> None:
    repo = built[name]
    sandbox = Sandbox(repo.resolve(), repo_venv(repo, root=venvs))
    result = sandbox.run([sandbox.python, *PYTEST], timeout_s=300)
    assert result.exit_code == 0, result.output_tail
    assert " passed" in result.output_tail
    module = dotted(project(name).plant("credential").path)
    package = module.split(".")[0]
    probe = sandbox.run([sandbox.python, "-c", f"import sys, {package}; print({module!r} in sys.modules)"])
    assert probe.stdout.strip() == "True", "importing the package (as the tests do) loads the credential"


def test_the_src_layout_project_fails_with_the_platforms_interpreter(built: dict[str, Path]) -> None:
    """Run with Ticketpilot's interpreter, the package cannot render a table for want of its runtime dependency
    (imported on first use), and the suite fails: the reason a repository's tests must run in its own venv."""
    name = "prettytable"
    assert project(name).layout == "src"
    repo = built[name]
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(repo / "src"), "PYTHONDONTWRITEBYTECODE": "1"}

    def ours(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *args], cwd=repo, env=env, capture_output=True, text=True,
                              check=False, timeout=300)

    rendered = ours("-c", "import prettytable; t = prettytable.PrettyTable(['a']); t.add_row([1]); print(t)")
    assert rendered.returncode != 0
    assert f"No module named '{project(name).dependency.name}'" in rendered.stderr
    assert ours(*PYTEST).returncode != 0


def test_a_model_tenant_sits_beside_the_plain_one_with_its_policy() -> None:
    plain, llm = project_tenant("prettytable"), project_tenant("prettytable", REPLAY_MODEL)
    assert (plain.tenant_id, plain.routing_policy) == ("prettytable", None)
    assert llm.tenant_id == "prettytable-llm" and llm.default_repo == plain.default_repo == "prettytable"
    assert llm.routing_policy is not None and llm.routing_policy.default_model == REPLAY_MODEL


@pytest.mark.parametrize("name", PROJECTS)
def test_each_replayed_label_has_exactly_one_script_and_no_script_is_orphaned(name: str) -> None:
    """The replay picks the first script whose texts occur in the task: each labelled title must pick one, and a
    script no labelled ticket picks is dead weight."""
    scripts = load_scripts(REPLAY_DIR / f"{name}.yaml").scripts
    titled = [t for t in project(name).tickets if t.replayed is not None]
    assert titled, f"{name} has no ticket for the loop"
    for ticket in titled:
        assert sum(s.fits(ticket.title) for s in scripts) == 1, ticket.title
    assert all(any(s.fits(t.title) for t in titled) for s in scripts)
