"""`adapter_for` picks the tenant's forge from its scm_kind and reads that forge's Airflow connection; a
GitLab adapter is bound to the ticket's repository so merge request iids are read where they belong."""

from __future__ import annotations

import json

import pytest

from include.scm import SCM_KINDS, ScmError, adapter_for
from include.scm.github import GitHubAdapter
from include.scm.gitlab import GitLabAdapter
from include.scm.local import LocalForge
from tests.emulators.github.fixtures import github_emulator, github_server
from tests.emulators.github.server import GitHubEmulatorServer
from tests.emulators.gitlab.fixtures import gitlab_emulator, gitlab_server
from tests.emulators.gitlab.server import TOKEN, GitLabEmulator

__all__ = ["github_emulator", "github_server", "gitlab_emulator", "gitlab_server"]


def test_local_is_the_embedded_forge(db: object, forge_dir: object) -> None:
    assert isinstance(adapter_for("acme"), LocalForge)


def test_github_from_the_tenant_connection(github_emulator: GitHubEmulatorServer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GITHUB_ACME", json.dumps({
        "conn_type": "github", "host": github_emulator.url, "password": github_emulator.token,
        "extra": {"owner": "acme"}}))
    github_emulator.seed_repo("shop", {"README.md": "# shop\n"}, owner="acme")
    forge = adapter_for("acme", "github", repo="shop")
    assert isinstance(forge, GitHubAdapter) and forge.default_branch("shop") == "main"


def test_gitlab_from_the_tenant_connection_bound_to_the_repo(gitlab_emulator: GitLabEmulator,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GITLAB_ACME", json.dumps({
        "conn_type": "gitlab", "host": gitlab_emulator.url, "password": TOKEN, "extra": {"namespace": "acme"}}))
    gitlab_emulator.seed_project("shop", {"README.md": "# shop\n"})
    forge = adapter_for("acme", "gitlab", repo="shop")
    assert isinstance(forge, GitLabAdapter) and forge.repo == "shop" and forge.default_branch("shop") == "main"


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_a_missing_connection_names_the_one_to_create(kind: str) -> None:
    with pytest.raises(ScmError, match=f"no Airflow connection '{kind}_nobody'"):
        adapter_for("nobody", kind)


def test_an_unknown_kind_fails_loudly() -> None:
    with pytest.raises(ScmError, match="'bitbucket' for tenant 'acme' is not supported; use one of local, ado"):
        adapter_for("acme", "bitbucket")
    assert SCM_KINDS == ("local", "ado", "github", "gitlab")
