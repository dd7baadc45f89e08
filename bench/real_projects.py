"""Real-project outcomes: the labelled tickets of include/demo/real_projects.yaml run through the whole DAG on the
embedded platform, without a language model, and each ending is compared with its label.

    PYTHONPATH=. .venv/bin/python bench/real_projects.py [--projects prettytable,freezegun,bleach]

Gates are decided as the labels say (approve what should merge; reject what must not, so a person's click can
never hide a wrong merge). Prints one row per ticket and a summary line:
`tickets=N merged_green=… refused_with_reason=… wrong_merges=… unexpected=… draft_pr_p50_s=…`.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from include.airflow_client import AirflowClient
from include.demo.real_projects import (
    TicketSpec,
    decide_as_labelled,
    file_tickets,
    project,
    project_names,
    project_tenant,
    provision_project,
)
from include.launcher.follow import RunView, follow
from include.launcher.platform import Platform, free_port
from include.store.db import connect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", default=",".join(project_names()))
    parser.add_argument("--timeout", type=float, default=5400)
    args = parser.parse_args()
    names = args.projects.split(",")
    labels = {f"{project_tenant(n).tenant_id}-{t.id}": t for n in names for t in project(n).tickets}
    with embedded_platform("tp-bench-real-") as platform:
        with platform.client() as client:
            for name in names:
                provision_project(name, client)
        started = time.monotonic()
        views = file_tickets(platform.api_url, names)

        def on_gate(view: RunView) -> list[str]:
            return decide_as_labelled(platform.api_url, view, labels[view.ticket_key].expect.outcome)

        with platform.client() as client:
            follow(client, views, on_gate=on_gate, timeout=args.timeout)
            report(client, views, labels, time.monotonic() - started)


@contextmanager
def embedded_platform(prefix: str) -> Iterator[Platform]:
    """The embedded platform in a throwaway home, up with its DAG factory ready; down and removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    platform = Platform(home=home, api_port=free_port(), heartbeat_timeout_s=20)
    try:
        platform.up()
        platform.wait_for_factory()
        yield platform
    finally:
        platform.down()
        shutil.rmtree(home, ignore_errors=True)


def report(client: AirflowClient, views: dict[str, RunView], labels: dict[str, TicketSpec], wall_s: float) -> None:
    print("| ticket | kind | expected | ended | why / PR |")
    print("|---|---|---|---|---|")
    merged = refused = wrong = unexpected = 0
    to_pr: list[float] = []
    for key in sorted(views):
        view, label = views[key], labels[key]
        prs = ticket_prs(key)
        landed = [pr for pr in prs if pr["status"] == "completed"]
        to_pr += [float(pr["to_pr"]) for pr in prs[:1]]
        if landed:
            ended, why = "merged", f"PR #{landed[0]['pr_id']}"
            merged += label.expect.outcome == "merged"
            wrong += label.expect.outcome == "refused"
        else:
            ended, why = "refused", reason(client, view)
            refused += label.expect.outcome == "refused" and label.expect.reason in why
        unexpected += ended != label.expect.outcome
        print(f"| {key} | {label.expect.kind.value} | {label.expect.outcome} | {ended} | {why[:160]} |")
    p50 = statistics.median(to_pr) if to_pr else 0.0
    print(f"\ntickets={len(views)} merged_green={merged} refused_with_reason={refused} wrong_merges={wrong} "
          f"unexpected={unexpected} draft_pr_p50_s={p50:.1f} wall_s={wall_s:.0f}")


def ticket_prs(key: str) -> list[dict]:
    """The ticket's PRs (not its docs PR), oldest first, each with seconds from ticket to PR (`to_pr`)."""
    with connect(autocommit=True) as conn:
        return conn.execute(
            "SELECT p.pr_id, p.status, extract(epoch FROM p.created_at - t.created_at) AS to_pr "
            "FROM ticketpilot.pull_requests p JOIN ticketpilot.tickets t "
            "ON t.tenant_id = p.tenant_id AND t.workitem_id = p.workitem_id "
            "WHERE t.ticket_key = %s AND p.source_branch NOT LIKE '%%-docs%%' ORDER BY p.pr_id", (key,)).fetchall()


_EXCEPTION = re.compile(r"^\w+(?:Exception|Error): ")


def reason(client: AirflowClient, view: RunView) -> str:
    """The line where the step that stopped the ticket says why (the agent's own message, or the skip)."""
    for task in view.tasks:
        if task["state"] in ("failed", "skipped"):
            log = client.task_log(view.dag_id, view.run_id or "", task["task_id"], int(task.get("try_number") or 1))
            lines = [line for line in log.splitlines() if "ticketpilot " in line or "Skipping" in line
                     or "closed this without merging" in line or _EXCEPTION.match(line)]
            if lines:
                return f"{task['task_id']}: {lines[-1].strip()}"
    return f"run {view.state}"


if __name__ == "__main__":
    main()
