"""The tool runner: repository code runs without the platform's settings or model keys, the same on every
machine, and a hung tool is killed with its children."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from include.agents import tools

PRINT_ENV = "import json, os; print(json.dumps(dict(os.environ)))"


def test_tools_see_neither_platform_settings_nor_model_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETPILOT_DATABASE_URL", "postgresql://secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-model-code")
    monkeypatch.setenv("PYTHONPATH", "/work/main")
    monkeypatch.setenv("COLUMNS", "17")
    result = tools.run([sys.executable, "-c", PRINT_ENV], tmp_path)
    env = json.loads(result.stdout)
    assert result.exit_code == 0
    assert "TICKETPILOT_DATABASE_URL" not in env
    assert "OPENAI_API_KEY" not in env
    assert "PYTHONPATH" not in env
    assert env["COLUMNS"] == "160"  # summaries wrap the same on every machine, whatever the caller's terminal


def test_a_hung_tool_is_killed_with_its_children(tmp_path: Path) -> None:
    child = ("import subprocess, sys, time\n"
             "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
             "open('child.pid', 'w').write(str(c.pid))\n"
             "time.sleep(60)\n")
    result = tools.run([sys.executable, "-c", child], tmp_path, timeout_s=2)
    assert result.timed_out
    assert result.exit_code == tools.TIMEOUT_EXIT_CODE
    assert "killed after 2s timeout" in result.stderr
    assert result.duration_s < 30
    child_pid = int((tmp_path / "child.pid").read_text())
    assert not _alive(child_pid)


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a killed child may linger as a zombie of init for a moment)."""
    for _ in range(50):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0]
        except FileNotFoundError:
            return False
        if state == "Z":
            return False
        time.sleep(0.1)
    return True


def test_a_ci_command_runs_with_our_interpreter() -> None:
    assert tools.with_our_python(["python", "-m", "pytest", "-q"]) == [sys.executable, "-m", "pytest", "-q"]
    assert tools.with_our_python(["make", "test"]) == ["make", "test"]
