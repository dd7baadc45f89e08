"""The scripted tickets in the order the end-to-end test and bench/tickets.py file them: the leaked credential
first (its playbook), then each loop ticket in id order on what the earlier ones left. Each ends as its
`replayed` label says and the project's suite is green at the end: the scripts compose, as real tickets on one
repository must."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from include.agents.edits import write_changes
from include.agents.llm import LlmConfig
from include.agents.loop.agent import LoopStoppedError
from include.agents.playbooks import PLAYBOOKS
from include.contracts import ChangeKind
from include.demo.real_projects import project, project_names
from tests.include.agents.loop.conftest import solve_in, ticket_for


def _commit(root: Path, message: str) -> None:
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", message], cwd=root,
                   check=True)


@pytest.mark.parametrize("name", project_names())
def test_the_scripted_tickets_compose_after_the_secret_playbook(replay: LlmConfig, real_projects: dict[str, Path],
                                                                 tmp_path: Path, name: str) -> None:
    root = tmp_path / name
    shutil.copytree(real_projects[name], root, symlinks=True)
    secret = next(t for t in project(name).tickets
                  if t.expect.kind is ChangeKind.SECRET_REMEDIATION and t.expect.outcome == "merged")
    ticket = ticket_for(name, secret.title, secret.description, kind=ChangeKind.SECRET_REMEDIATION)
    write_changes(root, PLAYBOOKS[ChangeKind.SECRET_REMEDIATION](ticket, root))
    _commit(root, secret.title)
    ended = {}
    for spec in sorted((t for t in project(name).tickets if t.replayed is not None), key=lambda t: t.id):
        assert spec.replayed is not None
        try:
            solved = solve_in(replay, root, name, spec.id)
        except LoopStoppedError as exc:
            ended[spec.id] = "refused" if spec.replayed.reason and spec.replayed.reason in str(exc) else str(exc)
            continue
        ended[spec.id] = "merged" if set(spec.replayed.touches) <= set(solved.outcome.changed) else "wrong files"
        _commit(root, spec.title)
        assert solved.suite.exit_code == 0, (spec.id, solved.suite.output_tail)
    assert ended == {t.id: t.replayed.outcome for t in project(name).tickets if t.replayed is not None}
