"""Fixtures for the agent tests: the demo repository on disk or in a real local forge, demo tickets
normalised from the demo ADO deliveries exactly as the ingress does it, and the LLM emulator scripted to
answer what a test needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi.responses import JSONResponse, Response

from include.agents.llm import BASE_URL_ENV, MODEL_ENV
from include.contracts import AgentTask, ChangeKind, DevResult, Ticket
from include.demo.repo import DEMO_REPO, demo_repo_files
from include.demo.tickets import demo_deliveries
from include.scm.local import LocalForge
from include.settings import REPO_ROOT
from include.tickets import parse_ado_delivery
from tests.emulators.llm.emulator import Emulator, EmulatorServer

TENANT = "acme"


def write_files(root: Path, files: dict[str, str]) -> Path:
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    """The demo repository's seed files in a plain directory (what a playbook sees in a checkout)."""
    return write_files(tmp_path / DEMO_REPO, demo_repo_files())


@pytest.fixture
def demo_ticket() -> Callable[..., Ticket]:
    """Work item id (101–104) → the Ticket the ingress makes of its demo delivery; keyword overrides apply."""
    deliveries = {d["resource"]["id"]: d for d in demo_deliveries()}

    def make(workitem_id: int, **changes: object) -> Ticket:
        ticket = parse_ado_delivery(deliveries[workitem_id], TENANT, DEMO_REPO).ticket
        return ticket.model_copy(update=changes) if changes else ticket

    return make


@pytest.fixture
def forge(db: object, forge_dir: Path) -> LocalForge:
    """A local forge on the test database holding the seeded demo repository."""
    forge = LocalForge.from_settings(TENANT)
    forge.create_repo(DEMO_REPO, demo_repo_files())
    return forge


def draft_pr(forge: LocalForge, ticket: Ticket) -> dict[str, object]:
    """For a ticket whose repository is already in the forge: its branch and a draft PR with nothing
    applied, as the dev result the later steps receive (to test them on a branch dev did not fix)."""
    head = forge.ensure_branch(ticket.repo, ticket.branch, "main")
    pr = forge.open_pr(ticket.repo, ticket.branch, "main", ticket.title, "", draft=True,
                       workitem_id=ticket.workitem_id)
    return DevResult(summary="opened by the test", branch=ticket.branch, pr_id=pr.pr_id, head_commit=head,
                     risk_class=ticket.risk_class).model_dump(mode="json")


def file_at(forge: LocalForge, repo: str, branch: str, path: str) -> str | None:
    """The file's content at the branch tip, None when it does not exist there."""
    proc = subprocess.run(["git", "--git-dir", str(forge.repo_path(repo)), "show", f"{branch}:{path}"],
                          capture_output=True, text=True, check=False)
    return proc.stdout if proc.returncode == 0 else None


@pytest.fixture
def open_pr(forge: LocalForge) -> Callable[[Ticket], dict[str, object]]:
    return partial(draft_pr, forge)


@pytest.fixture
def show(forge: LocalForge) -> Callable[[str, str, str], str | None]:
    """(repo, branch, path) → the file's content at the branch tip, None when it does not exist there."""
    return partial(file_at, forge)


MODEL = "llamacpp:emulated"
"""The LLM emulator as the agents' configured model (self-hosted: free unless a test prices it)."""


class ScriptedLlm:
    """The LLM emulator answering from a queue (as the OpenAI format's message content); the plain emulator's
    echo once the queue is empty. `bodies` are the request bodies the emulator received, in order."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.answers: deque[str] = deque()
        self._plain = emulator.handle

    def say(self, *answers: str | dict[str, Any]) -> None:
        self.answers.extend(a if isinstance(a, str) else json.dumps(a) for a in answers)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [request["body"] for request in self.emulator.requests]

    async def handle(self, body: dict[str, Any], headers: dict[str, str], deployment: str | None = None) -> Response:
        if not self.answers:
            return await self._plain(body, headers, deployment)
        self.emulator.requests.append({"body": body, "headers": headers, "deployment": deployment})
        answer = self.answers.popleft()
        return JSONResponse({"id": "chatcmpl-scripted", "object": "chat.completion", "model": body.get("model"),
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                                          "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57}})


@pytest.fixture(scope="session")
def llm_emulator() -> Iterator[Emulator]:
    with EmulatorServer("openai") as emulator:
        yield emulator


@pytest.fixture
def scripted_llm(llm_emulator: Emulator, db: object, monkeypatch: pytest.MonkeyPatch) -> ScriptedLlm:
    """The emulator configured as the agents' model, as the launcher configures the local one."""
    llm_emulator.reset()
    scripted = ScriptedLlm(llm_emulator)
    monkeypatch.setattr(llm_emulator, "handle", scripted.handle)
    monkeypatch.setenv(MODEL_ENV, MODEL)
    monkeypatch.setenv(BASE_URL_ENV, f"{llm_emulator.url}/v1")
    return scripted


@pytest.fixture
def tenant_forge(db: object, forge_dir: Path) -> LocalForge:
    """A local forge of a tenant of its own, holding the demo repository: the tenant's cost ledger and
    response cache start empty, so no answer cached by another test is replayed."""
    forge = LocalForge.from_settings(f"t{uuid.uuid4().hex[:10]}")
    forge.create_repo(DEMO_REPO, demo_repo_files())
    return forge


@pytest.fixture
def agent_process(tmp_path: Path) -> Callable[[AgentTask], subprocess.CompletedProcess[str]]:
    """Run `python -m include.agents <role>` for a task as the local runner does: a child process with this
    process's environment (database, forge, model), the task in TICKETPILOT_AGENT_TASK."""

    def run(task: AgentTask) -> subprocess.CompletedProcess[str]:
        env = os.environ | {"PYTHONPATH": str(REPO_ROOT), "TICKETPILOT_AGENT_TASK": task.model_dump_json(),
                            "TICKETPILOT_XCOM_PATH": str(tmp_path / "return.json")}
        return subprocess.run([sys.executable, "-m", "include.agents", task.role.value], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=180, check=False)

    return run


@pytest.fixture
def feature_ticket(demo_ticket: Callable[..., Ticket], tenant_forge: LocalForge) -> Ticket:
    """A `feature` ticket (no playbook: only a model can make it) on the demo repository of `tenant_forge`."""
    return demo_ticket(
        101, tenant=tenant_forge.tenant, change_kind=ChangeKind.FEATURE, title="Add a discount to invoices",
        description="Invoices need an optional discount in cents (invoicing/totals.py), taken off the subtotal "
                    "before tax is computed.",
        acceptance_criteria=["Invoice(discount_cents=100) lowers the subtotal by 1.00", "The test suite passes"],
    ).model_copy(update={"workitem_id": 105})
