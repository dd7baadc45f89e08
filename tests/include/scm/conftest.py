"""The forge emulators' fixtures for every SCM test folder, and `harness`: one ScmAdapter per forge for the
conformance suite (test_conformance.py), each over one repository seeded with `SEED`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from include.scm.ado import AdoAdapter, PatAuth, RetryPolicy
from include.scm.base import PullRequest, ScmAdapter
from include.scm.git import run_git
from include.scm.github import GitHubAdapter, unpack_pr_id
from include.scm.gitlab import GitLabAdapter
from include.scm.local import LocalForge
from tests.emulators.ado.fixtures import ado_emulator, ado_server
from tests.emulators.github.fixtures import github_emulator, github_server
from tests.emulators.gitlab.fixtures import gitlab_emulator, gitlab_server
from tests.emulators.gitlab.server import TOKEN as GITLAB_TOKEN

__all__ = ["ado_emulator", "ado_server", "github_emulator", "github_server", "gitlab_emulator", "gitlab_server"]

TENANT = "acme"
REPO = "shop"
SEED = {"README.md": "# shop\n", "app/main.py": "print('hello')\n", "app/util.py": "X = 1\n"}
FAST = RetryPolicy(base_delay=0.05, max_delay=0.5, max_total_wait=8)


@dataclass
class Harness:
    """An adapter under test and what a test needs to check it from outside: the forge's own bare repository
    of `REPO` (read bypassing the adapter), how many writes the forge recorded, and the URL a PR should have."""

    forge: ScmAdapter
    bare: Path
    writes: Callable[[], int]
    pr_url: Callable[[PullRequest], str]

    def git(self, *args: str) -> str:
        return run_git(*args, cwd=self.bare).stdout

    def show(self, branch: str, path: str) -> str:
        return self.git("show", f"refs/heads/{branch}:{path}")

    def subjects(self, branch: str) -> list[str]:
        return self.git("log", "--first-parent", "--format=%s", f"refs/heads/{branch}").splitlines()


@pytest.fixture(params=["local", "ado", "github", "gitlab"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from _HARNESSES[request.param](request, tmp_path / "mirrors")


def _local(request: pytest.FixtureRequest, cache: Path) -> Iterator[Harness]:
    request.getfixturevalue("db")
    forge = LocalForge(TENANT, request.getfixturevalue("forge_dir"), request.getfixturevalue("db_url"))
    forge.create_repo(REPO, SEED)
    bare = forge.repo_path(REPO)
    count = int(run_git("rev-list", "--all", "--count", cwd=bare).stdout)  # the seed's commit
    yield Harness(forge, bare, lambda: int(run_git("rev-list", "--all", "--count", cwd=bare).stdout) - count,
                  lambda pr: f"local://{TENANT}/{REPO}/pull/{pr.pr_id}")


def _ado(request: pytest.FixtureRequest, cache: Path) -> Iterator[Harness]:
    emulator = request.getfixturevalue("ado_emulator")
    emulator.seed_repo(REPO, SEED)
    forge = AdoAdapter(TENANT, emulator.org_url, "proj", PatAuth("s3cret-pat"), cache_dir=cache, policy=FAST,
                       merge_wait=2)
    yield Harness(forge, emulator.state.repos[REPO].git.path, lambda: len(emulator.state.pushes),
                  lambda pr: f"{emulator.org_url}/proj/_git/{REPO}/pullrequest/{pr.pr_id}")
    forge.close()


def _github(request: pytest.FixtureRequest, cache: Path) -> Iterator[Harness]:
    emulator = request.getfixturevalue("github_emulator")
    emulator.seed_repo(REPO, SEED)
    forge = GitHubAdapter(TENANT, emulator.url, emulator.token, owner=TENANT, cache_dir=cache, policy=FAST)
    state = emulator.state
    yield Harness(forge, state.repos[f"{TENANT}/{REPO}"].git.path,
                  lambda: sum(w.startswith("PATCH refs/heads/") for w in state.writes),
                  lambda pr: f"{emulator.url}/{TENANT}/{REPO}/pull/{unpack_pr_id(pr.pr_id)[1]}")
    forge.close()


def _gitlab(request: pytest.FixtureRequest, cache: Path) -> Iterator[Harness]:
    emulator = request.getfixturevalue("gitlab_emulator")
    emulator.seed_project(REPO, SEED)
    forge = GitLabAdapter(TENANT, emulator.api_url, GITLAB_TOKEN, namespace=TENANT, cache_dir=cache, policy=FAST)
    project = next(p for p in emulator.state.projects.values() if p.name == REPO)
    yield Harness(forge, project.repo.path, lambda: len(emulator.state.commits_created),
                  lambda pr: f"{emulator.url}/{TENANT}/{REPO}/-/merge_requests/{pr.pr_id}")
    forge.close()


_HARNESSES: dict[str, Callable[[pytest.FixtureRequest, Path], Iterator[Harness]]] = {
    "local": _local, "ado": _ado, "github": _github, "gitlab": _gitlab,
}
