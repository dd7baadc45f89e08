"""Run the goldens of each skill's prompt versions through the model router, score them, record the rows.

A run evaluates one model (`provider:model`) for the eval tenant (`evals` unless configured: tenant ids
allow no leading underscore, so `_evals` cannot be one). Calls go through `ModelRouter` exactly as an
agent's do, so they are admitted against the tenant's budgets, redacted for cloud providers, and booked
in its ledger with step `eval:<skill>` and the prompt version. Two differences, both on purpose: the
response cache is off (a cached answer would score a model on last night's reply, at no cost), and each
call carries its own ledger key `<run>:<golden>:<prompt>:<attempt>`, so reruns book new rows and every
result row can be matched to its ledger rows.

Like `llm.ask_json`, an answer that does not validate (or, for edits, does not apply) gets one retry that
shows the model why: the eval scores what the agent would end up with. Dev's further escalated attempt goes
to the large model, another model than the one under evaluation, so it is not part of a run. A skill whose
prompt file does not exist yet is skipped and reported, not failed.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from include.agents import llm
from include.agents.llm import PROMPTS_DIR, LlmConfig
from include.evals import records
from include.evals.catalog import model_info
from include.evals.goldens import Golden, load_goldens
from include.evals.records import CallTotals, RunHeader
from include.evals.scoring import Score, score_answer
from include.evals.skills import SKILLS, PromptVersion, Skill, prompt_versions
from include.store.db import connect
from model_serving.router import (
    AllProvidersFailed,
    CallContext,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ModelRouter,
    ProviderConfig,
    ProviderRejected,
    RoutingPolicy,
)
from model_serving.router.injection import UNTRUSTED_DATA_NOTICE
from model_serving.router.ledger import price_at
from model_serving.router.models import MODEL_SPEC_PATTERN
from model_serving.router.providers import split_spec

log = logging.getLogger(__name__)

DEFAULT_TENANT = "evals"
TENANT_ENV = "TICKETPILOT_EVAL_TENANT"
MODELS_ENV = "TICKETPILOT_EVAL_MODELS"
_MISSED = (AllProvidersFailed, ProviderRejected)
"""Errors that cost one golden its answer. Configuration, data boundary and budget errors stop the run: they
would fail every golden alike and make the model look bad for the platform's fault."""


