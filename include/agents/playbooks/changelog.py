"""Keep-a-Changelog edits: one line per ticket under `## [Unreleased]`, in the subsection its change kind
belongs to, inserted in the format's canonical subsection order."""

from __future__ import annotations

import re

from include.agents.playbooks.text import insert_padded
from include.contracts import ChangeKind, Ticket

CHANGELOG_PATH = "CHANGELOG.md"
HEADER = """# Changelog

All notable changes to this project will be documented in this file.

The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),
and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).

## [Unreleased]
"""
SUBSECTIONS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")
SUBSECTION_FOR = {
    ChangeKind.PIPELINE: "Added",
    ChangeKind.FEATURE: "Added",
    ChangeKind.DEPENDENCY_BUMP: "Changed",
    ChangeKind.LINT_FIX: "Fixed",
    ChangeKind.DOCS: "Fixed",
    ChangeKind.SECRET_REMEDIATION: "Security",
}
_RELEASE = re.compile(r"^## ")
_UNRELEASED = re.compile(r"^## \[?Unreleased\]?\s*$", re.I)
_SUBSECTION = re.compile(r"^### (?P<name>\w+)")
_REFERENCE = re.compile(r"\(AB#\d+, PR #\d+\)$")


def entry_line(ticket: Ticket, pr_id: int, text: str | None = None) -> str:
    """`- <text> (AB#<id>, PR #<n>)`: the docs model's wording when given, else the ticket's title."""
    return f"- {text or ticket.title} (AB#{ticket.workitem_id}, PR #{pr_id})"


def _reference(entry: str) -> str | None:
    """The `(AB#<id>, PR #<n>)` an entry ends with: what makes it this change's line, whatever its wording."""
    found = _REFERENCE.search(entry)
    return found.group(0) if found else None


def committed_entry(diff: str, entry: str) -> str | None:
    """The line a docs diff added for the same change as `entry` (same reference), if any."""
    reference = _reference(entry)
    return next((line[1:] for line in diff.splitlines()
                 if line.startswith("+- ") and reference and line.endswith(reference)), None)


def add_entry(changelog: str | None, subsection: str, entry: str) -> str:
    """The changelog with `entry` under Unreleased/`subsection`; unchanged when the line is already there.
    Only the lines around the insertion are touched, so two tickets' entries merge without conflicts
    unless they land in the same spot."""
    text = changelog or HEADER
    lines = text.splitlines()
    reference = _reference(entry)
    if entry in lines or (reference and any(line.startswith("- ") and line.endswith(reference) for line in lines)):
        return text  # this change is in already, perhaps in other words (a rerun with another model answer)
    start = _unreleased_index(lines)
    end = next((i for i in range(start + 1, len(lines)) if _RELEASE.match(lines[i])), len(lines))
    headings = {m["name"]: i for i in range(start + 1, end) if (m := _SUBSECTION.match(lines[i]))}
    if subsection in headings:
        heading = headings[subsection]
        stop = min((i for i in headings.values() if i > heading), default=end)
        last = max((i for i in range(heading + 1, stop) if lines[i].strip()), default=heading)
        if last > heading:
            lines.insert(last + 1, entry)
        else:
            insert_padded(lines, heading + 1, [entry])
    else:
        rank = SUBSECTIONS.index(subsection)
        later = [i for name, i in headings.items() if name in SUBSECTIONS and SUBSECTIONS.index(name) > rank]
        at = min(later, default=None)
        if at is None:
            at = max((i for i in range(start, end) if lines[i].strip()), default=start) + 1
        insert_padded(lines, at, [f"### {subsection}", "", entry])
    return "\n".join(lines) + "\n"


def _unreleased_index(lines: list[str]) -> int:
    """Index of the `## [Unreleased]` heading, inserted before the first release if it is missing."""
    for index, line in enumerate(lines):
        if _UNRELEASED.match(line):
            return index
    first_release = next((i for i, line in enumerate(lines) if _RELEASE.match(line)), len(lines))
    insert_padded(lines, first_release, ["## [Unreleased]"])
    return next(i for i, line in enumerate(lines) if _UNRELEASED.match(line))
