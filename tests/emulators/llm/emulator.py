"""Test emulators of the OpenAI Chat Completions and Embeddings (and Azure deployment) and Anthropic Messages
APIs.

Answers are deterministic: a digest of the prompt plus an echo of the last user message, so a test can see
what the provider saw. Usage is derived from the text lengths and summed in `reported`, so a test can compare
the ledger with what the "provider" billed. Faults are queued per emulator: `fail_next("429", times=2)`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

Fault = Literal["timeout", "429", "500", "malformed"]
Dialect = Literal["openai", "anthropic"]
API_KEY = "test-key"
SLOW_SECONDS = 1.5  # a "timeout" fault sleeps this long; clients in tests time out well before


@dataclass
class Emulator:
    dialect: Dialect
    requests: list[dict[str, Any]] = field(default_factory=list)
    reported: dict[str, int] = field(default_factory=lambda: {"tokens_in": 0, "tokens_out": 0})
    delay_s: float = 0.0
    _faults: deque[Fault] = field(default_factory=deque)
    url: str = ""

    def fail_next(self, fault: Fault, times: int = 1) -> None:
        self._faults.extend([fault] * times)

    def reset(self) -> None:
        self.requests.clear()
        self._faults.clear()
        self.reported.update(tokens_in=0, tokens_out=0)
        self.delay_s = 0.0

    async def handle(self, body: dict[str, Any], headers: dict[str, str], deployment: str | None = None) -> Response:
        self.requests.append({"body": body, "headers": headers, "deployment": deployment})
        if self._faults:
            fault = self._faults.popleft()
            if fault == "timeout":
                await asyncio.sleep(SLOW_SECONDS)
            elif fault == "429":
                return self.error(429, "rate_limit_error", "slow down", {"Retry-After": "7"})
            elif fault == "500":
                return self.error(500, "api_error", "emulated server error")
            return PlainTextResponse('{"choices": [', media_type="application/json")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        messages = body.get("messages") or []
        if not messages or "max_tokens" not in body and self.dialect == "anthropic":
            return self.error(400, "invalid_request_error", "messages and max_tokens are required")
        prompt = (body.get("system") or "") + "".join(str(m.get("content", "")) for m in messages)
        last_user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        model = deployment or body.get("model", "")
        answer = f"[emulator {model}] digest={hashlib.sha256(prompt.encode()).hexdigest()[:12]} echo: {last_user}"
        if (body.get("response_format") or {}).get("type") in ("json_object", "json_schema", "json"):
            answer = json.dumps({"model": model, "echo": last_user})
        tokens_in, tokens_out = max(1, len(prompt) // 4), max(1, len(answer) // 4)
        self.reported["tokens_in"] += tokens_in
        self.reported["tokens_out"] += tokens_out
        if self.dialect == "anthropic":
            return JSONResponse({
                "id": "msg_emulated", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": answer}], "stop_reason": "end_turn",
                "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out}})
        return JSONResponse({
            "id": "chatcmpl-emulated", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                      "total_tokens": tokens_in + tokens_out}})

    async def embeddings(self, body: dict[str, Any], headers: dict[str, str]) -> Response:
        """OpenAI's Embeddings API: `input` is a string or a list; each vector is a digest of its text spread over
        EMBEDDING_DIMENSIONS floats, so equal texts get equal vectors and a test can see which text was sent."""
        self.requests.append({"body": body, "headers": headers, "deployment": None})
        if self._faults:
            self._faults.popleft()
            return self.error(500, "api_error", "emulated server error")
        if headers.get("authorization") != f"Bearer {API_KEY}":
            return self.error(401, "invalid_api_key", "missing or wrong bearer token")
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not texts or not all(isinstance(t, str) for t in texts):
            return self.error(400, "invalid_request_error", "input must be a string or a list of strings")
        tokens = sum(max(1, len(t) // 4) for t in texts)
        self.reported["tokens_in"] += tokens
        data = [{"object": "embedding", "index": i, "embedding": _vector(t)} for i, t in enumerate(texts)]
        return JSONResponse({"object": "list", "data": data, "model": body.get("model", ""),
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    def error(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        body: dict[str, Any] = {"error": {"type": kind, "message": message}}
        if self.dialect == "anthropic":
            body["type"] = "error"
        return JSONResponse(body, status, headers=headers)


def build_app(emulator: Emulator) -> FastAPI:
    app = FastAPI()

    if emulator.dialect == "anthropic":
        @app.post("/v1/messages")
        async def messages(request: Request) -> Response:
            # The API takes the key as `x-api-key` or, as the official SDK sends it now, a bearer token.
            key = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
            if key != API_KEY or not request.headers.get("anthropic-version"):
                return emulator.error(401, "authentication_error", "invalid x-api-key or missing anthropic-version")
            return await emulator.handle(await request.json(), dict(request.headers))
    else:
        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            return await emulator.handle(await request.json(), dict(request.headers))

        @app.post("/v1/embeddings")
        async def embeddings(request: Request) -> Response:
            return await emulator.embeddings(await request.json(), dict(request.headers))

        @app.post("/openai/deployments/{deployment}/chat/completions")
        async def azure(deployment: str, request: Request) -> Response:
            if request.headers.get("api-key") != API_KEY or not request.query_params.get("api-version"):
                return emulator.error(401, "invalid_api_key", "missing api-key header or api-version")
            return await emulator.handle(await request.json(), dict(request.headers), deployment)

    return app


EMBEDDING_DIMENSIONS = 8


def _vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round(b / 255, 4) for b in digest[:EMBEDDING_DIMENSIONS]]


class EmulatorServer:
    """Serves an emulator with uvicorn on 127.0.0.1 in a daemon thread, on a port the OS picks."""

    def __init__(self, dialect: Dialect) -> None:
        self.emulator = Emulator(dialect)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.emulator.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(build_app(self.emulator), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def __enter__(self) -> Emulator:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("LLM emulator did not start within 10 s")
            time.sleep(0.01)
        return self.emulator

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()
