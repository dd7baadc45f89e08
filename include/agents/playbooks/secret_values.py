"""What the secret playbook's file handlers share: which values detect-secrets flagged, how a variable is
named, and what a handler returns (the new text, the variables it now reads, what it left for a person)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from pydantic import BaseModel

_NOT_A_PACKAGE = frozenset({"src", "lib", "app"})
_TOKEN = re.compile(r"[^\s:/@?&=,;'\"]+")


class Leftover(BaseModel):
    """A flagged secret the playbook did not move, for a person: where, which detectors, and why not."""

    path: str
    line: int
    kinds: list[str]
    reason: str


@dataclass(frozen=True)
class Flagged:
    """detect-secrets' hits in one file: detector types per line, and the SHA-1 of every flagged value.
    detect-secrets reports a value once per file, so handlers find its other occurrences by this hash."""

    lines: dict[int, list[str]]
    hashes: frozenset[str]

    def leftover(self, path: str, line: int, reason: str) -> Leftover:
        return Leftover(path=path, line=line, kinds=sorted(set(self.lines.get(line, []))), reason=reason)


@dataclass
class Rewrite:
    """A handler's answer for one file: `text` is the new content (unchanged when nothing was moved)."""

    text: str
    variables: dict[str, str] = field(default_factory=dict)
    left: list[Leftover] = field(default_factory=list)


def is_flagged(value: str, hashes: frozenset[str]) -> bool:
    """Whether `value`, or a token of it, is a flagged secret: a URL's password is flagged alone, and the whole
    URL is what moves to the environment."""
    candidates = [value, *_TOKEN.findall(value)]
    return any(hashlib.sha1(c.encode("utf-8"), usedforsecurity=False).hexdigest() in hashes for c in candidates)


def env_var_name(path: str, variable: str) -> str:
    """`invoicing/config.py` + `API_KEY` → `INVOICING_API_KEY`: prefixed by the package so two services'
    keys never share a name in one deployment; deterministic so a rerun picks the same name."""
    parts = [p for p in PurePosixPath(path).parts[:-1] if p not in _NOT_A_PACKAGE]
    prefix = upper_snake(parts[0] if parts else PurePosixPath(path).stem)
    name = upper_snake(variable)
    return name if name.startswith(f"{prefix}_") else f"{prefix}_{name}"


def upper_snake(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()
