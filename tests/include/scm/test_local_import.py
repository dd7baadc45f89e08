"""LocalForge.import_repo: a team's own repository enters the forge with its whole history (issue 13), not as
one commit of text files. The source is a real git repository built here with the plain git CLI, the way a
person's clone looks: several commits by different authors, an executable script, a binary file, a second
branch, a tag, and a default branch that is not `main`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from include.scm.base import FileChange, ScmError
from include.scm.local import LocalForge

TENANT = "acme"
PNG = bytes(range(256)) * 4  # every byte value, NULs included: text handling would corrupt it


def sh(cwd: Path, *args: str, author: str = "Ada <ada@example.org>") -> str:
    name, _, email = author.partition(" <")
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email.rstrip(">"),
           "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email.rstrip(">")}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A working clone on branch `trunk` with three commits, a feature branch and a tag."""
    src = tmp_path / "team-repo"
    src.mkdir()
    sh(src, "init", "--quiet", "--initial-branch=trunk")
    (src / "README.md").write_text("# team\n")
    sh(src, "add", "-A")
    sh(src, "commit", "--quiet", "-m", "Start")
    (src / "tools").mkdir()
    (src / "tools" / "release.sh").write_text("#!/bin/sh\necho release\n")
    (src / "tools" / "release.sh").chmod(0o755)
    (src / "logo.png").write_bytes(PNG)
    sh(src, "add", "-A")
    sh(src, "commit", "--quiet", "-m", "Release script and logo", author="Grace <grace@example.org>")
    sh(src, "tag", "v1.0")
    sh(src, "checkout", "--quiet", "-b", "feature/x")
    (src / "x.py").write_text("X = 1\n")
    sh(src, "add", "-A")
    sh(src, "commit", "--quiet", "-m", "Feature x")
    sh(src, "checkout", "--quiet", "trunk")
    return src


@pytest.fixture
def forge(db: psycopg.Connection, db_url: str, forge_dir: Path) -> LocalForge:
    return LocalForge(TENANT, forge_dir, db_url)


def bare(forge: LocalForge, repo: str, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=forge.repo_path(repo), capture_output=True, check=True,
                          text=True).stdout


def test_import_keeps_every_commit_branch_tag_mode_and_byte(forge: LocalForge, source: Path) -> None:
    imported = forge.import_repo("team", str(source))

    assert imported.created and imported.default_branch == "trunk"
    assert imported.branches == ["feature/x", "trunk"] and imported.tags == ["v1.0"]
    assert imported.commits == 3
    for ref in ("trunk", "feature/x", "v1.0"):  # the same commits, so the same ids: nothing was rewritten
        assert bare(forge, "team", "rev-parse", ref) == sh(source, "rev-parse", ref)
    assert imported.tip == sh(source, "rev-parse", "trunk").strip()
    assert bare(forge, "team", "log", "--format=%an %s", "trunk").splitlines() == [
        "Grace Release script and logo", "Ada Start"]
    assert bare(forge, "team", "ls-tree", "trunk", "tools/release.sh").startswith("100755 ")
    blob = subprocess.run(["git", "cat-file", "blob", "trunk:logo.png"], cwd=forge.repo_path("team"),
                          capture_output=True, check=True).stdout
    assert blob == PNG
    assert "origin" not in bare(forge, "team", "remote"), "the forge's copy stands alone"


def test_an_imported_repository_is_worked_like_any_other(forge: LocalForge, source: Path, tmp_path: Path) -> None:
    forge.import_repo("team", str(source))
    forge.ensure_branch("team", "tp/team-1", "trunk")
    forge.commit_files("team", "tp/team-1", [FileChange(path="x.txt", content="x\n")], "Add x", "team-1")
    pr = forge.open_pr("team", "tp/team-1", "trunk", "Add x", "", draft=False, workitem_id=None)
    merged = forge.merge(pr.pr_id)
    assert merged.status == "completed"
    work = forge.checkout("team", "trunk", tmp_path / "work")
    assert (work / "x.txt").read_text() == "x\n"
    assert os.access(work / "tools" / "release.sh", os.X_OK)
    assert (work / "logo.png").read_bytes() == PNG


def test_import_again_changes_nothing(forge: LocalForge, source: Path) -> None:
    first = forge.import_repo("team", str(source))
    (source / "late.txt").write_text("after the import\n")
    sh(source, "add", "-A")
    sh(source, "commit", "--quiet", "-m", "Late")
    again = forge.import_repo("team", str(source))
    assert not again.created
    assert again.model_dump(exclude={"created"}) == first.model_dump(exclude={"created"})


def test_import_from_a_file_url_and_a_named_default_branch(forge: LocalForge, source: Path) -> None:
    imported = forge.import_repo("team", source.as_uri(), default_branch="feature/x")
    assert imported.default_branch == "feature/x"
    assert bare(forge, "team", "symbolic-ref", "HEAD").strip() == "refs/heads/feature/x"


@pytest.mark.parametrize(("make_source", "default", "reason"), [
    (lambda tmp: str(tmp / "nowhere"), None, "does not exist"),
    (lambda tmp: "ext::sh -c touch% /tmp/pwned", None, "transport 'ext' not allowed"),
    (lambda tmp: (sh(tmp, "init", "--quiet", "empty"), str(tmp / "empty"))[1], None, "no branches with commits"),
    (lambda tmp: None, "release", "no branch 'release'"),
])
def test_an_unusable_source_is_refused_with_its_reason_and_leaves_nothing(
        forge: LocalForge, source: Path, tmp_path: Path, make_source, default: str | None, reason: str) -> None:
    where = make_source(tmp_path) or str(source)
    with pytest.raises(ScmError, match=reason):
        forge.import_repo("team", where, default_branch=default)
    assert not forge.repo_path("team").exists()
    assert [p.name for p in forge.repo_path("team").parent.iterdir()] == [], "no staging copy left behind"
    assert not Path("/tmp/pwned").exists()


def test_a_head_on_no_branch_needs_a_named_default_branch(forge: LocalForge, source: Path) -> None:
    sh(source, "checkout", "--quiet", "--detach", "trunk~1")  # no branch's tip: git cannot guess one
    with pytest.raises(ScmError, match="names no branch"):
        forge.import_repo("team", str(source))
    assert forge.import_repo("team", str(source), default_branch="trunk").default_branch == "trunk"
