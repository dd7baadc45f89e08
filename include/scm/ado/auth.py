"""Credentials for Azure DevOps: a personal access token, or an Entra ID bearer token fetched per request
so a long-lived client never sends an expired token."""

from __future__ import annotations

import base64
from collections.abc import Callable, Generator

import httpx

ADO_RESOURCE_SCOPE = "499b84ac-1321-427f-aa17-267ca6975798/.default"

TokenProvider = Callable[[], str]


class PatAuth(httpx.Auth):
    """HTTP Basic with an empty user name, as ADO expects for PATs."""

    def __init__(self, pat: str) -> None:
        if not pat:
            raise ValueError("an Azure DevOps PAT must not be empty")
        self._header = "Basic " + base64.b64encode(f":{pat}".encode()).decode()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


class BearerAuth(httpx.Auth):
    """A bearer token from `token_provider` on every request; the provider owns caching and refresh."""

    def __init__(self, token_provider: TokenProvider) -> None:
        self._provider = token_provider

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._provider()}"
        yield request


def entra_token_provider() -> TokenProvider:
    """Tokens for a service principal or managed identity via azure-identity's DefaultAzureCredential.
    The SDK is imported here so the PAT path never needs it; the credential caches tokens itself."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise ImportError("Entra ID auth needs azure-identity: pip install azure-identity") from exc
    credential = DefaultAzureCredential()
    return lambda: credential.get_token(ADO_RESOURCE_SCOPE).token
