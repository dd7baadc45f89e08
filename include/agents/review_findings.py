"""From raw scanner findings to a review people read: rules that do not fit the file's role are dropped,
the same problem reported by two tools is one finding, findings are ordered by severity, only a capped few
become inline comments, and one report comment carries the rest.

Measured before this: a three-file lint PR got about 160 low-severity inline comments, most of them bandit's
assert rule on test files."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from include.agents.file_roles import FileRole, file_role
from include.contracts import Finding

MAX_INLINE_COMMENTS = 20
"""Inline comments per PR: about what a reviewer reads before skimming, so the high ones, posted first, are
read; everything else is in the report."""

REPORT_MAX_CHARS = 60_000
"""GitHub refuses comments over 65,536 characters, the smallest limit of the forges we post to."""

INLINE_EVEN_UNTOUCHED = frozenset({"high"})
"""Severities commented at their line even when the PR did not touch it: a high finding blocks the PR, so the
people who must act on it see it where it is."""

_RANK = {"high": 0, "medium": 1, "low": 2}
_HUNK = re.compile(r"^@@ -\d+(?:,(?P<old>\d+))? \+(?P<start>\d+)(?:,(?P<new>\d+))? @@")
_DIFF_HEADER = re.compile(r"^diff --git a/.+ b/(?P<new>.+)$")


@dataclass(frozen=True)
class NotInRole:
    """A scanner rule that is no finding in files of `roles`, and why."""

    roles: frozenset[FileRole]
    why: str


_TESTS = frozenset({"test"})
_ASSERT = NotInRole(_TESTS, "asserts are how pytest checks; no test run strips them with -O")
_FAKE_CREDENTIAL = NotInRole(_TESTS, "tests need literal fake credentials; detect-secrets still scans test files")
_RANDOM = NotInRole(_TESTS, "random test data is not cryptography")
_PROCESS = NotInRole(_TESTS, "tests start processes on purpose, with fixed argument lists")

NOT_IN_ROLE: dict[str, NotInRole] = {
    "B101": _ASSERT,
    "B105": _FAKE_CREDENTIAL,
    "B106": _FAKE_CREDENTIAL,
    "B107": _FAKE_CREDENTIAL,
    "B311": _RANDOM,
    "B404": _PROCESS,
    "B603": _PROCESS,
    "B607": _PROCESS,
}
"""Bandit rule → the file roles where it is noise. ruff's flake8-bandit rules are bandit's renumbered (S101 is
B101) and follow the same entries."""


def _rule(finding: Finding) -> NotInRole | None:
    """The entry that makes `finding` noise in its file, None when it is a finding."""
    rule = NOT_IN_ROLE.get(_bandit_code(finding) or "")
    return rule if rule is not None and file_role(finding.path) in rule.roles else None


def not_applicable(raw: list[Finding]) -> dict[str, int]:
    """'tool rule in test files' → how many of the raw findings `curated` drops for their file's role."""
    return {label: count for (label, _), count in sorted(_dropped(raw).items())}


def _dropped(raw: list[Finding]) -> Counter[tuple[str, str]]:
    return Counter((f"{f.tool} {f.code} in {file_role(f.path)} files", rule.why)
                   for f in raw if (rule := _rule(f)) is not None)


def touched_lines(diff: str) -> dict[str, set[int]]:
    """New-side line numbers each file's added or changed lines have in a unified diff. Hunk headers' line
    counts end each hunk, so a removed line that starts with '--' is never read as a header."""
    touched: dict[str, set[int]] = {}
    current: set[int] | None = None
    line_no = old_left = new_left = 0
    for line in diff.splitlines():
        if old_left or new_left:
            tag = line[:1]
            if tag == "+" and current is not None:
                current.add(line_no)
            if tag in ("+", " "):
                line_no, new_left = line_no + 1, new_left - 1
            if tag in ("-", " "):
                old_left -= 1
            continue
        if header := _DIFF_HEADER.match(line):
            current = touched.setdefault(header["new"], set())
        elif hunk := _HUNK.match(line):
            line_no = int(hunk["start"])
            old_left, new_left = int(hunk["old"] or 1), int(hunk["new"] or 1)
    return touched


def _problem(finding: Finding) -> str:
    """What a finding is about, across tools: ruff's S101 is bandit's B101, and bandit's hardcoded-password
    rules on a line detect-secrets flags are the same leaked secret."""
    code = _bandit_code(finding)
    if finding.tool == "detect-secrets" or code in ("B105", "B106", "B107"):
        return "secret"
    return f"bandit:{code}" if code else f"{finding.tool}:{finding.code}"


