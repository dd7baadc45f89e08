"""End to end, the README's "Use it on your own repository" with the installed `ticketpilot` command (which finds
the running platform through its connection file):
- `tenant add` makes the tenant and its pool and shows the hook secret once; `repo add` mirrors a real git
  repository with its history, an executable script and a binary file into the tenant's forge; both run twice,
  the second changing nothing;
- a Team Directory file is checked and applied (roles, CODEOWNERS pull request), and applied again: no change;
- a ticket posted with the secret while the tenant is paused is stored and held; `tenant resume` starts it, a
  second pause mid-run pauses its DAG in Airflow, a resume lets it go on to a merged PR that keeps the team's
  commits, modes and bytes;
- an R3 ticket is approved by directory people over REST: the named approver, then a second person, whose
  approval is refused (403) while the directory has taken his role away and accepted once it is back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from include.demo.repo import demo_repo_files
from include.launcher.follow import RunView, approve_over_rest, follow
from include.launcher.platform import Platform
from include.scm.local import LocalForge
from include.store.db import connect
from tests.e2e.helpers import delivery_like, post

pytestmark = pytest.mark.e2e

LINT = 3  # the demo delivery of a lint ticket: a playbook does it, no model needed
SECRET = 2  # the demo delivery of a leaked-key ticket: R3, a named approver plus a second person
TENANT = "team-own"
REPO = "invoicing"
LOGO = bytes(range(256)) * 8
DIRECTORY = """\
version: 1
people:
  - {id: alice, name: Alice Moreau, email: alice@team.example}
  - {id: bob, name: Bob Okafor}
teams:
  - {id: billing, members: [alice, bob]}
tenants:
  - id: team-own
    default_repo: invoicing
    roles:
      approver: [team:billing]
      r3_approver: [alice]
    repositories:
      - name: invoicing
        owners: {"*": [team:billing]}
