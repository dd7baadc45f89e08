"""A pydantic-ai model that is the router: an agent's every turn is routed like any other call.

Give a pydantic-ai `Agent` a `RoutedModel` and each of its requests goes through `ModelRouter.request`: the
tenant's policy picks the model (default, large on need, canary), the data boundary filters the chain, a
cloud model sees redacted text, admission runs before each attempt along the fallback chain, and every
attempt writes its ledger row. The agent itself never holds a provider or a key.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.settings import ModelSettings

from model_serving.router.models import CallContext
from model_serving.router.router import ModelRouter, Routed


class RoutedModel(Model):
    """One agent run's model: the router, and the context each of the run's calls is ledgered under.

    `on_call` sees every routed call (model, tokens, cost, cache hit) as it returns, for the run's transcript."""

    def __init__(self, router: ModelRouter, context: CallContext,
                 on_call: Callable[[Routed], None] | None = None) -> None:
        super().__init__()
        self._router = router
        self._context = context
        self._on_call = on_call

    @property
    def model_name(self) -> str:
        return f"router:{self._context.tenant}"

    @property
    def system(self) -> str:
        return "ticketpilot-router"

    async def request(self, messages: list[ModelMessage], model_settings: ModelSettings | None,
                      model_request_parameters: ModelRequestParameters) -> ModelResponse:
        routed = await anyio.to_thread.run_sync(self._router.request, messages, model_settings,
                                                model_request_parameters, self._context)
        if self._on_call is not None:
            self._on_call(routed)
        return routed.response
