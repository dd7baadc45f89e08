"""The model router: `ModelRouter.chat(ChatRequest, CallContext) -> ChatResponse`, and `server.build_app` over it."""

from __future__ import annotations

from model_serving.router.errors import (
    AllProvidersFailed,
    BudgetExceeded,
    ConfigurationError,
    DataBoundaryViolation,
    ProviderRejected,
    ProviderUnavailable,
    RouterError,
)
from model_serving.router.models import (
    CallContext,
    CanaryPolicy,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    EscalationRules,
    RoutingPolicy,
    Usage,
)
from model_serving.router.providers import ProviderConfig
from model_serving.router.router import ModelRouter

__all__ = [
    "AllProvidersFailed", "BudgetExceeded", "CallContext", "CanaryPolicy", "ChatMessage", "ChatRequest",
    "ChatResponse", "ConfigurationError", "DataBoundaryViolation", "EscalationRules", "ModelRouter",
    "ProviderConfig", "ProviderRejected", "ProviderUnavailable", "RouterError", "RoutingPolicy", "Usage",
]
