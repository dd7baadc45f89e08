"""Router errors. Each message names the cause and the fix, because the reader is an agent log or an operator."""

from __future__ import annotations

from decimal import Decimal


class RouterError(Exception):
    """Base of every error the router raises on purpose."""


class ConfigurationError(RouterError):
    """A model string, credential or price is missing or malformed; the message says what to set."""


class ProviderUnavailable(RouterError):
    """Timeout, 429, 5xx or a malformed body: retryable, so the router moves on to the next model in the chain."""

    def __init__(self, spec: str, reason: str, retry_after: float | None = None) -> None:
        self.spec = spec
        self.reason = reason
        self.retry_after = retry_after
        hint = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        super().__init__(f"{spec} unavailable: {reason}{hint}")


class ProviderRejected(RouterError):
    """A 4xx other than 429: the request itself is wrong, so another provider would reject it too."""

    def __init__(self, spec: str, status: int, message: str) -> None:
        self.spec = spec
        self.status = status
        self.message = message
        super().__init__(f"{spec} rejected the request (HTTP {status}): {message}")


class AllProvidersFailed(RouterError):
    """Every model of the chain was unavailable; carries the smallest Retry-After any of them sent."""

    def __init__(self, failures: list[ProviderUnavailable]) -> None:
        self.failures = failures
        waits = [f.retry_after for f in failures if f.retry_after is not None]
        self.retry_after = min(waits) if waits else None
        detail = "; ".join(str(f) for f in failures)
        super().__init__(f"no model of the fallback chain answered ({detail}); add a fallback model to the "
                         "tenant's routing policy or retry later")


class DataBoundaryViolation(RouterError):
    """The tenant's data boundary forbids every model the policy would use."""


class BudgetExceeded(RouterError):
    """Admission control refused a call: it could take a budget past its limit."""

    def __init__(self, tenant: str, scope: str, scope_key: str, spent: Decimal, limit: Decimal,
                 estimate: Decimal) -> None:
        self.tenant = tenant
        self.scope = scope
        self.scope_key = scope_key
        self.spent = spent
        self.limit = limit
        self.estimate = estimate
        super().__init__(
            f"{scope} budget {scope_key!r} of tenant {tenant!r}: spent ${spent:.4f} of ${limit:.4f}, and this call "
            f"may cost up to ${estimate:.4f}; raise it with model_serving.router.ledger.set_budget(conn, "
            f"{tenant!r}, {scope!r}, {scope_key!r}, limit_usd=...) or lower max_tokens"
        )
