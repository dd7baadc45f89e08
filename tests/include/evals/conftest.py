"""Eval fixtures: the LLM emulator with answers scripted per golden, a priced model on it, a fresh eval tenant.

`ScriptedModel` answers a golden's first message with `script[golden id][0]` and the retry with `[1]`; an
unscripted golden gets the plain emulator's JSON echo, which no skill's schema accepts, and faults queued with
`fail_next` come before any script. Usage is counted from the text lengths as the plain emulator counts it,
and summed in `emulator.reported`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from fastapi.responses import JSONResponse, Response

from include.evals.goldens import Golden, load_goldens
from include.evals.runner import EvalTarget
from model_serving.router.ledger import set_price
from tests.emulators.llm.emulator import Emulator, EmulatorServer

MODEL = "vllm:eval-model"
PRICE = (2, 8)  # USD per million tokens in / out: self-hosted, priced to charge GPU time back


class ScriptedModel:
    def __init__(self, emulator: Emulator, goldens: list[Golden]) -> None:
        self.emulator = emulator
        self.script: dict[str, list[str]] = {}
        self._plain = emulator.handle
        self._golden_for = {golden.spec.quoted(golden.data, major): golden.id for golden in goldens
                            for major in golden.spec.schemas}  # every prompt major's blocks name the golden

    def answer(self, golden_id: str, *answers: Any) -> None:
        """Script a golden's answers (dicts are sent as JSON, strings as they are), first answer first."""
        self.script[golden_id] = [a if isinstance(a, str) else json.dumps(a) for a in answers]

    async def handle(self, body: dict[str, Any], headers: dict[str, str], deployment: str | None = None) -> Response:
        messages = body.get("messages") or []
        first_user = next((m["content"] for m in messages if m["role"] == "user"), "")
        attempt = sum(m["role"] == "assistant" for m in messages)
        answers = self.script.get(self._golden_for.get(first_user, ""), [])
        if attempt >= len(answers) or self.emulator._faults:  # queued faults (fail_next) come first
            return await self._plain(body, headers, deployment)
        self.emulator.requests.append({"body": body, "headers": headers, "deployment": deployment})
        answer = answers[attempt]
        tokens_in = max(1, sum(len(m["content"]) for m in messages) // 4)
        tokens_out = max(1, len(answer) // 4)
        self.emulator.reported["tokens_in"] += tokens_in
        self.emulator.reported["tokens_out"] += tokens_out
        return JSONResponse({"id": "chatcmpl-scripted", "object": "chat.completion", "model": body.get("model"),
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                                          "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                                       "total_tokens": tokens_in + tokens_out}})


@pytest.fixture(scope="module")
def _server() -> Iterator[Emulator]:
    with EmulatorServer("openai") as emulator:
        yield emulator


@pytest.fixture(scope="session")
def goldens() -> list[Golden]:
    return load_goldens()


@pytest.fixture
def scripted(_server: Emulator, goldens: list[Golden], monkeypatch: pytest.MonkeyPatch) -> ScriptedModel:
    _server.reset()
    model = ScriptedModel(_server, goldens)
    monkeypatch.setattr(_server, "handle", model.handle)
    return model


@pytest.fixture
def target(scripted: ScriptedModel, db: psycopg.Connection) -> EvalTarget:
    """The scripted emulator as a priced self-hosted model (priced so costs are not all zero)."""
    set_price(db, MODEL, *PRICE, valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    return EvalTarget(model=MODEL, base_url=scripted.emulator.url)


@pytest.fixture
def tenant() -> str:
    """A fresh eval tenant per test: its ledger starts empty."""
    return f"ev{uuid.uuid4().hex[:10]}"
