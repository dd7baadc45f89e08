"""Markdown issue bodies (GitHub, GitLab): the acceptance criteria apart from the description.

Neither tracker has a criteria field, so teams write a section into the body:

    ## Acceptance criteria
    - [ ] the export has a header row
    - [x] dates are ISO 8601

The section starts at an ATX heading of any level whose text is "Acceptance criteria" (case aside, colon
optional) and runs to the next heading of the same or a higher level. Each list item in it is one criterion,
bullet and checkbox stripped; an indented line continues the item above it, any other line is a criterion
of its own, so nothing written there is lost. The description is the body without the section: ticking a
box then changes neither the description nor the criteria, and progress on an issue never re-plans it.
Headings inside fenced code blocks are text.
"""

from __future__ import annotations

import re

_HEADING = re.compile(r"^ {0,3}(?P<level>#{1,6})(?:[ \t]+(?P<text>.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})")
_ITEM = re.compile(r"^ {0,3}(?:[-*+]|[0-9]{1,9}[.)])[ \t]+(?:\[[ xX]\](?:[ \t]+|$))?(?P<text>.*)$")
SECTION_TITLE = "acceptance criteria"


def split_criteria(body: str) -> tuple[str, list[str]]:
    """(description, acceptance criteria) of a Markdown body; see the module docstring for the rule."""
    kept: list[str] = []
    criteria: list[str] = []
    section_level = 0  # the heading level of the criteria section we are in; 0: not in one
    fence = ""
    for line in body.replace("\r\n", "\n").split("\n"):
        heading = None if fence else _HEADING.match(line)
        if heading is not None:
            level = len(heading["level"])
            if section_level and level <= section_level:
                section_level = 0
            if _is_criteria_title(heading["text"] or ""):
                section_level = level
                continue
            if section_level:  # a subheading inside the section: its text is a criterion like any line
                line = heading["text"] or ""
        marker = _FENCE.match(line)
        if marker and (not fence or marker["fence"].startswith(fence)):
            fence = "" if fence else marker["fence"][:3]
        if not section_level:
            kept.append(line)
        elif line.strip() and not marker:
            _add_criterion(criteria, line)
    return "\n".join(kept).strip("\n").rstrip(), [c for c in criteria if c]


def _is_criteria_title(text: str) -> bool:
    return text.strip().rstrip(":").strip().casefold() == SECTION_TITLE


def _add_criterion(criteria: list[str], line: str) -> None:
    item = _ITEM.match(line)
    if item is not None:
        criteria.append(" ".join(item["text"].split()))
    elif line[:1] in (" ", "\t") and criteria:
        criteria[-1] = " ".join(f"{criteria[-1]} {line}".split())
    else:
        criteria.append(" ".join(line.split()))
