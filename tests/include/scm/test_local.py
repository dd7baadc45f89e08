"""LocalForge beyond the contract test_conformance.py checks of every forge: seeding, names that may not
climb out of the forge, concurrency on one branch and one PR, and merges that survive a crash."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from include.scm import adapter_for
from include.scm.base import FileChange, ScmError
from include.scm.local import LocalForge

TENANT = "acme"
REPO = "shop"
SEED = {"README.md": "# shop\n", "app/main.py": "print('hello')\n", "app/util.py": "X = 1\n"}
FEATURE = "tp/demo-1"


@pytest.fixture
def forge(db: psycopg.Connection, db_url: str, forge_dir: Path) -> LocalForge:
    """A forge with one seeded repository."""
    forge = LocalForge(TENANT, forge_dir, db_url)
    forge.create_repo(REPO, SEED)
    return forge


def git(forge: LocalForge, *args: str) -> str:
    """Read the bare repository the way a person would, bypassing the forge under test."""
    return subprocess.run(
        ["git", *args], cwd=forge.repo_path(REPO), capture_output=True, text=True, check=True
    ).stdout


def log(forge: LocalForge, branch: str) -> list[str]:
    """Subjects on `branch`, newest first."""
    return git(forge, "log", "--format=%s", f"refs/heads/{branch}").splitlines()


def show(forge: LocalForge, branch: str, path: str) -> str:
    return git(forge, "show", f"refs/heads/{branch}:{path}")


def ready_pr(forge: LocalForge, branch: str, changes: list[FileChange], title: str = "Change") -> int:
    """A published PR from `branch` carrying `changes`."""
    forge.ensure_branch(REPO, branch, "main")
    forge.commit_files(REPO, branch, changes, title, idempotency_key=f"{branch}-1")
    pr = forge.open_pr(REPO, branch, "main", title, "", draft=True, workitem_id=None)
    return forge.publish(pr.pr_id).pr_id


def test_adapter_for_builds_the_local_forge_from_settings(db: psycopg.Connection, forge_dir: Path) -> None:
    forge = adapter_for(TENANT)
    assert isinstance(forge, LocalForge)
    assert forge.repo_path(REPO) == forge_dir / TENANT / f"{REPO}.git"


def test_create_repo_is_idempotent(forge: LocalForge) -> None:
    first = forge.head(REPO, "main")
    assert forge.create_repo(REPO, {"other.txt": "ignored"}) == first
    assert forge.default_branch(REPO) == "main"
    assert log(forge, "main") == ["Initial commit"]
    assert show(forge, "main", "app/main.py") == SEED["app/main.py"]


def test_unknown_repo_branch_and_pr_name_what_is_missing(forge: LocalForge, forge_dir: Path) -> None:
    with pytest.raises(ScmError, match=str(forge_dir / TENANT / "nope.git")):
        forge.default_branch("nope")
    with pytest.raises(ScmError, match="unknown branch 'ghost'"):
        forge.ensure_branch(REPO, FEATURE, "ghost")
    with pytest.raises(ScmError, match="unknown PR 42"):
        forge.get_pr(42)
    with pytest.raises(ScmError, match="repo name"):
        forge.create_repo("../escape", {})
    assert forge.head(REPO, "ghost") is None


def test_concurrent_commits_on_one_branch_all_land(forge: LocalForge) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")

    def write(n: int) -> str:
        change = FileChange(path=f"notes/{n}.txt", content=f"{n}\n")
        return forge.commit_files(REPO, FEATURE, [change], f"Note {n}", idempotency_key=f"note-{n}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(4)))
    assert len(log(forge, FEATURE)) == 5
    assert sorted(git(forge, "ls-tree", "--name-only", f"refs/heads/{FEATURE}:notes").split()) == [
        f"{n}.txt" for n in range(4)
    ]


def test_concurrent_open_pr_yields_one_pr(forge: LocalForge) -> None:
    forge.ensure_branch(REPO, FEATURE, "main")

    def open_one(_: int) -> int:
        return forge.open_pr(REPO, FEATURE, "main", "Demo", "", draft=True, workitem_id=None).pr_id

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert len(set(pool.map(open_one, range(8)))) == 1


def test_merge_lands_on_a_target_that_moved(forge: LocalForge) -> None:
    first = ready_pr(forge, "tp/one", [FileChange(path="app/main.py", content="print('one')\n")], "One")
    second = ready_pr(forge, "tp/two", [FileChange(path="app/util.py", content="X = 2\n")], "Two")
    forge.merge(first)
    merged = forge.merge(second)
    assert log(forge, "main") == [f"Two (#{second})", f"One (#{first})", "Initial commit"]
    assert show(forge, "main", "app/main.py") == "print('one')\n"
    assert show(forge, "main", "app/util.py") == "X = 2\n"
    assert merged.merge_commit == forge.head(REPO, "main")


def test_merge_conflict_names_the_file(forge: LocalForge) -> None:
    first = ready_pr(forge, "tp/one", [FileChange(path="app/main.py", content="print('one')\n")])
    second = ready_pr(forge, "tp/two", [FileChange(path="app/main.py", content="print('two')\n")])
    forge.merge(first)
    tip = forge.head(REPO, "main")
    with pytest.raises(ScmError, match="conflicts with 'main' in: app/main.py"):
        forge.merge(second)
    assert forge.head(REPO, "main") == tip
    assert forge.get_pr(second).status == "active"


def test_merge_after_a_crash_only_records_landed_commit(forge: LocalForge, db: psycopg.Connection) -> None:
    pr_id = ready_pr(forge, FEATURE, [FileChange(path="a.txt", content="a\n")])
    landed = forge.merge(pr_id).merge_commit
    db.execute(
        "UPDATE ticketpilot.pull_requests SET status = 'active', merge_commit = NULL, completed_at = NULL "
        "WHERE pr_id = %s",
        (pr_id,),
    )
    recovered = forge.merge(pr_id)
    assert recovered.status == "completed" and recovered.merge_commit == landed
    assert forge.head(REPO, "main") == landed
    row = db.execute("SELECT completed_at FROM ticketpilot.pull_requests WHERE pr_id = %s", (pr_id,))
    assert row.fetchone()["completed_at"] is not None
