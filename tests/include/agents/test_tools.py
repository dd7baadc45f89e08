"""The tool runner: every tool runs in the sandbox with an environment built from an allowlist, the same on
every machine; a hung tool is killed with its children; a repository cannot stand in for a scanner."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

import pytest

from include.agents import tools
from include.agents.errors import ToolError

PRINT_ENV = "import json, os; print(json.dumps(dict(os.environ)))"


def test_tools_see_nothing_of_the_workers_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETPILOT_DATABASE_URL", "postgresql://secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-model-code")
    monkeypatch.setenv("INVOICING_API_KEY", "a variable the worker happens to have")
    monkeypatch.setenv("PYTHONPATH", "/work/main")
    monkeypatch.setenv("COLUMNS", "17")
    result = tools.run([sys.executable, "-c", PRINT_ENV], tmp_path)
    env = json.loads(result.stdout)
    assert result.exit_code == 0
    assert not {"TICKETPILOT_DATABASE_URL", "OPENAI_API_KEY", "INVOICING_API_KEY", "PYTHONPATH"} & set(env)
    assert env["COLUMNS"] == "160"  # summaries wrap the same on every machine, whatever the caller's terminal
    assert env["LANG"] == "C.UTF-8" and "/usr/bin" in env["PATH"].split(":")


def test_a_hung_tool_is_killed_with_its_children(tmp_path: Path) -> None:
    token = f"tp-hung-{uuid.uuid4().hex}"  # the child's pid is namespaced: find it by its argv instead
    child = ("import subprocess, sys, time\n"
             f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', {token!r}])\n"
             "time.sleep(60)\n")
    result = tools.run([sys.executable, "-c", child], tmp_path, timeout_s=2)
    assert result.timed_out
    assert result.exit_code == tools.TIMEOUT_EXIT_CODE
    assert "killed after 2s timeout" in result.stderr
    assert result.duration_s < 30
    assert not _running(token)


def _running(token: str) -> bool:
    """Whether a live (not zombie) process has `token` in its argv, waiting a moment for the kill to land."""
    for _ in range(50):
        alive = False
        for proc in Path("/proc").iterdir():
            try:
                if token.encode() in (proc / "cmdline").read_bytes():
                    alive = alive or (proc / "stat").read_text().split(") ")[-1][0] != "Z"
            except (FileNotFoundError, NotADirectoryError, PermissionError, ProcessLookupError):
                continue
        if not alive:
            return False
        time.sleep(0.1)
    return True


def test_a_repository_module_cannot_stand_in_for_a_scanner(tmp_path: Path) -> None:
    (tmp_path / "bandit").mkdir()
    (tmp_path / "bandit" / "__main__.py").write_text("print('{\"results\": []}')\n")
    (tmp_path / "run.py").write_text("import subprocess\n\nsubprocess.call('ls', shell=True)\n")
    findings = tools.bandit_findings(tmp_path, ["run.py"])
    assert "B602" in {finding["test_id"] for finding in findings}


def test_a_venv_that_cannot_be_built_fails_the_step_with_the_installers_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETPILOT_HOME", str(tmp_path / "home"))
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "requirements.txt").write_text("six==0.0.0.1\n")
    with pytest.raises(ToolError, match="(?s)building the repository's venv failed.*No matching distribution"):
        tools.repo_sandbox(tmp_path / "repo")
    assert not list((tmp_path / "home" / "venvs").glob("*/ticketpilot-venv.json")), "no half-built venv is kept"


def test_a_ci_command_runs_with_the_named_interpreter() -> None:
    assert tools.with_our_python(["python", "-m", "pytest", "-q"]) == [sys.executable, "-m", "pytest", "-q"]
    assert tools.with_python(["python3", "-m", "pytest"], "/venv/bin/python") == ["/venv/bin/python", "-m", "pytest"]
    assert tools.with_our_python(["make", "test"]) == ["make", "test"]
