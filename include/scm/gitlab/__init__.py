"""GitLab REST v4: a typed httpx client with the shared retry policy, the base of the `gitlab` SCM adapter."""

from __future__ import annotations

from include.scm.gitlab.adapter import GitLabAdapter
from include.scm.gitlab.client import DEFAULT_URL, GitLabClient, api_root
from include.scm.gitlab.errors import GitLabError, OutcomeUnknown, RetryBudgetExceeded
from include.scm.gitlab.pacing import GitLabPacer

__all__ = [
    "DEFAULT_URL",
    "GitLabAdapter",
    "GitLabClient",
    "GitLabError",
    "GitLabPacer",
    "OutcomeUnknown",
    "RetryBudgetExceeded",
    "api_root",
]
