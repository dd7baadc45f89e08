"""Curating scanner findings into a review people read: the file's role, the PR's touched lines (from a real
git diff), deduplication across tools, severity order, the inline cap and the one report. No scanner runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from include.agents import review_findings
from include.agents.file_roles import file_role
from include.contracts import Finding


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def finding(tool: str, code: str, path: str = "pkg/app.py", line: int = 1, severity: str = "low") -> Finding:
    return Finding(tool=tool, severity=severity, path=path, line=line, code=code, message=f"{tool} says {code}")


@pytest.mark.parametrize(("path", "role"), [
    ("tests/unit/test_app.py", "test"), ("pkg/test_app.py", "test"), ("pkg/app_test.py", "test"),
    ("conftest.py", "test"), ("tests/fixtures/data.json", "test"), ("pkg/app.py", "source"),
    ("pkg/testing_utils.py", "source"), ("contest.py", "source"),
])
def test_file_roles_follow_pytest_discovery(path: str, role: str) -> None:
    assert file_role(path) == role


def test_touched_lines_are_the_new_side_of_added_lines(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("".join(f"line{i}\n" for i in range(1, 11)))
    (tmp_path / "gone.py").write_text("x = 1\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "seed")
    (tmp_path / "a.py").write_text("new0\n" + "".join(f"line{i}\n" for i in range(1, 11) if i != 5)
                                   .replace("line7", "-- changed7") + "line11\n")
    (tmp_path / "b.py").write_text("one\ntwo\n")
    (tmp_path / "gone.py").unlink()
    git(tmp_path, "add", "-A")
    touched = review_findings.touched_lines(git(tmp_path, "diff", "--cached"))
    assert touched == {"a.py": {1, 7, 11}, "b.py": {1, 2}, "gone.py": set()}


def test_rules_that_do_not_fit_the_files_role_are_dropped_and_counted() -> None:
    raw = [finding("bandit", "B101", "tests/test_app.py", n) for n in range(1, 41)]
    raw += [finding("ruff", "S101", "tests/test_app.py", 1), finding("bandit", "B101", "pkg/app.py", 3),
            finding("bandit", "B603", "conftest.py", 2), finding("ruff", "F401", "tests/test_app.py", 1)]
    kept = review_findings.curated(raw, {"pkg/app.py": {3}, "tests/test_app.py": {1}})
    assert [(f.tool, f.code, f.path) for f in kept] == [("bandit", "B101", "pkg/app.py"),
                                                         ("ruff", "F401", "tests/test_app.py")]
    assert review_findings.not_applicable(raw) == {
        "bandit B101 in test files": 40, "bandit B603 in test files": 1, "ruff S101 in test files": 1}


def test_one_finding_per_problem_keeps_the_most_severe() -> None:
    raw = [finding("ruff", "S105", line=4), finding("bandit", "B105", line=4),
           finding("detect-secrets", "Secret Keyword", line=4, severity="high"),
           finding("ruff", "S602", line=9), finding("bandit", "B602", line=9, severity="high"),
           finding("ruff", "F401", line=9), finding("ruff", "B006", line=9)]
    kept = review_findings.curated(raw, {"pkg/app.py": {4}})
    assert [(f.tool, f.code, f.line, f.touched) for f in kept] == [
        ("detect-secrets", "Secret Keyword", 4, True), ("bandit", "B602", 9, False),
        ("ruff", "B006", 9, False), ("ruff", "F401", 9, False)]


def test_inline_comments_are_capped_highest_first_and_blocking_ones_always_shown() -> None:
    touched = {"pkg/app.py": set(range(1, 200))}
    raw = [finding("ruff", "E501", line=n) for n in range(1, 160)]
    raw += [finding("bandit", "B608", line=300, severity="medium"),
            finding("detect-secrets", "Stripe Access Key", line=250, severity="high")]
    kept = review_findings.curated(raw, touched)
    inline = review_findings.inline(kept)
    assert len(inline) == review_findings.MAX_INLINE_COMMENTS
    assert (inline[0].severity, inline[0].touched, inline[1].code) == ("high", False, "E501")
    assert all(f.code != "B608" for f in inline), "an untouched medium finding is summarised, not commented"

    report = review_findings.report_body(kept, inline, raw, files=3) or ""
    assert report.startswith("**Review report** · 161 findings (1 high, 1 medium, 159 low) in 3 changed files")
    assert "- On lines this PR changed, past the cap: 140" in report
    assert "### On lines this PR did not touch\n\n| tool | rule | findings |\n|---|---|---|\n" in report
    assert "| bandit | B608 | 1 |\n| detect-secrets | Stripe Access Key | 1 |" in report
    assert report.count("\n| low | ruff | E501 |") == 159
    assert "| high | detect-secrets | Stripe Access Key | `pkg/app.py:250` | detect-secrets says Stripe" in report


def test_no_report_when_the_inline_comments_say_everything() -> None:
    kept = review_findings.curated([finding("ruff", "F401")], {"pkg/app.py": {1}})
    assert review_findings.report_body(kept, review_findings.inline(kept), [finding("ruff", "F401")], 1) is None


def test_the_report_stays_within_the_forges_comment_limit() -> None:
    raw = [finding("ruff", "E501", line=n) for n in range(1, 3000)]
    kept = review_findings.curated(raw, {})
    report = review_findings.report_body(kept, review_findings.inline(kept), raw, 1) or ""
    assert len(report) <= review_findings.REPORT_MAX_CHARS
    assert report.endswith("more findings not shown (the forge's comment size limit)")
