"""Router fixtures: three LLM emulators (a cloud OpenAI, a self-hosted vLLM, Anthropic), prices, a router factory."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from model_serving.router import ModelRouter, RoutingPolicy
from model_serving.router.ledger import set_price
from tests.emulators.llm.emulator import API_KEY, Emulator, EmulatorServer

SMALL = "openai:gpt-small"
LARGE = "openai:gpt-large"
CLAUDE = "anthropic:claude-test"
LOCAL = "vllm:qwen-local"
CANARY = "vllm:qwen-canary"
AZURE = "azure:gpt-deploy"
PRICES = {SMALL: (1, 2), LARGE: (5, 15), CLAUDE: (3, 15), AZURE: (1, 2)}
CLIENT_TIMEOUT_S = 0.5


@pytest.fixture(scope="session")
def _servers() -> Iterator[dict[str, Emulator]]:
    with EmulatorServer("openai") as cloud, EmulatorServer("openai") as local, \
            EmulatorServer("anthropic") as anthropic:
        yield {"openai": cloud, "vllm": local, "anthropic": anthropic}


@pytest.fixture
def emulators(_servers: dict[str, Emulator]) -> dict[str, Emulator]:
    for emulator in _servers.values():
        emulator.reset()
    return _servers


@pytest.fixture
def env(emulators: dict[str, Emulator]) -> dict[str, str]:
    return {
        "OPENAI_BASE_URL": emulators["openai"].url, "OPENAI_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": emulators["anthropic"].url, "ANTHROPIC_API_KEY": API_KEY,
        "VLLM_BASE_URL": emulators["vllm"].url,
        "AZURE_OPENAI_ENDPOINT": emulators["openai"].url, "AZURE_OPENAI_API_KEY": API_KEY,
        "TICKETPILOT_LLM_TIMEOUT_S": str(CLIENT_TIMEOUT_S),
    }


@pytest.fixture
def tenant(db: psycopg.Connection) -> str:
    """A fresh tenant per test: its ledger schema starts empty, whatever earlier tests wrote."""
    for model, (price_in, price_out) in PRICES.items():
        set_price(db, model, price_in, price_out, valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_router(db_url: str, env: dict[str, str], tenant: str) -> Iterator[Callable[..., ModelRouter]]:
    routers: list[ModelRouter] = []

    def make(**policy: object) -> ModelRouter:
        fields = {"default_model": SMALL, "large_model": LARGE, **policy}
        router = ModelRouter({tenant: RoutingPolicy.model_validate(fields)}, db_url=db_url, env=env, pool_size=2)
        routers.append(router)
        return router

    yield make
    for router in routers:
        router.close()
