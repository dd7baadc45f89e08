"""Fixtures for the agent tests: the demo repository on disk or in a real local forge, and demo tickets
normalised from the demo ADO deliveries exactly as the ingress does it."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from include.contracts import DevResult, Ticket
from include.demo.repo import DEMO_REPO, demo_repo_files
from include.demo.tickets import demo_deliveries
from include.scm.local import LocalForge
from include.tickets import parse_ado_delivery

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


@pytest.fixture
def open_pr(forge: LocalForge) -> Callable[[Ticket], dict[str, object]]:
    """For a ticket whose repository is already in the forge: its branch and a draft PR with nothing
    applied, as the dev result the later steps receive (to test them on a branch dev did not fix)."""

    def make(ticket: Ticket) -> dict[str, object]:
        head = forge.ensure_branch(ticket.repo, ticket.branch, "main")
        pr = forge.open_pr(ticket.repo, ticket.branch, "main", ticket.title, "", draft=True,
                           workitem_id=ticket.workitem_id)
        return DevResult(summary="opened by the test", branch=ticket.branch, pr_id=pr.pr_id, head_commit=head,
                         risk_class=ticket.risk_class).model_dump(mode="json")

    return make


@pytest.fixture
def show(forge: LocalForge) -> Callable[[str, str, str], str | None]:
    """(repo, branch, path) → the file's content at the branch tip, None when it does not exist there."""

    def read(repo: str, branch: str, path: str) -> str | None:
        proc = subprocess.run(["git", "--git-dir", str(forge.repo_path(repo)), "show", f"{branch}:{path}"],
                              capture_output=True, text=True, check=False)
        return proc.stdout if proc.returncode == 0 else None

    return read
