"""The replan/cancel rule as pure decisions over the runs Airflow lists; the REST calls that carry them out
are exercised by the end-to-end tests on a real Airflow."""

from __future__ import annotations

import pytest

from include.spawner.plans import (
    RunPlan,
    RunView,
    cancel_note,
    plan_cancel,
    plan_replan,
    replan_note,
    rev_of,
    run_id_for,
)


def run(run_id: str, state: str, note: str | None = None) -> RunView:
    return RunView(run_id=run_id, state=state, note=note)


def test_run_ids_and_revs() -> None:
    assert run_id_for(7) == "ticket__r7" and rev_of("ticket__r7") == 7
    assert rev_of("manual__2026-01-01T00:00:00+00:00") is None and rev_of("ticket__r0") is None


def test_from_api() -> None:
    assert RunView.from_api({"dag_run_id": "ticket__r1", "state": "running", "note": None, "conf": {}}) == run(
        "ticket__r1", "running")


def test_cancel_fails_every_unfinished_run() -> None:
    runs = [run("ticket__r2", "running"), run("manual__x", "queued"), run("ticket__r1", "success")]
    assert plan_cancel(runs, 3) == RunPlan(fail=("ticket__r2", "manual__x"), note=cancel_note(3),
                                           outcome="cancelled 2 unfinished run(s)")


def test_cancel_with_nothing_running_does_nothing() -> None:
    plan = plan_cancel([run("ticket__r1", "failed")], 2)
    assert plan.fail == () and plan.trigger is None and plan.outcome == "no unfinished run to cancel"


def test_replan_replaces_the_unfinished_run() -> None:
    plan = plan_replan([run("ticket__r1", "running")], 2, ticket_open=True)
    assert plan == RunPlan(fail=("ticket__r1",), note=replan_note(2), trigger="ticket__r2",
                           outcome="replaced 1 unfinished run(s) by ticket__r2")


@pytest.mark.parametrize(("runs", "open_", "outcome"), [
    ([], True, "no unfinished run to replan"),
    ([run("ticket__r1", "success")], True, "no unfinished run to replan"),
    ([run("ticket__r1", "failed")], True, "no unfinished run to replan"),
    ([run("ticket__r1", "running")], False, "ticket closed since; its cancel stops the runs"),
    ([run("ticket__r3", "running"), run("ticket__r1", "failed")], True, "a newer revision already has a run"),
])
def test_replan_leaves_alone(runs: list[RunView], open_: bool, outcome: str) -> None:
    assert plan_replan(runs, 2, ticket_open=open_) == RunPlan(outcome=outcome)


def test_replaying_a_replan_after_a_crash_still_triggers() -> None:
    """Crashed after failing r1, before triggering r2: the note says whose run it was."""
    failed_by_us = [run("ticket__r1", "failed", note=replan_note(2))]
    assert plan_replan(failed_by_us, 2, ticket_open=True).trigger == "ticket__r2"
    failed_by_itself = [run("ticket__r1", "failed", note="flaky agent")]
    assert plan_replan(failed_by_itself, 2, ticket_open=True).trigger is None


def test_replaying_a_replan_after_the_trigger_keeps_the_new_run() -> None:
    runs = [run("ticket__r2", "queued"), run("ticket__r1", "failed", note=replan_note(2))]
    assert plan_replan(runs, 2, ticket_open=True) == RunPlan(note=replan_note(2), trigger="ticket__r2",
                                                             outcome="triggered ticket__r2")
