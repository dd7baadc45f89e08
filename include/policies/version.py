"""The version of the platform's policies: a digest of the rule sources (Rego and
Python), recorded with every decision they make,
so an audit row says which rules decided it even after the rules change."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

_HERE = Path(__file__).parent


@cache
def policy_version() -> str:
    digest = hashlib.sha256()
    for source in sorted([*_HERE.rglob("*.py"), *_HERE.rglob("*.rego")]):
        digest.update(source.relative_to(_HERE).as_posix().encode() + b"\0" + source.read_bytes() + b"\0")
    return f"sha256:{digest.hexdigest()[:16]}"
