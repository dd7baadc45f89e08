"""freezegun's tickets worked by the loop under the replayed model (include/demo/replay/real-projects/freezegun.yaml).

A scripted solution is only worth replaying if it is right, so each one is judged the way a reviewer would:
it changed exactly the expected files, the project's whole suite passes afterwards, and the regression test
it added fails on the untouched project (so the change, not the test, is what makes it pass). The helpers
here serve bleach's tests too."""

from __future__ import annotations

import shutil
from pathlib import Path

from include.agents.llm import LlmConfig
from include.agents.loop.transcript import Transcript
from include.agents.testing import resolve_test_command
from include.sandbox import Sandbox, ToolRun
from tests.include.agents.loop.conftest import Solved, solve

PROJECT = "freezegun"
def assert_solved(solved: Solved, changed: list[str]) -> None:
    """Exactly `changed` was edited, every step worked, the loop ended on an accepted finish after a selected and a
    full test run, and the whole suite is green."""
    assert solved.outcome.changed == changed
    entries = Transcript.read(solved.outcome.transcript)
    assert (entries[-1].kind, entries[-1].name) == ("stop", "finish")
    tools = [e for e in entries if e.kind == "tool"]
    assert all(e.ok for e in tools), [e.result for e in tools if not e.ok]  # every scripted step applied as written
    assert [e.name for e in tools][-3:] == ["run_tests", "run_tests", "finish.check"]
    assert solved.suite.exit_code == 0, solved.suite.output_tail


def regression_on_pristine(pristine: Path, solved: Solved, tmp_path: Path, test_files: list[str],
                           selection: list[str]) -> ToolRun:
    """Run the loop's regression tests (`selection` of `test_files`) green on its change, then on an untouched
    copy of the project given only those test files, in the same venv; returns that second run."""
    sandbox = Sandbox.for_workdir(solved.root)
    green = sandbox.run([*resolve_test_command(solved.root, sandbox.python), *selection], timeout_s=300)
    assert green.exit_code == 0 and " passed" in green.output_tail, green.output_tail
    untouched = tmp_path / f"{pristine.name}-pristine"
    shutil.copytree(pristine, untouched, symlinks=True)
    for path in test_files:
        shutil.copy2(solved.root / path, untouched / path)
    original = Sandbox.for_workdir(untouched)
    assert original.python == sandbox.python  # the same venv: only the project's code differs
    return original.run([*resolve_test_command(untouched, original.python), *selection], timeout_s=300)


def test_406_aware_now_no_longer_adds_tz_offset(replay: LlmConfig, real_projects: dict[str, Path],
                                               tmp_path: Path) -> None:
    """now(tz) converted the frozen UTC instant to tz and then added tz_offset too; the project's own test
    asserted that shifted value, so the fix corrects it along with the code."""
    solved = solve(replay, real_projects, tmp_path, PROJECT, 406)
    assert_solved(solved, ["freezegun/api.py", "tests/test_operations.py"])
    assert "tz.fromutc(now.replace(tzinfo=tz)) + cls._tz_offset()" not in (solved.root / "freezegun/api.py").read_text()

    red = regression_on_pristine(real_projects[PROJECT], solved, tmp_path, ["tests/test_operations.py"],
                                 ["tests/test_operations.py::test_aware_now_ignores_tz_offset",
                                  "tests/test_operations.py::test_datetime_timezone_real_with_offset"])
    assert red.exit_code == 1 and "2 failed" in red.output_tail, red.output_tail
    assert "2024, 3, 1, 14, 0, tzinfo=datetime.timezone.utc" in red.stdout  # the 14:00 UTC of the ticket


def test_407_freeze_time_marker_and_freezer_fixture(replay: LlmConfig, real_projects: dict[str, Path],
                                                   tmp_path: Path) -> None:
    solved = solve(replay, real_projects, tmp_path, PROJECT, 407)
    assert_solved(solved, ["README.rst", "freezegun/pytest_plugin.py", "tests/conftest.py",
                           "tests/test_pytest_plugin.py"])
    assert "@pytest.mark.freeze_time" in (solved.root / "README.rst").read_text()

    red = regression_on_pristine(real_projects[PROJECT], solved, tmp_path, ["tests/test_pytest_plugin.py"],
                                 ["tests/test_pytest_plugin.py"])
    assert red.exit_code == 1 and "2 failed" in red.output_tail and "2 errors" in red.output_tail, red.output_tail
    assert "fixture 'freezer' not found" in red.stdout


def test_409_refactor_shares_one_tick_delta_conversion(replay: LlmConfig, real_projects: dict[str, Path],
                                                      tmp_path: Path) -> None:
    """A refactor keeps the old tests green (the suite) and adds one test of the helper it extracted, which
    the untouched project cannot even import."""
    solved = solve(replay, real_projects, tmp_path, PROJECT, 409)
    assert_solved(solved, ["freezegun/api.py", "tests/test_ticking.py"])
    api = (solved.root / "freezegun/api.py").read_text()
    assert api.count("numbers.Integral") == 1 and api.count("_as_timedelta(delta)") == 3

    red = regression_on_pristine(real_projects[PROJECT], solved, tmp_path, ["tests/test_ticking.py"],
                                 ["tests/test_ticking.py", "-k", "test_tick_delta_as_timedelta"])
    assert red.exit_code == 2, red.output_tail  # pytest's "interrupted": the module does not import
    assert "cannot import name '_as_timedelta'" in red.stdout
