"""`python -m include.evals run|render|list`: evaluate a model on the goldens, render its card, list what exists.

    python -m include.evals run --model llamacpp:smollm2-135m-instruct --base-url http://127.0.0.1:8080/v1
    python -m include.evals render --model llamacpp:smollm2-135m-instruct      # its latest complete run
    python -m include.evals list                                               # goldens and prompt versions

`run` without --model evaluates the models of TICKETPILOT_EVAL_MODELS, else the agents' own model
(TICKETPILOT_LLM_MODEL); it needs TICKETPILOT_DB_URL like every component.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pydantic import ValidationError

from include.evals.goldens import load_goldens
from include.evals.records import latest_run_id
from include.evals.report import render_run, reports_dir
from include.evals.runner import EvalRunFailed, EvalTarget, eval_targets, plan, run_evals
from include.evals.skills import SKILLS
from include.store.db import connect
from model_serving.router import RouterError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.evals")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="evaluate a model and render its card and reports")
    run.add_argument("--model", help="provider:model (default: TICKETPILOT_EVAL_MODELS, else TICKETPILOT_LLM_MODEL)")
    run.add_argument("--base-url", help="where an OpenAI-compatible or self-hosted server listens")
    run.add_argument("--skill", action="append", choices=list(SKILLS), help="only this skill (repeatable)")
    run.add_argument("--tenant", help="the ledger to book the calls in (default: TICKETPILOT_EVAL_TENANT or evals)")
    run.add_argument("--latest", action="store_true", help="only the newest prompt version of each skill")
    run.add_argument("--no-render", action="store_true", help="record the rows, write no files")
    render = commands.add_parser("render", help="render the card and reports of a recorded run")
    which = render.add_mutually_exclusive_group(required=True)
    which.add_argument("--run-id")
    which.add_argument("--model", help="its latest complete run")
    commands.add_parser("list", help="the goldens per skill and the prompt versions that exist")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.command == "list":
        return _list()
    if args.command == "render":
        return _render(args.run_id, args.model)
    try:
        targets = [EvalTarget(model=args.model, base_url=args.base_url)] if args.model else eval_targets()
    except (ValueError, ValidationError) as exc:
        print(exc, file=sys.stderr)
        return 2
    if not targets:
        print("no model to evaluate: pass --model provider:model, or set TICKETPILOT_EVAL_MODELS or "
              "TICKETPILOT_LLM_MODEL", file=sys.stderr)
        return 2
    for target in targets:
        try:
            summary = run_evals(target, tenant=args.tenant, skills=args.skill, latest_only=args.latest)
        except (EvalRunFailed, RouterError) as exc:
            print(f"{target.model}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        print("\n".join(summary.lines()))
        if not args.no_render:
            with connect(autocommit=True) as conn:
                for path in render_run(conn, summary.run_id):
                    print(f"  wrote {path}")
    return 0


def _render(run_id: str | None, model: str | None) -> int:
    with connect(autocommit=True) as conn:
        run_id = run_id or latest_run_id(conn, str(model))
        if run_id is None:
            print(f"no complete eval run of {model}; run `python -m include.evals run --model {model}` first",
                  file=sys.stderr)
            return 2
        for path in render_run(conn, run_id):
            print(f"wrote {path}")
    return 0


def _list() -> int:
    plans, skipped = plan()
    goldens = load_goldens()
    for name in SKILLS:
        ids = [g.id for g in goldens if g.skill == name]
        versions = [p.prompt.ref for p in plans if p.skill == name]
        reasons = [s["reason"] for s in skipped if s["skill"] == name]
        print(f"{name}: {len(ids)} goldens; prompts: {', '.join(versions) or '-'}"
              + "".join(f"; skipped: {r}" for r in reasons))
        print("".join(f"  {golden_id}\n" for golden_id in ids), end="")
    print(f"reports go to {reports_dir()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
