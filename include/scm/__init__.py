"""Source control behind one interface: `local` (embedded default), later `ado`, `github`, `gitlab`."""

from __future__ import annotations

from include.scm.base import FileChange, PullRequest, ScmAdapter, ScmError

__all__ = ["FileChange", "PullRequest", "ScmAdapter", "ScmError", "adapter_for"]


def adapter_for(tenant: str, scm_kind: str = "local") -> ScmAdapter:
    """The adapter a tenant is configured for. Unknown kinds fail loudly instead of falling back."""
    if scm_kind == "local":
        from include.scm.local import LocalForge

        return LocalForge.from_settings(tenant)
    raise ScmError(
        f"SCM kind {scm_kind!r} for tenant {tenant!r} is not available in this build; "
        "supported: 'local'. ADO, GitHub and GitLab adapters are tracked in their own issue."
    )