"""
HELD_FOR_S = 4  # the spawner answers a delivery in well under a second: this long untouched means held


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

    directory = tmp_path / "directory.yaml"
    directory.write_text(DIRECTORY)
    assert ticketpilot(platform, "directory", "check", str(directory)).returncode == 0
    applied = ticketpilot(platform, "directory", "apply", str(directory))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    for line in ("grant approver to alice", "grant approver to bob", "grant r3_approver to alice",
                 "managed by the Team Directory from now on", f"{REPO}: CODEOWNERS proposed on ticketpilot/codeowners"):
        assert line in applied.stdout, applied.stdout
    assert ticketpilot(platform, "directory", "apply", str(directory)).stdout.endswith(": nothing to change\n")

    paused = ticketpilot(platform, "tenant", "pause", TENANT, "--reason", "release freeze")
    assert paused.returncode == 0 and paused.stdout.startswith(f"{TENANT}: paused"), paused.stderr
    payload = delivery_like(LINT, workitem_id=391, tags="lint")  # no repo tag: the tenant's default repository
    response = post(platform, TENANT, payload, (TENANT, secret))
    assert response.status_code == 202, response.text
    view = RunView(ticket_key=response.json()["ticket_key"], dag_id=response.json()["dag_id"])
    time.sleep(HELD_FOR_S)
    with connect(autocommit=True) as conn:
        held = conn.execute("SELECT processed_at, attempts FROM ticketpilot.outbox WHERE dag_id = %s",
                            (view.dag_id,)).fetchall()
    assert [(r["processed_at"], r["attempts"]) for r in held] == [(None, 0)], "a paused tenant's delivery waits"
    assert "1 delivery(ies) held" in ticketpilot(platform, "tenant", "show", TENANT).stdout

    resumed = ticketpilot(platform, "tenant", "resume", TENANT)
    assert resumed.returncode == 0 and "1 held delivery(ies) handed to the spawner" in resumed.stdout, resumed
    with platform.client() as client:
        deadline = time.monotonic() + 120
        while not (client.dag_exists(view.dag_id) and client.dag_runs(view.dag_id)):
            assert time.monotonic() < deadline, "the resume did not start the held ticket"
            time.sleep(0.5)
        # Paused mid-run: Airflow's DAG is paused (no further step starts), and the resume unpauses it.
        again = ticketpilot(platform, "tenant", "pause", TENANT, "--reason", "incident 7")
        assert "1 ticket DAG(s) paused now" in again.stdout, again.stdout + again.stderr
        assert client.request("GET", f"/api/v2/dags/{view.dag_id}").json()["is_paused"] is True
        assert "1 ticket DAG(s) unpaused" in ticketpilot(platform, "tenant", "resume", TENANT).stdout
        assert client.request("GET", f"/api/v2/dags/{view.dag_id}").json()["is_paused"] is False
        follow(client, {view.ticket_key: view}, on_gate=lambda v: [], timeout=900)
        pool = client.request("GET", f"/api/v2/pools/tenant_{TENANT}").json()
    assert view.state == "success", [(t["task_id"], t["state"]) for t in view.tasks]
    assert pool["slots"] == 4
    with connect(autocommit=True) as conn:
        statuses = [r["status"] for r in conn.execute(
            "SELECT status FROM ticketpilot.pull_requests WHERE tenant_id = %s AND repo = %s "
            "AND source_branch LIKE 'tp/%%' ORDER BY pr_id",
            (TENANT, REPO)).fetchall()]
    assert statuses and set(statuses) == {"completed"}, statuses

    risky = post(platform, TENANT, delivery_like(SECRET, workitem_id=392), (TENANT, secret))
    assert risky.status_code == 202, risky.text
    gated = RunView(ticket_key=risky.json()["ticket_key"], dag_id=risky.json()["dag_id"])

    def directory_people_decide(view: RunView) -> list[str]:
        """R3: alice (the named approver), then bob; bob leaves the team first, and his approval is refused."""
        approve_over_rest(platform.api_url, view.ticket_key, "alice", "alice", "named approver: ok")
        directory.write_text(DIRECTORY.replace("members: [alice, bob]", "members: [alice]"))
        assert "revoke approver from bob" in ticketpilot(platform, "directory", "apply", str(directory)).stdout
        with pytest.raises(httpx.HTTPStatusError) as refused:
            approve_over_rest(platform.api_url, view.ticket_key, "bob", "bob", "second person")
        assert refused.value.response.status_code == 403
        assert f"bob may not decide gates of tenant {TENANT}" in refused.value.response.text
        directory.write_text(DIRECTORY)
        assert "grant approver to bob" in ticketpilot(platform, "directory", "apply", str(directory)).stdout
        approve_over_rest(platform.api_url, view.ticket_key, "bob", "bob", "second person: ok")
        return ["alice", "bob"]

    with platform.client() as client:
        follow(client, {gated.ticket_key: gated}, on_gate=directory_people_decide, timeout=900)
    assert gated.state == "success", [(t["task_id"], t["state"]) for t in gated.tasks]
    with connect(autocommit=True) as conn:
        decided = conn.execute("SELECT approver, source FROM ticketpilot.gate_decisions WHERE ticket_key = %s "
                               "ORDER BY id", (gated.ticket_key,)).fetchall()
    assert [(d["approver"], d["source"]) for d in decided] == [("alice", "rest"), ("bob", "rest")]

    main = LocalForge.from_settings(TENANT).checkout(REPO, "main", tmp_path / "merged")
    team_tip = git(src, "rev-parse", "main").strip()
    git(main, "merge-base", "--is-ancestor", team_tip, "HEAD")  # the team's commits are main's history
    subjects = git(main, "log", "--format=%s", "HEAD").splitlines()
    assert subjects[-2:] == ["Release script and logo", "Import the invoicing service"]
    assert len(subjects) > 2, "the ticket's merge is on top"
    assert os.access(main / "tools" / "release.sh", os.X_OK)
    assert (main / "docs" / "logo.png").read_bytes() == LOGO
