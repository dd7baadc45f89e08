"""README sections the docs step keeps current: added when missing, extended with what they lack,
left alone when they already say it. A section goes before License/Contributing, else at the end."""

from __future__ import annotations

import re

from include.agents.playbooks.text import insert_padded

README_PATH = "README.md"
_TOP_HEADING = re.compile(r"^#{1,2} ")
_TRAILING_SECTIONS = re.compile(r"^## (License|Licence|Contributing)\b", re.I)


def ensure_section(readme: str, heading: str, items: list[tuple[str, str]], intro: str = "") -> str:
    """`items` are (key, markdown line) pairs; a line is added unless its key already appears in the
    section, so reruns and hand edits are respected."""
    lines = readme.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().lower() == f"## {heading}".lower()), None)
    if start is None:
        at = next((i for i, line in enumerate(lines) if _TRAILING_SECTIONS.match(line)), len(lines))
        body = [intro, ""] if intro else []
        insert_padded(lines, at, [f"## {heading}", "", *body, *(line for _, line in items)])
        return "\n".join(lines) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if _TOP_HEADING.match(lines[i])), len(lines))
    section = "\n".join(lines[start:end])
    missing = [line for key, line in items if key not in section]
    if not missing:
        return readme
    last = max(i for i in range(start, end) if lines[i].strip())
    if lines[last].startswith("- ") and all(line.startswith("- ") for line in missing):
        lines[last + 1 : last + 1] = missing
    else:
        insert_padded(lines, last + 1, missing)
    return "\n".join(lines) + "\n"
