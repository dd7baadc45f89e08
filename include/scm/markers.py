"""Hidden marker lines (HTML comments, invisible where forges render markdown) that carry what a forge has no
field for: the idempotency key of a comment, the work item of a pull request. A retry finds its own earlier
comment by the key's line; readers get bodies with the lines taken out."""

from __future__ import annotations

import re

from include.scm.base import ScmError

PREFIX = "<!-- ticketpilot:"
KEY_MARKER = PREFIX + "key={} -->"
WORKITEM_MARKER = PREFIX + "workitem={} -->"
WORKITEM_LINE = re.compile(r"^<!-- ticketpilot:workitem=(\d+) -->$", re.MULTILINE)


def key_marker(key: str) -> str:
    """The marker line of comment key `key`, which must fit on one line inside an HTML comment."""
    if not key.strip() or "\n" in key or "--" in key:
        raise ScmError(f"comment key {key!r} must be one line without '--'")
    return KEY_MARKER.format(key)


def marked(body: str, marker: str) -> str:
    return f"{body.rstrip()}\n\n{marker}"


def carries(text: str, marker: str) -> bool:
    return marker in text.splitlines()


def with_workitem(description: str, workitem_id: int | None) -> str:
    body = description.rstrip()
    return body if workitem_id is None else f"{body}\n\n{WORKITEM_MARKER.format(workitem_id)}".lstrip()


def workitem_of(text: str) -> int | None:
    found = WORKITEM_LINE.search(text)
    return int(found[1]) if found else None


def without_markers(text: str, kind: str = "") -> str:
    """`text` without its marker lines (only those of `kind`, e.g. "key=", when given)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith(PREFIX + kind)).rstrip()
