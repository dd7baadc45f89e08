"""A golden's files in a scratch folder, a model's edit plan applied to them, and the golden's check run there.

Applying is the Dev agent's own code (`edits.planned_changes`, `edits.write_changes`): an eval passes an
edit exactly when Dev would commit it. The check runs through the agents' tool runner (`tools.run`): this
interpreter, a process-group timeout, and an environment without Ticketpilot's settings, since the edited
code is model output. The golden's hidden check files are written last, over whatever the edits did.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from include.agents import tools
from include.agents.edits import EditError, EditPlan, planned_changes, write_changes


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    detail: str


@contextmanager
def materialised(files: Mapping[str, str]) -> Iterator[Path]:
    """The files in a fresh scratch folder, removed on exit."""
    with tempfile.TemporaryDirectory(prefix="tp-eval-") as scratch:
        root = Path(scratch)
        write_files(root, files)
        yield root


def write_files(root: Path, files: Mapping[str, str]) -> None:
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def applies(files: Mapping[str, str], plan: EditPlan) -> CheckOutcome:
    """Whether Dev would accept the plan for these files, without running anything."""
    with materialised(files) as root:
        try:
            changes = planned_changes(root, plan)
        except EditError as exc:
            return CheckOutcome(False, str(exc))
    return CheckOutcome(True, f"{len(changes)} files changed")


def run_check(files: Mapping[str, str], plan: EditPlan | None, check_files: Mapping[str, str],
              check: Sequence[str], timeout_s: float) -> CheckOutcome:
    """Apply the plan (None: leave the files as they are), add the hidden check files, run the check."""
    with materialised(files) as root:
        if plan is not None:
            try:
                write_changes(root, planned_changes(root, plan))
            except EditError as exc:
                return CheckOutcome(False, f"edits do not apply: {exc}")
        write_files(root, check_files)
        result = tools.run(tools.with_our_python(list(check)), root, timeout_s=timeout_s)
    if result.exit_code == 0:
        return CheckOutcome(True, f"`{' '.join(check)}` passed")
    said = result.stdout.strip() or result.stderr.strip()  # test runners put their summary on stdout
    return CheckOutcome(False, f"`{' '.join(check)}` exited {result.exit_code}: {check_summary(said)}")


_FAILED_TEST = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)


def check_summary(output: str, limit: int = 300) -> str:
    """What a failed check says, in a few hundred characters: the failing tests' names first when the
    runner lists them (pytest's summary lines, whose assertion text varies with terminal width), then the tail."""
    failed = _FAILED_TEST.findall(output)
    tail = " ".join(output.split())
    if not failed:
        return tail[-limit:]
    names = "failed: " + ", ".join(failed)
    return f"{names[:limit]}; {tail[-limit:]}"
