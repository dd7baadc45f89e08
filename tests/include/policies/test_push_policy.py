"""The push decision: a change's lines and files against the platform's limits and the tenant's, and a path the
tenant keeps agents out of; the Dev step refuses such a change before anything is committed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest

from include.policies import tenant_bundles
from include.policies.push import changed_lines, push_refusal
from include.policies.tenant_bundles import set_bundle
from include.scm import FileChange


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tenant_bundles, "_cache", {})


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "app.py").write_text("a = 1\nb = 2\nc = 3\n")
    (root / "old.txt").write_text("x\ny\n")
    for argv in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "s"]):
        subprocess.run(["git", *argv], cwd=root, check=True)
    return root


def test_changed_lines_counts_additions_and_removals_against_head(repo: Path) -> None:
    changes = [FileChange(path="app.py", content="a = 1\nb = 20\nc = 3\nd = 4\n"),  # 1 removed, 2 added
               FileChange(path="new.py", content="1\n2\n3\n"),  # 3 added
               FileChange(path="old.txt", content=None)]  # 2 removed
    assert changed_lines(repo, changes) == 8


def test_the_platforms_limits(repo: Path) -> None:
    small = [FileChange(path="app.py", content="a = 2\n")]
    assert push_refusal("acme", "web", repo, small) is None
    huge = [FileChange(path="big.txt", content="x\n" * 10_001)]
    assert push_refusal("acme", "web", repo, huge) == "10001 changed lines, more than the 10000 one change may hold"


def test_a_tenant_narrows_the_limits_and_keeps_agents_out_of_paths(db: psycopg.Connection, repo: Path) -> None:
    set_bundle(db, "acme", 'package ticketpilot.tenant\n\nimport rego.v1\n\nmax_lines := 3\n\n'
                           'deny_paths := ["db/migrations/*", "CHANGELOG.md"]\n', actor="ops-ann")
    changes = [FileChange(path="new.py", content="1\n2\n3\n4\n"), FileChange(path="DB/Migrations/7.sql", content="")]
    assert push_refusal("acme", "web", repo, changes) == (
        "4 changed lines, more than the 3 one change may hold; db/migrations/7.sql is a path the tenant's policy "
        "keeps agents out of (db/migrations/*)")
    set_bundle(db, "acme", 'package ticketpilot.tenant\n\nimport rego.v1\n\nmax_lines := 50000\n', actor="ops-ann")
    tenant_bundles._cache.clear()
    huge = [FileChange(path="big.txt", content="x\n" * 10_001)]
    assert "more than the 10000" in push_refusal("acme", "web", repo, huge), "a tenant cannot widen the limit"
