"""`python -m include.agents <role>`: the one entrypoint both runners execute.

Reads the AgentTask JSON from `TICKETPILOT_AGENT_TASK` (or the file named by `TICKETPILOT_AGENT_TASK_FILE`),
runs the role and writes the validated result JSON to `TICKETPILOT_XCOM_PATH` (default: the
KubernetesPodOperator XCom sidecar path). Exit codes tell the runner what a retry can change:
0 ok; 2 the role finished and says no (red tests, blocking review), result written; 3 the step refused
with a known error (one line: retrying the same input cannot help, e.g. no model configured, a model budget
exhausted); 1 anything unexpected (traceback) or a known error a retry may fix (one line: the model provider
was unavailable)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from include import telemetry
from include.agents.errors import AgentError
from include.contracts import AgentRole, AgentTask, parse_result
from include.runners.lifeline import die_with_parent
from include.scm import ScmError

DEFAULT_XCOM_PATH = "/airflow/xcom/return.json"
EXIT_OK, EXIT_FAILED, EXIT_RESULT_NOT_OK, EXIT_REFUSED = 0, 1, 2, 3
ROLE_MODULES = {
    AgentRole.PO: "po",
    AgentRole.DEV: "dev",
    AgentRole.PIPELINE: "pipeline",
    AgentRole.TEST: "testing",
    AgentRole.REVIEW: "review",
    AgentRole.DOCS: "docs",
}

log = logging.getLogger("include.agents")


def load_task(role: AgentRole) -> AgentTask:
    raw = os.environ.get("TICKETPILOT_AGENT_TASK")
    task_file = os.environ.get("TICKETPILOT_AGENT_TASK_FILE")
    if not raw and task_file:
        raw = Path(task_file).read_text(encoding="utf-8")
    if not raw:
        raise AgentError("no task given: set TICKETPILOT_AGENT_TASK to the AgentTask JSON "
                         "or TICKETPILOT_AGENT_TASK_FILE to a file holding it")
    try:
        task = AgentTask.model_validate_json(raw)
    except ValidationError as exc:
        raise AgentError(f"the task is not a valid AgentTask: {exc}") from exc
    if task.role != role:
        raise AgentError(f"the task is for role {task.role.value!r}, but this process runs {role.value!r}")
    return task


def run_role(task: AgentTask) -> Any:
    """The role's result model; each role module exposes `run(task)`, imported only for its own role."""
    module = importlib.import_module(f"include.agents.{ROLE_MODULES[task.role]}")
    return module.run(task)


def write_result(result: Any, path: Path) -> None:
    """Validated against the result contract before it is written; written whole or not at all."""
    payload = result.model_dump_json()
    parse_result(payload)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(payload, encoding="utf-8")
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m include.agents", description="Run one agent step.")
    parser.add_argument("role", choices=[role.value for role in AgentRole])
    role = AgentRole(parser.parse_args(argv).role)
    os.environ["TICKETPILOT_COMPONENT"] = f"agent-{role.value}"  # not the task process it inherited from
    parent = os.environ.get("TICKETPILOT_PARENT_PID")
    die_with_parent(int(parent) if parent else None)
    try:
        task = load_task(role)
        log.info("%s step for %s (rev %d, run %s, try %d)", role.value, task.ticket.ticket_key,
                 task.ticket.rev, task.run_id, task.try_number)
        with telemetry.span(f"agent.{role.value}", ticket_key=task.ticket.ticket_key,
                            attributes={"run.id": task.run_id, "try": task.try_number}) as step:
            result = run_role(task)
            step.set_attribute("agent.outcome", "ok" if result.ok else "not ok")
        write_result(result, Path(os.environ.get("TICKETPILOT_XCOM_PATH", DEFAULT_XCOM_PATH)))
    except (AgentError, ScmError) as exc:
        print(f"ticketpilot {role.value}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED if getattr(exc, "retryable", False) else EXIT_REFUSED
    log.info("%s", result.summary)
    if not result.ok:
        print(f"ticketpilot {role.value}: not ok: {result.summary}", file=sys.stderr)
        return EXIT_RESULT_NOT_OK
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
