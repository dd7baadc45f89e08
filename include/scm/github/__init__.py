"""GitHub REST (2022-11-28): a typed httpx client with GitHub-aware retries, the base of the `github` SCM
adapter. Construct the adapter as `GitHubAdapter.from_connection(tenant)` (Airflow connection
`github_<tenant>`) or `GitHubAdapter(tenant, api_url, token, owner=...)`."""

from __future__ import annotations

from include.scm.github.adapter import GitHubAdapter
from include.scm.github.client import API_VERSION, DEFAULT_API_URL, GitHubClient, graphql_url
from include.scm.github.errors import GitHubError, RetryBudgetExceeded
from include.scm.github.ids import pack_pr_id, unpack_pr_id
from include.scm.github.ratelimit import RateLimitTransport
from include.scm.http_retry import RetryPolicy

__all__ = [
    "API_VERSION",
    "DEFAULT_API_URL",
    "GitHubAdapter",
    "GitHubClient",
    "GitHubError",
    "RateLimitTransport",
    "RetryBudgetExceeded",
    "RetryPolicy",
    "graphql_url",
    "pack_pr_id",
    "unpack_pr_id",
]
