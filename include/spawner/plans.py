"""What the spawner does to a ticket DAG's runs for a `replan` or `cancel` outbox row: pure decisions over
the runs Airflow lists, so the rule is tested without Airflow and the REST calls stay thin.

The rule:
- **cancel** (the work item was closed, removed or done at rev N): every unfinished run (queued or running)
  of the ticket's DAG is marked failed, with a note saying why. Nothing is triggered.
- **replan** (title, description or acceptance criteria changed at rev N on an open ticket): if the ticket
  has an unfinished run, that run works from an outdated plan, so it is marked failed with a note, and run
  `ticket__r<N>` is triggered once the factory file has been re-parsed (the DAG is rebuilt from the newest
  ticket row). With no unfinished run there is nothing to replace: a pending spawn will start from the
  newest row anyway, and finished work is not redone by an edit. A replan is skipped when the ticket has
  been closed since (its cancel row stops the runs) or when a run for a newer revision already exists.

Both are idempotent, so a row replayed after a crash converges: the notes mark which runs a replan of rev N
failed, so a replay that finds no unfinished run still triggers `ticket__r<N>`, and triggering an existing
run id returns that run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

UNFINISHED_STATES = frozenset({"queued", "running"})
_RUN_REV = re.compile(r"^ticket__r(?P<rev>[1-9][0-9]*)$")


def run_id_for(rev: int) -> str:
    """The deterministic run id of a ticket revision: a replayed trigger finds the run instead of doubling it."""
    return f"ticket__r{rev}"


def rev_of(run_id: str) -> int | None:
    """The revision a run was triggered for, or None for runs the spawner did not name (manual runs)."""
    match = _RUN_REV.match(run_id)
    return int(match["rev"]) if match else None


def replan_note(rev: int) -> str:
    return f"Ticketpilot: superseded by work item rev {rev} (title, description or acceptance criteria changed)"


def cancel_note(rev: int) -> str:
    return f"Ticketpilot: cancelled, the work item was closed at rev {rev}"


class RunView(BaseModel):
    """The part of an Airflow DAG run the decisions read."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    state: str
    note: str | None = None

    @property
    def unfinished(self) -> bool:
        return self.state in UNFINISHED_STATES

    @classmethod
    def from_api(cls, run: Mapping[str, Any]) -> RunView:
        return cls(run_id=run["dag_run_id"], state=run["state"], note=run.get("note"))


class RunPlan(BaseModel):
    """Runs to mark failed (with `note`), the run to trigger (None: none), and why, for the outbox row."""

    model_config = ConfigDict(frozen=True)

    fail: tuple[str, ...] = ()
    note: str = ""
    trigger: str | None = None
    outcome: str


def plan_cancel(runs: Iterable[RunView], rev: int) -> RunPlan:
    fail = tuple(run.run_id for run in runs if run.unfinished)
    outcome = f"cancelled {len(fail)} unfinished run(s)" if fail else "no unfinished run to cancel"
    return RunPlan(fail=fail, note=cancel_note(rev), outcome=outcome)


def plan_replan(runs: Iterable[RunView], rev: int, *, ticket_open: bool) -> RunPlan:
    runs = list(runs)
    target = run_id_for(rev)
    if not ticket_open:
        return RunPlan(outcome="ticket closed since; its cancel stops the runs")
    if any((rev_of(run.run_id) or 0) > rev for run in runs):
        return RunPlan(outcome="a newer revision already has a run")
    stale = tuple(run.run_id for run in runs if run.unfinished and run.run_id != target)
    resumed = any(run.run_id == target or run.note == replan_note(rev) for run in runs)
    if not stale and not resumed:
        return RunPlan(outcome="no unfinished run to replan")
    outcome = f"replaced {len(stale)} unfinished run(s) by {target}" if stale else f"triggered {target}"
    return RunPlan(fail=stale, note=replan_note(rev), trigger=target, outcome=outcome)
