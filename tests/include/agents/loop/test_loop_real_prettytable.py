"""prettytable 3.19.0's tickets under the replayed model (include/demo/replay/real-projects/prettytable.yaml).

The project's own suite judges each change, and the regression test the script adds must fail on the original
code: a script whose edit did nothing would otherwise pass. Tickets whose bug 3.19.0 does not have are refused
with the reproduction in the transcript, and the working copy stays as it was."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from include.agents.llm import LlmConfig
from include.agents.loop.agent import LoopStoppedError
from include.agents.loop.transcript import Transcript, TranscriptEntry
from include.agents.testing import resolve_test_command
from include.agents.workspace import snapshot
from include.sandbox import Sandbox, ToolRun
from tests.include.agents.loop.conftest import Solved, solve

PROJECT = "prettytable"
CHANGED = ["src/prettytable/prettytable.py", "tests/test_html.py"]

HTML_SAMPLES = """from prettytable import PrettyTable
table = PrettyTable(["City", "Area"], title="Cities\\n& areas", attributes={"class": "a<b", "id": "t1"})
table.add_row(["Adelaide", 1295])
for options in ({}, {"format": True}, {"xhtml": True}, {"format": True, "border": False}, {"title": ""}):
    print(table.get_html_string(**options))
"""
"""HTML of a table with a title and attributes, in both writers: a refactor must not change a character."""


def _pristine_run(real_projects: dict[str, Path], solved: Solved, tmp_path: Path, selection: list[str]) -> ToolRun:
    """The tests the loop changed, run in the same venv against an untouched copy of the project's code."""
    pristine = tmp_path / "pristine"
    shutil.copytree(real_projects[PROJECT], pristine, symlinks=True)
    for path in solved.outcome.changed:
        if path.startswith("tests/"):
            shutil.copy2(solved.root / path, pristine / path)
    sandbox = replace(Sandbox.for_workdir(solved.root), workdir=pristine.resolve())
    return sandbox.run([*resolve_test_command(pristine, sandbox.python), *selection], timeout_s=300)


def _assert_finished(solved: Solved) -> list[TranscriptEntry]:
    """Every scripted call worked, the loop ended on an accepted finish and the project's whole suite passes."""
    assert solved.suite.exit_code == 0, solved.suite.output_tail
    entries = Transcript.read(solved.outcome.transcript)
    assert [(e.name, e.result) for e in entries if e.kind == "tool" and not e.ok] == []
    assert (entries[-1].kind, entries[-1].name) == ("stop", "finish")
    return entries


def _refused(stopped: LoopStoppedError) -> list[TranscriptEntry]:
    """The transcript a refusal names in its message; it ends on the refusal, after calls that all worked."""
    found = re.search(r"the transcript is (\S+)$", str(stopped))
    assert found, str(stopped)
    entries = Transcript.read(Path(found.group(1)))
    assert [e.name for e in entries if e.kind == "tool" and not e.ok] == []
    assert entries[-1].kind == "stop" and "Cannot reproduce in 3.19.0" in entries[-1].result
    return entries


def test_306_a_title_wider_than_max_table_width_is_not_cut_so_the_ticket_is_refused(
        replay: LlmConfig, real_projects: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(LoopStoppedError, match="refused the ticket") as stopped:
        solve(replay, real_projects, tmp_path, PROJECT, 306)
    entries = _refused(stopped.value)
    repro = next(e.result for e in entries if e.name == "run_command")
    assert "| A rather long title that will not fit |" in repro and "title whole: True" in repro
    assert snapshot(tmp_path / PROJECT) == snapshot(real_projects[PROJECT])


def test_307_header_cells_span_columns_in_html(replay: LlmConfig, real_projects: dict[str, Path],
                                               tmp_path: Path) -> None:
    solved = solve(replay, real_projects, tmp_path, PROJECT, 307)
    assert solved.outcome.changed == CHANGED
    _assert_finished(solved)
    assert 'colspan="{span}"' in (solved.root / CHANGED[0]).read_text(encoding="utf-8")
    original = _pristine_run(real_projects, solved, tmp_path, ["tests/test_html.py", "-k", "Colspan"])
    assert original.exit_code == 1, original.output_tail
    assert "3 failed, 1 passed" in original.output_tail


def test_309_reverse_sort_with_sort_key_is_stable_so_the_ticket_is_refused(
        replay: LlmConfig, real_projects: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(LoopStoppedError, match="refused the ticket") as stopped:
        solve(replay, real_projects, tmp_path, PROJECT, 309)
    entries = _refused(stopped.value)
    repro = next(e.result for e in entries if e.name == "run_command")
    assert "prettytable: ['b', 'd', 'a', 'c', 'e']" in repro and "same order: True" in repro
    assert snapshot(tmp_path / PROJECT) == snapshot(real_projects[PROJECT])


def test_310_refactor_shares_the_html_opening_and_keeps_the_output(
        replay: LlmConfig, real_projects: dict[str, Path], tmp_path: Path) -> None:
    solved = solve(replay, real_projects, tmp_path, PROJECT, 310)
    assert solved.outcome.changed == CHANGED
    _assert_finished(solved)
    source = (solved.root / CHANGED[0]).read_text(encoding="utf-8")
    assert source.count("<caption>{caption}</caption>") == 1 and source.count("self._html_table_open(") == 2
    original = _pristine_run(real_projects, solved, tmp_path, ["tests/test_html.py", "-k", "TableOpen"])
    assert original.exit_code == 1 and "_html_table_open" in original.output_tail, original.output_tail
    sandbox = Sandbox.for_workdir(solved.root)
    before = replace(sandbox, workdir=(tmp_path / "pristine").resolve()).run([sandbox.python, "-c", HTML_SAMPLES])
    after = sandbox.run([sandbox.python, "-c", HTML_SAMPLES])
    assert before.exit_code == after.exit_code == 0, before.stderr + after.stderr
    assert after.stdout == before.stdout and "<caption>Cities<br>&amp; areas</caption>" in after.stdout
