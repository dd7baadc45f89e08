"""What the loop's tools do to one working copy: read, search, edit, run in the sandbox.

Every path is checked as a model's edit is (include/agents/edits.py: relative, inside the repository, never
under .git or a tool cache, no symbolic links); every edit is applied whole or refused with a reason the
model can act on; every command runs in the repository's sandbox (its own venv, no network, no credentials).
Tool errors come back to the model as text (ModelRetry), never as a crash of the step.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from pydantic_ai import ModelRetry

from include.agents.edits import MAX_FILE_CHARS, Edit, EditError, EditPlan, check_path, planned_changes, write_changes
from include.agents.workspace import repo_files, snapshot
from include.sandbox import Sandbox, ToolRun

MAX_LIST = 300
MAX_HITS = 60
MAX_READ_LINES = 400
RESULT_CHARS = 6000
"""What one tool result may put in front of the model; the rest is cut with a note saying so."""
COMMAND_TIMEOUT_S = 600.0


@dataclass
class LoopWorkspace:
    """The working copy one loop edits, with the sandbox its commands run in (built on first use)."""

    root: Path
    test_argv: list[str]
    keep_tests: bool = False
    """The fix loop repairs code: it may not delete a test file."""
    _sandbox: Sandbox | None = field(default=None, repr=False)
    before: dict[str, str] = field(default_factory=dict)
    runs: list[ToolRun] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.before = snapshot(self.root)

    @property
    def sandbox(self) -> Sandbox:
        if self._sandbox is None:
            self._sandbox = Sandbox.for_workdir(self.root)
        return self._sandbox

    def list_files(self, pattern: str = "*") -> str:
        files = [p for p in repo_files(self.root) if fnmatch.fnmatch(p, pattern)
                 or fnmatch.fnmatch(p.rsplit("/", 1)[-1], pattern)]
        shown = files[:MAX_LIST]
        more = f"\n... and {len(files) - MAX_LIST} more; narrow the pattern" if len(files) > MAX_LIST else ""
        return "\n".join(shown) + more if shown else f"no file matches {pattern!r}"

    def search_text(self, pattern: str, path_glob: str = "*") -> str:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ModelRetry(f"{pattern!r} is not a valid regular expression: {exc}") from None
        hits: list[str] = []
        for path in repo_files(self.root):
            if not fnmatch.fnmatch(path, path_glob):
                continue
            text = self._text(path)
            if text is None:
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if regex.search(line):
                    hits.append(f"{path}:{number}: {line.strip()[:200]}")
                    if len(hits) >= MAX_HITS:
                        return "\n".join(hits) + f"\n... stopped at {MAX_HITS} hits; narrow the pattern"
        return "\n".join(hits) or f"no line matches {pattern!r}"

    def read_file(self, path: str, start_line: int = 1, end_line: int | None = None) -> str:
        text = self._text(self._checked(path))
        if text is None:
            raise ModelRetry(f"{path} does not exist or is not a UTF-8 text file; list_files shows what exists")
        lines = text.splitlines()
        start = max(1, start_line)
        end = min(len(lines), end_line or start + MAX_READ_LINES - 1, start + MAX_READ_LINES - 1)
        body = "\n".join(f"{n:>5}  {lines[n - 1]}" for n in range(start, end + 1))
        tail = f"\n... {len(lines) - end} more lines; read on with start_line={end + 1}" if end < len(lines) else ""
        return f"{path} (lines {start}-{end} of {len(lines)})\n{body}{tail}"

    def replace_text(self, path: str, search: str, replace: str) -> str:
        self._apply_all([dict(path=path, action="replace", search=search, replace=replace)])
        return f"replaced text in {path}"

    def create_file(self, path: str, content: str) -> str:
        self._apply_all([dict(path=path, action="create", content=content)])
        return f"created {path}"

    def delete_file(self, path: str) -> str:
        self._apply_all([dict(path=path, action="delete")])
        return f"deleted {path}"

    def rename_file(self, path: str, new_path: str) -> str:
        text = self._text(self._checked(path))
        if text is None:
            raise ModelRetry(f"{path} does not exist or is not a UTF-8 text file")
        self._apply_all([dict(path=new_path, action="create", content=text), dict(path=path, action="delete")])
        return f"renamed {path} to {new_path}"

    def run_tests(self, selection: str = "") -> str:
        """The repository's test command, optionally narrowed (pytest node ids or -k expressions)."""
        extra = shlex.split(selection) if selection.strip() else []
        return self._run([*self.test_argv, *extra])

    def run_command(self, command: str) -> str:
        argv = shlex.split(command)
        if not argv:
            raise ModelRetry("the command is empty")
        program = argv[0].rsplit("/", 1)[-1]  # which programs may run is the tool decision's (policies/tools.py)
        if program.startswith("python"):
            argv[0] = self.sandbox.python
        return self._run(argv)

    def changed_paths(self) -> list[str]:
        after = snapshot(self.root)
        changed = {p for p, digest in after.items() if self.before.get(p) != digest}
        return sorted(changed | {p for p in self.before if p not in after})

    def _run(self, argv: list[str]) -> str:
        outcome = self.sandbox.run(argv, COMMAND_TIMEOUT_S)
        self.runs.append(outcome)
        verdict = "timed out" if outcome.timed_out else f"exit code {outcome.exit_code}"
        output = clip(outcome.stdout + outcome.stderr)
        return f"$ {shlex.join(argv)}\n{verdict} after {outcome.duration_s:.1f} s\n{output}"

    def _apply_all(self, edits: list[dict[str, str]]) -> None:
        """Validate the edits (paths included) as one plan and write them, or refuse them all with the reason:
        a bad path comes back to the model as a sentence, never as pydantic's error list."""
        try:
            plan = EditPlan(edits=[Edit.model_validate(edit) for edit in edits],
                            summary="one edit of the tool-using loop")
            write_changes(self.root, planned_changes(self.root, plan, keep_tests=self.keep_tests))
        except (EditError, ValidationError, ValueError) as exc:
            raise ModelRetry(_reason(exc)) from None

    def _checked(self, path: str) -> str:
        try:
            return check_path(path)
        except ValueError as exc:
            raise ModelRetry(str(exc)) from None

    def _text(self, path: str) -> str | None:
        target = self.root / path
        if target.is_symlink() or not target.is_file() or target.stat().st_size > MAX_FILE_CHARS:
            return None
        try:
            return target.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return None


def clip(text: str, limit: int = RESULT_CHARS) -> str:
    """The head and the tail of a long text: test runners print the failure first and the summary last."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... [{len(text) - limit} characters cut] ...\n{text[-half:]}"


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(err["msg"].removeprefix("Value error, ") for err in exc.errors()[:3])
    return str(exc)
