"""What a repository file is for, as the review and the secret playbook need to know it: a test file's
asserts, fake passwords and subprocess calls are its job, not findings, and a credential literal in a test is a
fixture that moving to the environment would break."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Literal

FileRole = Literal["test", "source"]

_TEST_DIRS = frozenset({"tests", "test", "testing"})


def file_role(path: str) -> FileRole:
    """`test` for files under a tests/ folder, `test_*.py`, `*_test.py` and `conftest.py` (pytest's own
    discovery rules); `source` for everything else."""
    pure = PurePosixPath(path)
    name = pure.name
    if name == "conftest.py" or (name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))):
        return "test"
    return "test" if any(part in _TEST_DIRS for part in pure.parts[:-1]) else "source"
