"""Source control behind one interface: `local` (embedded default), later `ado`, `github`, `gitlab`."""

from __future__ import annotations

from include.scm.base import FileChange, PullRequest, ScmAdapter, ScmError

__all__ = ["FileChange", "PullRequest", "ScmAdapter", "ScmError", "adapter_for"]


def adapter_for(tenant: str, scm_kind: str = "local") -> ScmAdapter:
    """The adapter a tenant is configured for. Unknown kinds fail loudly instead of falling back.
    `ado` reads the Airflow connection `ado_<tenant>` (see hooks.ado.AzureDevOpsHook)."""
    if scm_kind == "local":
        from include.scm.local import LocalForge

        return LocalForge.from_settings(tenant)
    if scm_kind == "ado":
        from hooks.ado import AzureDevOpsHook
        from include.scm.ado.adapter import AdoAdapter

        hook = AzureDevOpsHook(f"ado_{tenant}")
        settings = hook.settings()
        return AdoAdapter(tenant, settings.org_url, settings.project, hook.auth(settings))
    raise ScmError(
        f"SCM kind {scm_kind!r} for tenant {tenant!r} is not available in this build; "
        "supported: 'local', 'ado'. GitHub and GitLab adapters are tracked in their own issue."
    )