def _bandit_code(finding: Finding) -> str | None:
    """Bandit's rule id for bandit's findings and ruff's S rules (S101 → B101); None for any other rule."""
    if finding.tool == "bandit":
        return finding.code
    if finding.tool == "ruff" and re.fullmatch(r"S\d{3}", finding.code):
        return f"B{finding.code[1:]}"
    return None


def curated(findings: list[Finding], touched: dict[str, set[int]]) -> list[Finding]:
    """The findings that apply to their file's role, one per (path, line, problem) keeping the most severe,
    each marked whether the PR touched its line, highest severity first."""
    best: dict[tuple[str, int, str], Finding] = {}
    for finding in sorted(findings, key=_order):
        if _rule(finding) is None:
            best.setdefault((finding.path, finding.line, _problem(finding)), finding)
    return sorted((f.model_copy(update={"touched": _on_touched_line(f, touched)}) for f in best.values()), key=_order)


def _on_touched_line(finding: Finding, touched: dict[str, set[int]]) -> bool:
    """A finding without a line (0) belongs to the whole file, which the PR touched if it is in the diff."""
    if finding.line == 0:
        return finding.path in touched
    return finding.line in touched.get(finding.path, set())


def inline(findings: list[Finding]) -> list[Finding]:
    """The few commented at their line: touched or blocking, highest first, at most MAX_INLINE_COMMENTS."""
    return [f for f in findings if f.touched or f.severity in INLINE_EVEN_UNTOUCHED][:MAX_INLINE_COMMENTS]


def report_body(findings: list[Finding], commented: list[Finding], raw: list[Finding], files: int) -> str | None:
    """The one report comment: counts, the untouched lines' findings per tool and rule, the rules dropped
    for the file's role and why, and the full table. None when the inline comments already say everything."""
    dropped = _dropped(raw)
    if len(commented) == len(findings) and not dropped:
        return None
    by_severity = Counter(f.severity for f in findings)
    severities = ", ".join(f"{by_severity[s]} {s}" for s in _RANK if by_severity[s])
    untouched = [f for f in findings if not f.touched]
    capped = [f for f in findings if f.touched and f not in commented]
    lines = [f"**Review report** · {len(findings)} findings ({severities or 'none'}) in {files} changed files", "",
             f"- Commented at their line: {len(commented)} (highest severity first, at most {MAX_INLINE_COMMENTS})"]
    if capped:
        lines.append(f"- On lines this PR changed, past the cap: {len(capped)}")
    if untouched:
        lines.append(f"- On lines this PR did not touch: {len(untouched)}, summarised below")
    if dropped:
        lines += [f"- Not findings for the file's role: {sum(dropped.values())}", "",
                  "| rule | dropped | why |", "|---|---|---|"]
        lines += [f"| {label} | {count} | {why} |" for (label, why), count in sorted(dropped.items())]
    if untouched:
        per_rule = Counter((f.tool, f.code) for f in untouched)
        lines += ["", "### On lines this PR did not touch", "", "| tool | rule | findings |", "|---|---|---|"]
        lines += [f"| {tool} | {code or '-'} | {count} |" for (tool, code), count in sorted(per_rule.items())]
    if findings:
        lines += ["", "### All findings", "", "| severity | tool | rule | where | message | at its line |",
                  "|---|---|---|---|---|---|"]
    return _within_limit(lines, [_row(f, f in commented) for f in findings])


def _within_limit(head: list[str], rows: list[str]) -> str:
    body = "\n".join(head)
    for shown, row in enumerate(rows):
        if len(body) + len(row) + 200 > REPORT_MAX_CHARS:
            return f"{body}\n\n{len(rows) - shown} more findings not shown (the forge's comment size limit)"
        body += f"\n{row}"
    return body


def _row(finding: Finding, commented: bool) -> str:
    message = finding.message.replace("|", "\\|").replace("\n", " ")
    where = f"`{finding.path}:{finding.line}`" if finding.line else f"`{finding.path}`"
    return (f"| {finding.severity} | {finding.tool} | {finding.code or '-'} | {where} | {message} | "
            f"{'yes' if commented else 'no'} |")


def _order(finding: Finding) -> tuple[int, str, int, str, str]:
    return _RANK[finding.severity], finding.path, finding.line, finding.tool, finding.code
