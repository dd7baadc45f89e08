"""Source control behind one interface: `local` (embedded default), `ado`, `github`, `gitlab`."""

from __future__ import annotations

from include.scm.base import FileChange, PullRequest, ScmAdapter, ScmError

__all__ = ["SCM_KINDS", "FileChange", "PullRequest", "ScmAdapter", "ScmError", "adapter_for"]

SCM_KINDS = ("local", "ado", "github", "gitlab")


def adapter_for(tenant: str, scm_kind: str = "local", repo: str | None = None) -> ScmAdapter:
    """The adapter a tenant is configured for. Unknown kinds fail loudly instead of falling back.

    `ado`, `github` and `gitlab` read the tenant's Airflow connection (`<kind>_<tenant>`) one way, through
    include/scm/connections.py. `repo` binds the adapter to the ticket's repository where the forge numbers pull
    requests per repository and the id alone does not say which (GitLab merge request iids)."""
    if scm_kind == "local":
        from include.scm.local import LocalForge

        return LocalForge.from_settings(tenant)
    if scm_kind == "ado":
        from include.scm.ado.adapter import AdoAdapter

        return AdoAdapter.from_connection(tenant)
    if scm_kind == "github":
        from include.scm.github import GitHubAdapter

        return GitHubAdapter.from_connection(tenant)
    if scm_kind == "gitlab":
        from include.scm.gitlab import GitLabAdapter

        return GitLabAdapter.from_connection(tenant, repo=repo)
    raise ScmError(f"SCM kind {scm_kind!r} for tenant {tenant!r} is not supported; use one of {', '.join(SCM_KINDS)}")
