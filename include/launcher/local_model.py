"""The embedded local model as a platform component: which server to start, and the env that points agents at it.

The launcher starts it only when the operator has not configured a model already, `TICKETPILOT_LOCAL_MODEL`
does not switch it off, and llama.cpp and the SmolLM2 weights are installed (`make local-model`; `make demo`
builds them once). Otherwise nothing changes: the sample tickets need no model, and agents without one keep
their deterministic text.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from include.agents.llm import BASE_URL_ENV, MODEL_ENV
from model_serving import local

log = logging.getLogger("ticketpilot.launcher")

SWITCH_ENV = "TICKETPILOT_LOCAL_MODEL"
COMPONENT = "local-model"


def plan(env: Mapping[str, str], log_dir: Path, port: int) -> local.LocalModelServer | None:
    """The server to start, or None with the reason logged."""
    if env.get(MODEL_ENV) or env.get(BASE_URL_ENV):
        log.info("model configured in the environment (%s); not starting the local model",
                 env.get(MODEL_ENV) or env.get(BASE_URL_ENV))
        return None
    if env.get(SWITCH_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        log.info("%s is off; agents run without a model", SWITCH_ENV)
        return None
    if not local.available():
        log.info("no local model installed (`make local-model` builds it); agents run without a model")
        return None
    return local.LocalModelServer(port, log_path=log_dir / f"{COMPONENT}.log")


def client_env(server: local.LocalModelServer) -> dict[str, str]:
    """What every component and agent process gets, so `include.agents.llm` routes to the local server."""
    return {BASE_URL_ENV: server.base_url, MODEL_ENV: local.MODEL_SPEC}
