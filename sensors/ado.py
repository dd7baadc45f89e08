"""Sensors on Azure DevOps: a PR approved by its required reviewers (the ADO side of a gate) and a pipeline
run's outcome. Deferrable by default where Airflow's `operators.default_deferrable` says so: the wait then
happens in the triggerer; the poke path applies the same decision rules from the same helpers.
Rejections and failed runs fail the task without retries (waiting again changes nothing); trigger errors
raise a retryable AirflowException; a timeout fails with what was last seen."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from hooks.ado import AzureDevOpsHook
from triggers.ado import (
    AdoPipelineRunTrigger,
    AdoPullRequestVoteTrigger,
    AdoRunEvent,
    AdoVoteEvent,
    run_outcome,
    vote_outcome,
)

DEFAULT_VOTE_TIMEOUT = timedelta(days=7)
DEFAULT_RUN_TIMEOUT = timedelta(hours=2)


class AdoPullRequestVoteSensor(BaseSensorOperator):
    """Wait until the counting reviewers of a PR approve (vote 10 or 5); fail when one rejects (-10).

    :param repo: repository name.
    :param pr_id: pull request id.
    :param reviewer_ids: the reviewers whose votes count; empty means the PR's required reviewers.
    :param azure_devops_conn_id: the Azure DevOps connection.
    :param poll_interval: seconds between checks (trigger and poke alike).
    """

    template_fields = ("repo", "pr_id", "reviewer_ids")
    ui_color = "#bfdbfe"

    def __init__(
        self,
        *,
        repo: str,
        pr_id: int | str,
        reviewer_ids: list[str] | None = None,
        azure_devops_conn_id: str = AzureDevOpsHook.default_conn_name,
        poll_interval: float = 60.0,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("timeout", DEFAULT_VOTE_TIMEOUT.total_seconds())
        kwargs.setdefault("poke_interval", poll_interval)
        super().__init__(**kwargs)
        self.repo = repo
        self.pr_id = pr_id
        self.reviewer_ids = list(reviewer_ids or [])
        self.azure_devops_conn_id = azure_devops_conn_id
        self.poll_interval = poll_interval
        self.deferrable = deferrable

    def execute(self, context: Any) -> Any:
        pr_id = _checked_id("pr_id", self.pr_id)
        if not self.deferrable:
            return super().execute(context)
        self.defer(
            trigger=AdoPullRequestVoteTrigger(
                azure_devops_conn_id=self.azure_devops_conn_id, repo=self.repo, pr_id=pr_id,
                reviewer_ids=self.reviewer_ids, timeout_at=time.time() + self.timeout,
                poll_interval=self.poll_interval,
            ),
            method_name="execute_complete",
        )

    def poke(self, context: Any) -> PokeReturnValue:
        pr_id = _checked_id("pr_id", self.pr_id)
        with AzureDevOpsHook(self.azure_devops_conn_id).get_conn() as client:
            status, why, votes = vote_outcome(client.list_reviewers(self.repo, pr_id), self.reviewer_ids)
        self.log.info("PR %s in %s: %s", pr_id, self.repo, why)
        if status is None:
            return PokeReturnValue(is_done=False)
        event = AdoVoteEvent(status=status, repo=self.repo, pr_id=pr_id, message=why, votes=votes)  # type: ignore[typeddict-item]
        return PokeReturnValue(is_done=True, xcom_value=self._finish(event))

    def execute_complete(self, context: Any, event: AdoVoteEvent) -> dict[str, Any]:
        return self._finish(event)

    def _finish(self, event: AdoVoteEvent) -> dict[str, Any]:
        where = f"PR {event['pr_id']} in {event['repo']!r}"
        if event["status"] == "approved":
            self.log.info("%s %s", where, event["message"])
            return {"status": "approved", "votes": event["votes"]}
        if event["status"] == "rejected":
            raise AirflowFailException(f"{where} was {event['message']}; nothing was merged.")
        if event["status"] == "timeout":
            raise AirflowFailException(
                f"{where} was not approved within {timedelta(seconds=self.timeout)} ({event['message']}); "
                "ask the required reviewers to vote, then clear this task."
            )
        raise AirflowException(f"checking votes of {where} failed: {event['message']}")


class AdoPipelineRunSensor(BaseSensorOperator):
    """Wait until a pipeline run completes; succeed with the run, fail with its URL otherwise.

    :param pipeline_id: the pipeline (definition) id.
    :param run_id: the run id, e.g. from an upstream task's XCom.
    :param azure_devops_conn_id: the Azure DevOps connection.
    :param poll_interval: seconds between checks (trigger and poke alike).
    """

    template_fields = ("pipeline_id", "run_id")
    ui_color = "#bbf7d0"

    def __init__(
        self,
        *,
        pipeline_id: int | str,
        run_id: int | str,
        azure_devops_conn_id: str = AzureDevOpsHook.default_conn_name,
        poll_interval: float = 30.0,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("timeout", DEFAULT_RUN_TIMEOUT.total_seconds())
        kwargs.setdefault("poke_interval", poll_interval)
        super().__init__(**kwargs)
        self.pipeline_id = pipeline_id
        self.run_id = run_id
        self.azure_devops_conn_id = azure_devops_conn_id
        self.poll_interval = poll_interval
        self.deferrable = deferrable

    def execute(self, context: Any) -> Any:
        pipeline_id, run_id = _checked_id("pipeline_id", self.pipeline_id), _checked_id("run_id", self.run_id)
        if not self.deferrable:
            return super().execute(context)
        self.defer(
            trigger=AdoPipelineRunTrigger(
                azure_devops_conn_id=self.azure_devops_conn_id, pipeline_id=pipeline_id, run_id=run_id,
                timeout_at=time.time() + self.timeout, poll_interval=self.poll_interval,
            ),
            method_name="execute_complete",
        )

    def poke(self, context: Any) -> PokeReturnValue:
        pipeline_id, run_id = _checked_id("pipeline_id", self.pipeline_id), _checked_id("run_id", self.run_id)
        with AzureDevOpsHook(self.azure_devops_conn_id).get_conn() as client:
            run = client.get_run(pipeline_id, run_id)
        status = run_outcome(run)
        if status is None:
            return PokeReturnValue(is_done=False)
        event = AdoRunEvent(status=status, pipeline_id=pipeline_id, run_id=run_id, result=run.result,  # type: ignore[typeddict-item]
                            url=run.url, message=f"run {run_id} {run.state} with result {run.result}")
        return PokeReturnValue(is_done=True, xcom_value=self._finish(event))

    def execute_complete(self, context: Any, event: AdoRunEvent) -> dict[str, Any]:
        return self._finish(event)

    def _finish(self, event: AdoRunEvent) -> dict[str, Any]:
        what = f"run {event['run_id']} of pipeline {event['pipeline_id']}"
        if event["status"] == "succeeded":
            return {"pipeline_id": event["pipeline_id"], "run_id": event["run_id"], "result": event["result"],
                    "url": event["url"]}
        if event["status"] == "failed":
            raise AirflowFailException(f"{what} ended {event['result']}: see {event['url']}")
        if event["status"] == "timeout":
            raise AirflowFailException(
                f"{what} did not complete within {timedelta(seconds=self.timeout)} ({event['message']}); "
                f"check it at {event['url'] or 'Azure DevOps'} and clear this task to wait again."
            )
        raise AirflowException(f"checking {what} failed: {event['message']}")


def _checked_id(name: str, value: int | str) -> int:
    """Templated ids arrive as strings; a non-number is a DAG bug worth failing on at once."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AirflowFailException(f"{name} must be an integer id, got {value!r}") from None
