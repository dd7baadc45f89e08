"""The provider contract and the HTTP error mapping every provider shares.

Providers speak HTTP through httpx, not through vendor SDKs: the three wire formats are small, and one client
library means one timeout, one error mapping and no optional dependency to install per vendor.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import BaseModel

from model_serving.router.errors import ProviderRejected, ProviderUnavailable
from model_serving.router.models import ChatRequest


class ProviderConfig(BaseModel):
    """Where a provider lives and how to authenticate; anything left None is read from the environment."""

    base_url: str | None = None
    api_key: str | None = None
    api_version: str | None = None
    timeout_s: float | None = None


@dataclass(frozen=True)
class Completion:
    content: str
    tokens_in: int
    tokens_out: int


class Provider(ABC):
    """One model at one provider. `is_cloud` decides redaction and the data boundary."""

    name: str
    is_cloud: bool
    no_training: bool
    """True when the provider's terms exclude training on API inputs (or it is self-hosted)."""

    def __init__(self, model: str, client: httpx.Client) -> None:
        self.model = model
        self._client = client

    @property
    def spec(self) -> str:
        return f"{self.name}:{self.model}"

    @abstractmethod
    def complete(self, request: ChatRequest) -> Completion:
        """Send the request as is (already redacted where needed) and return the answer with its usage."""

    def close(self) -> None:
        self._client.close()

    def _post(self, url: str, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        """POST and map failures: timeouts, 429, 5xx and bad bodies are retryable; other 4xx are not."""
        try:
            response = self._client.post(url, headers=headers, json=body)
        except httpx.TimeoutException as exc:
            raise ProviderUnavailable(self.spec, f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise ProviderUnavailable(self.spec, f"cannot connect to {url}: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise ProviderUnavailable(self.spec, f"HTTP {response.status_code}: {_error_message(response)}",
                                      retry_after=_retry_after(response.headers.get("retry-after")))
        if response.status_code >= 400:
            raise ProviderRejected(self.spec, response.status_code, _error_message(response))
        try:
            data = response.json()
        except json.JSONDecodeError as exc:
            raise ProviderUnavailable(self.spec, f"malformed JSON in the response: {response.text[:200]!r}") from exc
        if not isinstance(data, dict):
            raise ProviderUnavailable(self.spec, f"unexpected response body: {response.text[:200]!r}")
        return data

    def _malformed(self, data: dict[str, Any], exc: Exception) -> ProviderUnavailable:
        return ProviderUnavailable(self.spec, f"unexpected response shape ({exc!r}): {json.dumps(data)[:200]}")


def _error_message(response: httpx.Response) -> str:
    """The provider's own words: OpenAI, Azure and Anthropic all nest them under error.message."""
    try:
        data = response.json()
        message = data["error"]["message"] if isinstance(data.get("error"), dict) else data.get("error")
        return str(message or response.text[:500])
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError):
        return response.text[:500] or response.reason_phrase


def _retry_after(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
