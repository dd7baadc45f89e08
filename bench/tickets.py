"""Loop tickets through the whole DAG: the real-project tickets no playbook covers (bug fixes, small features,
refactors), worked by the tool-using loop on any router model, on the embedded platform.

    PYTHONPATH=. .venv/bin/python bench/tickets.py                                  # the replay model (scripted)
    OPENAI_API_KEY=... PYTHONPATH=. .venv/bin/python bench/tickets.py --model openai:gpt-4.1-mini

Each project gets a tenant `<project>-llm` whose routing policy names `--model`. The playbook tickets a team
lands first go first, one at a time: CI (so the loop tickets' branches, which the replay scripts were recorded on,
start from a main that has it) and the leaked credential (review blocks any PR that touches its file). Then the
labelled loop tickets (those with a `replayed` label in include/demo/real_projects.yaml), one per project at a
time, since later ones edit what earlier ones merged; the figures cover these.
Gates are approved: a person's click is not what is measured here, the final diff and the suite are. A ticket
counts as merged green when its PR merged and the project's own suite passes on main afterwards; as refused
with a reason when its label says refused and it ended before merging with the stopping step saying why; as a
wrong merge when it merged although its label says it must be refused, or the suite on main is red; any other
ending (a ticket labelled to merge that did not) is unexpected. Prints one row per ticket (outcome, model
calls, tokens, cost, ticket → draft PR seconds) and a summary line, as bench/RESULTS.md records.
"""

from __future__ import annotations

import argparse
import statistics
import time
from decimal import Decimal
from pathlib import Path

from bench.real_projects import embedded_platform, reason, ticket_prs
from include.airflow_client import AirflowClient
from include.contracts import ChangeKind
from include.demo.real_projects import (
    BRANCH,
    REPLAY_MODEL,
    TicketSpec,
    decide_as_labelled,
    file_tickets,
    project,
    project_names,
    project_tenant,
    provision_project,
)
from include.launcher.follow import RunView, follow
from include.sandbox import Sandbox, repo_venv
from include.scm.local import LocalForge
from include.store.db import connect
from model_serving.router.ledger import calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=REPLAY_MODEL, help="provider:model, as TICKETPILOT_LLM_MODEL")
    parser.add_argument("--projects", default=",".join(project_names()))
    parser.add_argument("--timeout", type=float, default=5400)
    args = parser.parse_args()
    names = args.projects.split(",")
    labels = {f"{project_tenant(n, args.model).tenant_id}-{t.id}": t for n in names for t in project(n).tickets
              if t.replayed is not None}
    with embedded_platform("tp-bench-tickets-") as platform, platform.client() as client:
        forges = {name: provision_project(name, client, model=args.model) for name in names}

        def approve(view: RunView) -> list[str]:
            return decide_as_labelled(platform.api_url, view, "merged")

        for first in (ChangeKind.PIPELINE, ChangeKind.SECRET_REMEDIATION):
            follow(client, file_tickets(platform.api_url, names, kinds={first}, model=args.model),
                   on_gate=approve, timeout=args.timeout)
        started = time.monotonic()
        views: dict[str, RunView] = {}
        queues = {n: [t.id for t in project(n).tickets if t.replayed is not None] for n in names}
        while any(queues.values()):  # one loop ticket per project at a time: later ones edit what earlier merged
            wave: dict[str, RunView] = {}
            for name, queue in queues.items():
                if queue:
                    wave |= file_tickets(platform.api_url, [name], ids={queue.pop(0)}, model=args.model)
            views |= follow(client, wave, on_gate=approve, timeout=args.timeout)
        wall_s = time.monotonic() - started
        green = {name: suite_passes(forges[name], name, platform.home / "judge") for name in names}
        report(client, views, labels, green, args.model, wall_s)


def suite_passes(forge: LocalForge, name: str, scratch: Path) -> bool:
    main = forge.checkout(name, BRANCH, scratch / name)
    sandbox = Sandbox(main.resolve(), repo_venv(main))
    result = sandbox.run([sandbox.python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], timeout_s=900)
    if result.exit_code != 0:
        print(f"{name}: its suite FAILS on merged main:\n{result.output_tail}")
    return result.exit_code == 0


def report(client: AirflowClient, views: dict[str, RunView], labels: dict[str, TicketSpec],
           green: dict[str, bool], model: str, wall_s: float) -> None:
    print(f"model: {model}\n")
    print("| ticket | title | ended | model calls | tokens | cost USD | to draft PR s | why / PR |")
    print("|---|---|---|---|---|---|---|---|")
    merged = refused = wrong = unexpected = 0
    to_pr: list[float] = []
    for key in sorted(views):
        view, label = views[key], labels[key]
        tenant = key.rsplit("-", 1)[0]
        prs = ticket_prs(key)
        with connect(autocommit=True) as conn:
            rows = [r for r in calls(conn, tenant) if r["ticket_key"] == key]
        tokens = sum(r["tokens_in"] + r["tokens_out"] for r in rows)
        cost = sum((r["cost_usd"] for r in rows), Decimal(0))
        first_pr = float(prs[0]["to_pr"]) if prs else None
        to_pr += [first_pr] if first_pr is not None else []
        landed = [pr for pr in prs if pr["status"] == "completed"]
        expected = label.replayed.outcome if label.replayed else "merged"
        if landed:
            ok = expected == "merged" and green[tenant.removesuffix("-llm")]
            ended, why = ("merged green" if ok else "WRONG MERGE"), f"PR #{landed[0]['pr_id']}"
            merged += ok
            wrong += not ok
        else:
            ended, why = "refused", reason(client, view)
            if expected == "refused" and not why.startswith("run "):  # the stopping step said why
                refused += 1
            else:
                ended = "UNEXPECTED refusal" if expected == "merged" else "refused without a reason"
                unexpected += 1
        print(f"| {key} | {label.title[:50]} | {ended} | {len(rows)} | {tokens} | {cost:.4f} | "
              f"{'' if first_pr is None else f'{first_pr:.0f}'} | {why[:140]} |")
    p50 = statistics.median(to_pr) if to_pr else 0.0
    print(f"\ntickets={len(views)} merged_green={merged} refused_with_reason={refused} wrong_merges={wrong} "
          f"unexpected={unexpected} draft_pr_p50_s={p50:.1f} wall_s={wall_s:.0f}")


if __name__ == "__main__":
    main()