class EvalTarget(BaseModel):
    """One model to evaluate. No credentials: this travels through XCom and logs. A provider's key comes from
    the environment the router reads (`OPENAI_API_KEY`, ...), or for the agents' own model from theirs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(pattern=MODEL_SPEC_PATTERN)
    base_url: str | None = None


class EvalRunFailed(RuntimeError):
    """The run produced no usable evaluation (no golden got an answer); the run row says why."""


@dataclass(frozen=True)
class SkillPlan:
    skill: str
    prompt: PromptVersion
    goldens: list[Golden]


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    model: str
    scores: list[dict[str, Any]]
    skipped: list[dict[str, str]]

    def lines(self) -> list[str]:
        out = [f"run {self.run_id} of {self.model}"]
        out += [f"  {s['skill']} {s['prompt_version']}: {s['passed']}/{s['goldens']} passed, mean score "
                f"{s['mean_score']}, ${s['cost_usd']:.6f}, p50 {s['p50_latency_ms']} ms" for s in self.scores]
        out += [f"  {s['skill']}: skipped: {s['reason']}" for s in self.skipped]
        return out


def plan(skills: list[str] | None = None, prompts_dir: Path = PROMPTS_DIR,
         latest_only: bool = False) -> tuple[list[SkillPlan], list[dict[str, str]]]:
    """What a run will evaluate, and the skills it skips with the reason."""
    plans, skipped = [], []
    goldens = load_goldens(skills)
    for name in skills or list(SKILLS):
        versions = prompt_versions(name, prompts_dir)
        if not versions:
            skipped.append({"skill": name, "reason": f"no prompt {name} yet"})
            continue
        for version in versions[-1:] if latest_only else versions:
            if version.major not in SKILLS[name].schemas:
                skipped.append({"skill": name, "reason": f"no answer schema for {version.ref} (major "
                                f"{version.major}) in include/evals/skills.py"})
                continue
            plans.append(SkillPlan(name, version, [g for g in goldens if g.skill == name]))
    return plans, skipped


def run_evals(target: EvalTarget, *, tenant: str | None = None, skills: list[str] | None = None,
              prompts_dir: Path = PROMPTS_DIR, latest_only: bool = False, trigger: str = "cli",
              db_url: str | None = None, env: Mapping[str, str] | None = None) -> RunSummary:
    """Evaluate `target` on every planned (prompt version, golden); raises EvalRunFailed if nothing answered."""
    tenant = tenant or os.environ.get(TENANT_ENV) or DEFAULT_TENANT
    plans, skipped = plan(skills, prompts_dir, latest_only)
    configs = _provider_configs(target, os.environ if env is None else env)
    policy = RoutingPolicy(default_model=target.model, large_model=target.model, cache=False)
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    with ModelRouter({tenant: policy}, db_url=db_url, provider_configs=configs, env=env, pool_size=1) as router, \
            connect(db_url, autocommit=True) as conn:
        provider = router.provider(target.model)
        run = RunHeader(run_id, target.model, tenant, trigger, provider.is_cloud, provider.no_training,
                        price_at(conn, target.model), model_info(target.model), skipped)
        records.start_run(conn, run)
        log.info("eval run %s of %s: %d prompt versions, %d skipped", run_id, target.model, len(plans), len(skipped))
        answered = total = 0
        try:
            for skill_plan in plans:
                for golden in skill_plan.goldens:
                    total += 1
                    answered += _evaluate(router, conn, run, skill_plan.prompt, golden)
        except Exception as exc:
            records.finish_run(conn, run_id, "failed", f"{type(exc).__name__}: {exc}")
            raise
        if total and not answered:
            error = f"none of the {total} goldens got an answer from {target.model}; see failure_reason"
            records.finish_run(conn, run_id, "failed", error)
            raise EvalRunFailed(f"eval run {run_id}: {error}")
        records.finish_run(conn, run_id, "complete")
        return RunSummary(run_id, target.model, records.scores(conn, run_id), skipped)


def _provider_configs(target: EvalTarget, env: Mapping[str, str]) -> dict[str, ProviderConfig]:
    """The target's base URL; for the agents' own model also their connection settings (URL, key, version)."""
    given = ProviderConfig(base_url=target.base_url)
    agents = LlmConfig.from_env(env)
    if agents is not None and agents.model == target.model:
        given = ProviderConfig(base_url=target.base_url or agents.base_url, api_key=agents.api_key,
                               api_version=agents.api_version)
    return {split_spec(target.model)[0]: given} if given != ProviderConfig() else {}


def _evaluate(router: ModelRouter, conn: psycopg.Connection, run: RunHeader, prompt: PromptVersion,
              golden: Golden) -> bool:
    """Ask, score and record one golden; False when the model gave no answer at all."""
    skill = golden.spec
    schema = skill.schemas[prompt.major]
    context = CallContext(tenant=run.tenant, repo="evals", ticket_key=f"eval:{golden.id}", step=f"eval:{skill.name}",
                          prompt_version=prompt.ref)
    calls = _Calls(f"{run.run_id}:{golden.id}:{prompt.ref}")
    try:
        content = calls.ask(router, context, prompt, skill, golden.data, schema)
    except _MISSED as exc:
        reason = f"no answer: {type(exc).__name__}: {exc}"
        log.warning("%s %s: %s", golden.id, prompt.ref, reason)
        records.record_result(conn, run, golden.id, skill.name, prompt.ref, Score(0.0, False), calls.last, calls.usage,
                              reason)
        return False
    score = score_answer(content, schema, golden.scorers, golden.data, golden.pass_score)
    records.record_result(conn, run, golden.id, skill.name, prompt.ref, score, content, calls.usage,
                          score.failure_reason)
    log.info("%s %s: score %.2f%s", golden.id, prompt.ref, score.score, "" if score.passed else " (failed)")
    return True


@dataclass
class _Calls:
    """The calls made for one golden: the first answer and, if it did not validate, the retry."""

    key: str
    responses: list[ChatResponse] = field(default_factory=list)

    @property
    def last(self) -> str:
        return self.responses[-1].content if self.responses else ""

    @property
    def usage(self) -> CallTotals:
        return CallTotals(calls=len(self.responses), tokens_in=sum(r.usage.tokens_in for r in self.responses),
                     tokens_out=sum(r.usage.tokens_out for r in self.responses),
                     cost_usd=sum((r.cost_usd for r in self.responses), start=Decimal(0)),
                     latency_ms=sum(r.latency_ms for r in self.responses),
                     call_ids=tuple(r.call_id for r in self.responses))

    def ask(self, router: ModelRouter, context: CallContext, prompt: PromptVersion, skill: Skill, data: Any,
            schema: type[BaseModel]) -> str:
        """As `llm.ask_json` asks (its messages, `llm._quoted`, `llm._RETRY`), so the eval measures what agents
        send: an answer the schema or the skill's check rejects gets one retry that shows the reason."""
        messages = [ChatMessage(role="system", content=f"{prompt.prompt.text}\n\n{UNTRUSTED_DATA_NOTICE}"),
                    ChatMessage(role="user", content=skill.quoted(data, prompt.major))]
        for attempt in (1, 2):
            request = ChatRequest(messages=messages, max_tokens=skill.max_tokens, response_format="json",
                                  json_schema=llm.answer_schema(schema))
            response = router.chat(request, context.model_copy(update={"call_id": f"{self.key}:{attempt}"}))
            self.responses.append(response)
            try:
                answer = schema.model_validate_json(response.content)
                if skill.check is not None:
                    skill.check(data, answer)
                break
            except ValidationError as exc:
                error = llm._short(exc)
            except llm.AnswerRejected as exc:
                error = str(exc)
            messages = [*messages, ChatMessage(role="assistant", content=response.content),
                        ChatMessage(role="user", content=llm._RETRY.format(error=error))]
        return self.last


def eval_targets(raw: str | None = None, env: Mapping[str, str] | None = None) -> list[EvalTarget]:
    """The models to evaluate: `raw` (the Airflow Variable), else TICKETPILOT_EVAL_MODELS, else the agents' own
    model (TICKETPILOT_LLM_MODEL and its base URL); [] when none is configured.

    Either is a comma-separated list of "provider:model", or a JSON list of those strings or of objects
    {"model": ..., "base_url": ...}. A malformed entry is an error naming the entry, never skipped silently.
    """
    env = os.environ if env is None else env
    text = (raw or "").strip() or env.get(MODELS_ENV, "").strip()
    if not text:
        agents = LlmConfig.from_env(env)
        return [EvalTarget(model=str(agents.model), base_url=agents.base_url)] if agents else []
    try:
        entries = json.loads(text) if text.startswith("[") else [s.strip() for s in text.split(",") if s.strip()]
        return [EvalTarget.model_validate({"model": e} if isinstance(e, str) else e) for e in entries]
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ValueError(f"cannot read the models to evaluate from {text!r}: write 'provider:model' entries "
                         f"separated by commas, or a JSON list of them or of {{\"model\", \"base_url\"}} objects "
                         f"({exc})") from exc
