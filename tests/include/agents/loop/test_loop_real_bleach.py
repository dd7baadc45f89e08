"""bleach's tickets worked by the loop under the replayed model (include/demo/replay/real-projects/bleach.yaml),
judged as freezegun's are (test_loop_real_freezegun.py); and a bug report that does not reproduce is refused
with what was found, changing nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.agents.llm import LlmConfig
from include.agents.loop.agent import LoopStoppedError
from include.agents.loop.transcript import Transcript
from include.agents.workspace import snapshot
from tests.include.agents.loop.conftest import solve
from tests.include.agents.loop.test_loop_real_freezegun import assert_solved, regression_on_pristine

PROJECT = "bleach"


def test_506_is_refused_because_ip_hosts_are_never_linked(replay: LlmConfig, real_projects: dict[str, Path],
                                                          tmp_path: Path) -> None:
    """The ticket says the port of an IPv6 URL is dropped; in 6.4.0 no IP-host URL is linked at all, so there
    is no port to keep. The loop reproduces that in the sandbox and refuses with the finding, editing nothing."""
    with pytest.raises(LoopStoppedError, match="refused the ticket") as stopped:
        solve(replay, real_projects, tmp_path, PROJECT, 506)
    message = str(stopped.value)
    assert "does not link URLs with an IP host at all" in message
    assert snapshot(tmp_path / PROJECT) == snapshot(real_projects[PROJECT])

    entries = Transcript.read(Path(message.rsplit("the transcript is ", 1)[1]))
    assert [e.name for e in entries if e.kind == "tool"] == ["search_text", "read_file", "run_command"]
    reproduced = next(e for e in entries if e.name == "run_command")
    assert reproduced.ok and "exit code 0" in reproduced.result
    assert "'see http://[::1]:8000/path'\n" in reproduced.result  # printed back unchanged: not linked
    assert 'href="http://example.com:8000/path"' in reproduced.result  # a hostname keeps its port
    assert (entries[-1].kind, entries[-1].name) == ("stop", "bound")


def test_507_linker_links_only_the_protocols_asked_for(replay: LlmConfig, real_projects: dict[str, Path],
                                                      tmp_path: Path) -> None:
    solved = solve(replay, real_projects, tmp_path, PROJECT, 507)
    assert_solved(solved, ["bleach/linkifier.py", "docs/linkify.rst", "tests/test_linkify.py"])

    added = ["test_linker_protocols", "test_linker_protocols_http_links_bare_domains", "test_linkify_filter_protocols"]
    red = regression_on_pristine(real_projects[PROJECT], solved, tmp_path, ["tests/test_linkify.py"],
                                 [f"tests/test_linkify.py::{name}" for name in added])
    summary = red.output_tail.rstrip().rsplit("\n", 1)[-1]
    assert red.exit_code == 1 and summary.startswith("6 failed in"), red.output_tail
    assert "unexpected keyword argument 'protocols'" in red.stdout


def test_509_refactor_builds_new_link_tokens_once(replay: LlmConfig, real_projects: dict[str, Path],
                                                 tmp_path: Path) -> None:
    solved = solve(replay, real_projects, tmp_path, PROJECT, 509)
    assert_solved(solved, ["bleach/linkifier.py", "tests/test_linkify.py"])
    linkifier = (solved.root / "bleach/linkifier.py").read_text()
    assert linkifier.count('{"type": "StartTag", "name": "a", "data": attrs}') == 1
    assert linkifier.count("new_tokens.extend(_link_tokens(attrs))") == 2

    red = regression_on_pristine(real_projects[PROJECT], solved, tmp_path, ["tests/test_linkify.py"],
                                 ["tests/test_linkify.py", "-k", "test_link_tokens_take_the_text_out"])
    assert red.exit_code == 2, red.output_tail  # pytest's "interrupted": the module does not import
    assert "cannot import name '_link_tokens'" in red.stdout
