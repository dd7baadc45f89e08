"""Azure DevOps REST 7.1: a typed httpx client with ADO-aware retries, the base of the `ado` SCM adapter."""

from __future__ import annotations

from include.scm.ado.adapter import STATUS_GENRE, AdoAdapter
from include.scm.ado.auth import BearerAuth, PatAuth, entra_token_provider
from include.scm.ado.client import API_VERSION, COMMENTS_API_VERSION, AdoClient, branch_ref
from include.scm.ado.errors import AdoError, RetryBudgetExceeded, StaleRevision
from include.scm.ado.models import ItemChange, PatchOp
from include.scm.http_retry import RetryPolicy

__all__ = [
    "API_VERSION",
    "STATUS_GENRE",
    "AdoAdapter",
    "COMMENTS_API_VERSION",
    "AdoClient",
    "AdoError",
    "BearerAuth",
    "ItemChange",
    "PatAuth",
    "PatchOp",
    "RetryBudgetExceeded",
    "RetryPolicy",
    "StaleRevision",
    "branch_ref",
    "entra_token_provider",
]
