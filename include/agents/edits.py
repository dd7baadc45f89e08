"""Structured edits: how a model proposes a code change, and the checks that stand between its answer and a
commit.

A model never writes files. It answers an `EditPlan` (JSON), which pydantic validates on its own (paths
relative, inside the repository, never under `.git` or a tool cache; sizes capped; fields that fit the action),
and `planned_changes` then validates against the working copy: a file to replace in or delete exists, a file
to create does not, and every search text occurs exactly once in the file as the earlier edits left it. Only a
plan that passes all of it becomes FileChanges, written to the working copy and committed through the SCM
adapter, never half-applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from include.agents.llm import AnswerRejected
from include.agents.prose import Prose
from include.agents.workspace import SKIP_DIRS
from include.scm import FileChange

MAX_EDITS = 8
MAX_SEARCH_CHARS = 4_000
MAX_TEXT_CHARS = 20_000
"""Per edit: the new text of a replace, the content of a created file."""
MAX_PLAN_CHARS = 40_000
"""All texts of one plan together."""
MAX_FILE_CHARS = 200_000
"""A file an edit reads or writes; larger files are not edited by a model."""
_EXCERPT = 80


class EditError(AnswerRejected):
    """An edit that is well-formed but does not apply to the working copy; the message says which and why."""


def check_path(path: str) -> str:
    """A repository-relative POSIX path that cannot leave the working copy or touch git's or a tool's files."""
    parts = path.split("/")
    if (not path or path != path.strip() or "\\" in path or path.startswith("/") or ":" in parts[0]
            or any(ord(char) < 32 for char in path)):
        raise ValueError(f"path {path!r} must be relative to the repository root, written with '/', "
                         "e.g. 'invoicing/totals.py'")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"path {path!r} must not contain '..', '.' or empty parts: it must stay inside the "
                         "repository")
    if any(part in SKIP_DIRS for part in parts):
        raise ValueError(f"path {path!r} is inside {', '.join(sorted(set(parts) & SKIP_DIRS))}, which edits "
                         "never touch")
    return path


SearchText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SEARCH_CHARS)]
NewText = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]


class Edit(BaseModel):
    """One file edit: `replace` swaps `search` (exact, occurring once) for `replace`; `create` writes a new
    file with `content`; `delete` removes a file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    action: Literal["create", "replace", "delete"]
    search: SearchText | None = None
    replace: NewText | None = None
    content: NewText | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return check_path(value)

    @model_validator(mode="after")
    def _fields_fit_the_action(self) -> Edit:
        given = {name for name in ("search", "replace", "content") if getattr(self, name) is not None}
        wanted = {"create": {"content"}, "replace": {"search", "replace"}, "delete": set()}[self.action]
        if given != wanted:
            need = ", ".join(f"'{name}'" for name in sorted(wanted)) or "no text field"
            raise ValueError(f"a '{self.action}' edit of {self.path} takes {need}, got "
                             f"{', '.join(sorted(given)) or 'none'}")
        if self.action == "replace" and self.search == self.replace:
            raise ValueError(f"the replace edit of {self.path} replaces the search text with itself")
        if self.action == "replace" and not (self.search or "").strip():
            raise ValueError(f"the replace edit of {self.path} has a blank search text")
        return self

    def describe(self) -> str:
        """One line for logs and error messages: the action, the path and the start of the search text."""
        if self.action == "replace":
            return f"replace {_excerpt(self.search or '')} in {self.path}"
        return f"{self.action} {self.path}"

    @property
    def size(self) -> int:
        return sum(len(text or "") for text in (self.search, self.replace, self.content))


