"""Credentials handed to an agent are registered with Airflow's secrets masker: printed, they read `***`."""

from __future__ import annotations

import pytest
from airflow.sdk.log import redact

from include.runners.secrets import mask_secrets
from operators.agent_pod import AgentPodOperator


def test_secret_named_values_are_masked_and_others_are_not() -> None:
    env = {"OPENAI_API_KEY": "sk-planted-4f9c2a", "TICKETPILOT_ADO_PAT": "pat-planted-77aa01", "GITHUB_TOKEN":
           "ghp_planted_0b1c", "HOME": "/home/agent", "TICKETPILOT_SCM_KIND": "ado", "SHORT_KEY": "abc"}
    assert mask_secrets(env) == ["GITHUB_TOKEN", "OPENAI_API_KEY", "TICKETPILOT_ADO_PAT"]
    line = "calling with sk-planted-4f9c2a and pat-planted-77aa01 and ghp_planted_0b1c from /home/agent"
    assert redact(line) == "calling with *** and *** and *** from /home/agent"


def test_the_local_runner_masks_the_model_key_before_the_agent_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.operators.test_agent_pod import TICKET

    seen: dict[str, str] = {}

    def run_agent(role: str, task_json: str, *, env: dict[str, str], **_: object) -> dict:
        seen["printed"] = redact(f"agent saw key {env['TICKETPILOT_LLM_API_KEY']}")
        return {}

    monkeypatch.setattr("include.runners.local.run_agent", run_agent)
    from include.contracts import AgentRole, AgentTask

    operator = AgentPodOperator(task_id="po", role="po", ticket=TICKET.model_dump(mode="json"), runner="local")
    operator.execute_local(AgentTask(role=AgentRole.PO, ticket=TICKET, run_id="r1"), {},
                           {"TICKETPILOT_LLM_API_KEY": "sk-tenant-model-key-91"})
    assert seen["printed"] == "agent saw key ***"
