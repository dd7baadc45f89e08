"""End to end, a team brings its own repository with the installed `ticketpilot` command (which finds the
running platform through its connection file): `tenant add` makes the tenant and its pool and shows the hook
secret once; `repo add` mirrors a real git repository with its history, an executable script and a binary file
into the tenant's forge; a ticket posted to the tenant's hook with that secret is worked to a merged PR, and
merged main still holds the team's commits, modes and bytes. Both commands are run twice: the second changes
nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from include.demo.repo import demo_repo_files
from include.launcher.follow import RunView, follow
from include.launcher.platform import Platform
from include.scm.local import LocalForge
from include.store.db import connect
from tests.e2e.helpers import delivery_like, post

pytestmark = pytest.mark.e2e

LINT = 3  # the demo delivery of a lint ticket: a playbook does it, no model needed
TENANT = "team-own"
REPO = "invoicing"
LOGO = bytes(range(256)) * 8


def git(cwd: Path, *args: str) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "Team Dev", "GIT_AUTHOR_EMAIL": "dev@team.example",
           "GIT_COMMITTER_NAME": "Team Dev", "GIT_COMMITTER_EMAIL": "dev@team.example"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


def team_repository(root: Path) -> Path:
    """The team's clone: the demo project's files over two commits, a release script and a logo, a tag."""
    src = root / "team-clone"
    src.mkdir()
    git(src, "init", "--quiet", "--initial-branch=main")
    for path, content in demo_repo_files().items():
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        (src / path).write_text(content)
    git(src, "add", "-A")
    git(src, "commit", "--quiet", "-m", "Import the invoicing service")
    (src / "tools").mkdir()
    (src / "tools" / "release.sh").write_text("#!/bin/sh\nset -e\necho release\n")
    (src / "tools" / "release.sh").chmod(0o755)
    (src / "docs" / "logo.png").parent.mkdir(parents=True, exist_ok=True)
    (src / "docs" / "logo.png").write_bytes(LOGO)
    git(src, "add", "-A")
    git(src, "commit", "--quiet", "-m", "Release script and logo")
    git(src, "tag", "v0.1.0")
    return src


def ticketpilot(platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "ticketpilot"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETPILOT_")}  # only the file says where
    return subprocess.run([str(script), "--platform", str(platform.home), *args], capture_output=True, text=True,
                          env=env, cwd="/", check=False, timeout=120)


def test_a_team_adds_its_tenant_and_repository_with_the_cli_and_its_ticket_merges_with_history_kept(
        platform: Platform, tmp_path: Path) -> None:
    added = ticketpilot(platform, "tenant", "add", TENANT, "--default-repo", REPO, "--approver", "alice")
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith(f"{TENANT}: added (pool tenant_{TENANT})"), added.stdout
    secret = added.stdout.split("hook secret: ")[1].split()[0]
    assert f"/ticketpilot/hooks/ado/{TENANT}" in added.stdout
    again = ticketpilot(platform, "tenant", "add", TENANT, "--default-repo", REPO, "--approver", "alice")
    assert again.stdout.startswith(f"{TENANT}: unchanged") and "hook secret:" not in again.stdout

    src = team_repository(tmp_path)
    mirrored = ticketpilot(platform, "repo", "add", TENANT, REPO, str(src))
    assert mirrored.returncode == 0, mirrored.stderr
    assert mirrored.stdout.startswith(f"{TENANT}/{REPO}: added"), mirrored.stdout
    assert "2 commit(s), 1 branch(es), 1 tag(s)" in mirrored.stdout
    assert "unchanged" in ticketpilot(platform, "repo", "add", TENANT, REPO, str(src)).stdout.splitlines()[0]
    assert f"repositories:  {REPO}" in ticketpilot(platform, "tenant", "show", TENANT).stdout

    payload = delivery_like(LINT, workitem_id=391, tags="lint")  # no repo tag: the tenant's default repository
    response = post(platform, TENANT, payload, (TENANT, secret))
    assert response.status_code == 202, response.text
    view = RunView(ticket_key=response.json()["ticket_key"], dag_id=response.json()["dag_id"])
    with platform.client() as client:
        follow(client, {view.ticket_key: view}, on_gate=lambda v: [], timeout=900)
        pool = client.request("GET", f"/api/v2/pools/tenant_{TENANT}").json()
    assert view.state == "success", [(t["task_id"], t["state"]) for t in view.tasks]
    assert pool["slots"] == 4
    with connect(autocommit=True) as conn:
        statuses = [r["status"] for r in conn.execute(
            "SELECT status FROM ticketpilot.pull_requests WHERE tenant_id = %s AND repo = %s ORDER BY pr_id",
            (TENANT, REPO)).fetchall()]
    assert statuses and set(statuses) == {"completed"}, statuses

    main = LocalForge.from_settings(TENANT).checkout(REPO, "main", tmp_path / "merged")
    team_tip = git(src, "rev-parse", "main").strip()
    git(main, "merge-base", "--is-ancestor", team_tip, "HEAD")  # the team's commits are main's history
    subjects = git(main, "log", "--format=%s", "HEAD").splitlines()
    assert subjects[-2:] == ["Release script and logo", "Import the invoicing service"]
    assert len(subjects) > 2, "the ticket's merge is on top"
    assert os.access(main / "tools" / "release.sh", os.X_OK)
    assert (main / "docs" / "logo.png").read_bytes() == LOGO