class EditPlan(BaseModel):
    """A model's proposed change: a few edits and one sentence on what they do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    edits: list[Edit] = Field(min_length=1, max_length=MAX_EDITS)
    summary: Annotated[Prose, StringConstraints(strip_whitespace=True, min_length=10, max_length=400)]

    @field_validator("summary")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return " ".join(value.split())

    @model_validator(mode="after")
    def _bounded_and_consistent(self) -> EditPlan:
        total = sum(edit.size for edit in self.edits)
        if total > MAX_PLAN_CHARS:
            raise ValueError(f"the edits carry {total} characters of text; at most {MAX_PLAN_CHARS}")
        for edit in self.edits:
            others = [e for e in self.edits if e.path == edit.path and e is not edit]
            if edit.action in ("create", "delete") and others:
                raise ValueError(f"{edit.path} is {edit.action}d and edited again in the same plan; "
                                 "use one edit per created or deleted file")
        return self

    def describe(self) -> str:
        return "; ".join(edit.describe() for edit in self.edits)


def planned_changes(root: Path, plan: EditPlan, *, keep_tests: bool = False) -> list[FileChange]:
    """The FileChanges the plan makes to the working copy at `root`, without writing anything.

    Edits apply in order, each to the file as the earlier ones left it. `keep_tests` refuses deleting a test
    file (the fix loop must repair code, not drop the test that caught it). Raises EditError naming the edit
    and the reason when any edit does not apply, so the plan is used whole or not at all.
    """
    base = root.resolve()
    original: dict[str, str | None] = {}
    state: dict[str, str | None] = {}
    for number, edit in enumerate(plan.edits, 1):
        where = f"edit {number} ({edit.describe()})"
        if edit.path not in state:
            original[edit.path] = state[edit.path] = _read(base, edit.path, where)
        current = state[edit.path]
        if edit.action == "create":
            if current is not None:
                raise EditError(f"{where}: {edit.path} already exists; change it with a 'replace' edit")
            state[edit.path] = edit.content
        elif current is None:
            raise EditError(f"{where}: {edit.path} does not exist; only a 'create' edit can make a new file")
        elif edit.action == "delete":
            if keep_tests and is_test_file(edit.path):
                raise EditError(f"{where}: the fix may not delete the test file {edit.path}; fix the code under test")
            state[edit.path] = None
        else:
            state[edit.path] = _replaced(current, edit, where)
        if len(state[edit.path] or "") > MAX_FILE_CHARS:
            raise EditError(f"{where}: {edit.path} would grow past {MAX_FILE_CHARS} characters")
    changes = [FileChange(path=path, content=content) for path, content in state.items()
               if content != original[path]]
    if not changes:
        raise EditError("the edits leave every file as it is; propose edits that make the change")
    return changes


def write_changes(root: Path, changes: list[FileChange]) -> None:
    """Apply FileChanges to the working copy, so the tests that follow run on the changed code."""
    for change in changes:
        target = root / change.path
        if change.content is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(change.content, encoding="utf-8")


def is_test_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return path.startswith(("tests/", "test/")) or "/tests/" in path or name.startswith("test_") \
        or name.endswith("_test.py") or name == "conftest.py"


def _read(base: Path, path: str, where: str) -> str | None:
    """The file's text, None when it does not exist; refuses what a repository file must not be."""
    target = base / path
    for parent in [target, *target.parents]:
        if parent == base:
            break
        if parent.is_symlink():
            raise EditError(f"{where}: {parent.relative_to(base).as_posix()} is a symbolic link; edits only "
                            "change regular files")
    if not target.exists():
        if target.parent.exists() and not target.parent.is_dir():
            raise EditError(f"{where}: {target.parent.relative_to(base).as_posix()} is a file, not a folder")
        return None
    if not target.is_file():
        raise EditError(f"{where}: {path} is a folder, not a file")
    if target.stat().st_size > MAX_FILE_CHARS:
        raise EditError(f"{where}: {path} is larger than {MAX_FILE_CHARS} bytes; edits leave such files alone")
    try:
        return target.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise EditError(f"{where}: {path} is not a UTF-8 text file") from None


def _replaced(current: str, edit: Edit, where: str) -> str:
    search = edit.search or ""
    found = current.count(search)
    if found == 0:
        hint = ""
        first = next((line.strip() for line in search.splitlines() if line.strip()), "")
        if first and first in current:
            hint = (f" (its line {_excerpt(first)} is there, so the lines around it differ: copy them exactly, "
                    "with their indentation)")
        raise EditError(f"{where}: the search text does not occur in {edit.path}{hint}")
    if found > 1:
        raise EditError(f"{where}: the search text occurs {found} times in {edit.path}; include more of the "
                        "surrounding lines so it occurs exactly once")
    return current.replace(search, edit.replace or "", 1)


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= _EXCERPT else flat[:_EXCERPT] + "...")
