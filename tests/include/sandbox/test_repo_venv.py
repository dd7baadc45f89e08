"""The repository's own venv: what it declares (and nothing that would run its code on the worker), cached by
its declarations, rebuilt when a pin moves, built once when two steps want it at the same time."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from include.sandbox import Sandbox, repo_venv
from include.sandbox import venv as venv_module
from include.sandbox.requirements import declared
from tests.include.sandbox.conftest import BUMPED, PIN, make_repo

PYPROJECT = """[project]
name = "My_Lib"
dependencies = ["attrs>=23", "tomli; python_version < '3.11'"]
dynamic = ["version"]

[project.optional-dependencies]
test = ["pytest>=8", "my-lib[fast]"]
fast = ["orjson"]
docs = ["sphinx"]

[dependency-groups]
dev = ["coverage", {include-group = "lint"}]
lint = ["ruff"]
"""
SETUP_CFG = """[metadata]
name = my-lib

[options]
install_requires =
    idna>=3
tests_require = hypothesis

[options.extras_require]
dev = black
"""
REQUIREMENTS = """# runtime
-r requirements/base.txt
-c constraints.txt
-e .
./vendored/pkg
--index-url https://evil.example/simple
packaging==24.1 --hash=sha256:deadbeef \\
    --hash=sha256:feedface
local @ file:///tmp/local.whl
"""


def test_declared_reads_every_file_and_drops_what_would_run_repository_code(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "setup.cfg").write_text(SETUP_CFG)
    (tmp_path / "requirements.txt").write_text(REQUIREMENTS)
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "base.txt").write_text("six==1.16.0  # pinned\n")
    (tmp_path / "constraints.txt").write_text("idna<4\n")
    (tmp_path / "requirements-docs.txt").write_text("sphinx\n")
    found = declared(tmp_path)
    assert found.requirements == ["attrs>=23", "black", "coverage", "hypothesis", "idna>=3", "orjson",
                                  "packaging==24.1", "pytest>=8", "ruff", "six==1.16.0",
                                  'tomli; python_version < "3.11"']
    assert found.constraints == ["idna<4"]
    assert found.sources == ["constraints.txt", "pyproject.toml", "requirements.txt", "requirements/base.txt",
                             "setup.cfg"]
    skipped = "\n".join(found.skipped)
    assert "option '-e'" in skipped and "option '--index-url'" in skipped
    assert "'./vendored/pkg' is not a named requirement" in skipped and "points at a local path" in skipped
    assert "dependencies are dynamic" not in skipped  # only the version is dynamic here


def test_a_cached_venv_is_reused_and_a_changed_file_builds_a_new_one(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    first = repo_venv(repo)
    marker = first / venv_module.MARKER
    built, used = (first / "pyvenv.cfg").stat().st_mtime_ns, marker.stat().st_mtime_ns
    (repo / "README.md").write_text("a change that declares nothing new\n")
    assert repo_venv(repo) == first and (first / "pyvenv.cfg").stat().st_mtime_ns == built, "not rebuilt"
    assert marker.stat().st_mtime_ns > used, "the reuse is recorded as its last use (retention of unused ones)"
    (repo / "requirements.txt").write_text(f"{PIN}\n# a comment changes nothing either\n")
    assert repo_venv(repo) == first
    assert json.loads(marker.read_text())["requirements"] == ["pytest", PIN]
    (repo / "requirements.txt").write_text(f"{PIN}\niniconfig\n")
    assert repo_venv(repo) != first


def test_a_bumped_pin_is_what_the_venv_has_and_two_steps_build_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = Sandbox.for_workdir(make_repo(tmp_path / "old"))
    bumped_repo = make_repo(tmp_path / "bumped", f"{BUMPED}\n")
    builds: list[Path] = []
    build = venv_module._build

    def counted(venv: Path, wanted: object) -> None:
        builds.append(venv)
        build(venv, wanted)  # type: ignore[arg-type]

    monkeypatch.setattr(venv_module, "_build", counted)
    found: list[Path] = []
    steps = [threading.Thread(target=lambda: found.append(repo_venv(bumped_repo))) for _ in range(2)]
    for step in steps:
        step.start()
    for step in steps:
        step.join()
    assert len(set(found)) == 1 and len(found) == 2
    assert len(builds) == 1, "the second step waited for the first one's build and took it"
    bumped = Sandbox.for_workdir(bumped_repo)
    version = "import six; print(six.__version__)"
    assert old.run([old.python, "-c", version]).stdout.strip() == "1.16.0"
    assert bumped.run([bumped.python, "-c", version]).stdout.strip() == "1.17.0"
    tested = bumped.run([bumped.python, "-m", "pytest", "-q"], timeout_s=120)
    assert tested.exit_code == 0 and "1 passed" in tested.stdout
