"""Triggers that wait on Azure DevOps in the triggerer (no worker slot): a PR's reviewer votes and a
pipeline run's outcome. They poll the sync AdoClient through `sync_to_async`, so its retry and throttling
rules apply unchanged; credentials are read from the connection in the triggerer, never serialised."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Literal, TypedDict

from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async

from hooks.ado import AzureDevOpsHook
from include.scm.ado.models import PipelineRun, Reviewer

APPROVING_VOTES = (10, 5)  # approved, approved with suggestions
REJECTING_VOTE = -10  # -5 (waiting for author) and 0 (no vote) keep the gate waiting

VoteStatus = Literal["approved", "rejected", "timeout", "error"]
RunStatus = Literal["succeeded", "failed", "timeout", "error"]


class AdoVoteEvent(TypedDict):
    """The one event an AdoPullRequestVoteTrigger yields; shared with AdoPullRequestVoteSensor."""

    status: VoteStatus
    repo: str
    pr_id: int
    message: str
    votes: dict[str, int]  # display name (or id) → vote, of the reviewers that count


class AdoRunEvent(TypedDict):
    """The one event an AdoPipelineRunTrigger yields; shared with AdoPipelineRunSensor."""

    status: RunStatus
    pipeline_id: int
    run_id: int
    result: str | None
    url: str
    message: str


def vote_outcome(reviewers: Sequence[Reviewer], reviewer_ids: Sequence[str]) -> tuple[str | None, str, dict[str, int]]:
    """(status or None to keep waiting, why, votes). The reviewers that count are `reviewer_ids` when given,
    else the PR's required reviewers; one rejection decides, approval needs all of them."""
    wanted = set(reviewer_ids)
    counted = [r for r in reviewers if r.id in wanted] if wanted else [r for r in reviewers if r.is_required]
    votes = {r.display_name or r.id: r.vote for r in counted}
    if rejected := [name for name, vote in votes.items() if vote == REJECTING_VOTE]:
        return "rejected", f"rejected by {', '.join(rejected)}", votes
    if not counted:
        return None, "no required reviewer on the pull request yet", votes
    pending = [name for name, vote in votes.items() if vote not in APPROVING_VOTES]
    pending += [f"{rid} (not yet on the PR)" for rid in sorted(wanted - {r.id for r in counted})]
    if pending:
        return None, f"waiting for {', '.join(pending)}", votes
    return "approved", f"approved by {', '.join(votes)}", votes


async def _poll(
    conn_id: str, timeout_at: float, poll_interval: float, check: Callable[[Any], tuple[Any, str] | None]
) -> Any:
    """Run `check(client)` in a thread every `poll_interval` until it answers or time runs out (None)."""
    client = await sync_to_async(AzureDevOpsHook(conn_id).get_conn)()
    try:
        while True:
            answer = await sync_to_async(check)(client)
            if answer is not None:
                return answer
            if time.time() >= timeout_at:
                return None
            await asyncio.sleep(poll_interval)
    finally:
        client.close()


class AdoPullRequestVoteTrigger(BaseTrigger):
    """Poll a PR's reviewers until the counting ones approve, one rejects, or `timeout_at` passes."""

    def __init__(
        self,
        *,
        azure_devops_conn_id: str,
        repo: str,
        pr_id: int,
        reviewer_ids: list[str],
        timeout_at: float,
        poll_interval: float = 60.0,
    ) -> None:
        super().__init__()
        self.azure_devops_conn_id = azure_devops_conn_id
        self.repo = repo
        self.pr_id = pr_id
        self.reviewer_ids = list(reviewer_ids)
        self.timeout_at = timeout_at
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "azure_devops_conn_id": self.azure_devops_conn_id,
                "repo": self.repo,
                "pr_id": self.pr_id,
                "reviewer_ids": self.reviewer_ids,
                "timeout_at": self.timeout_at,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            event = await self._wait()
        except Exception as exc:  # every failure becomes a payload the task can report
            event = self._event("error", f"{type(exc).__name__}: {exc}", {})
        yield TriggerEvent(event)

    async def _wait(self) -> AdoVoteEvent:
        last: list[tuple[str, dict[str, int]]] = [("not checked yet", {})]

        def check(client: Any) -> tuple[str, str, dict[str, int]] | None:
            status, why, votes = vote_outcome(client.list_reviewers(self.repo, self.pr_id), self.reviewer_ids)
            last[0] = (why, votes)
            return (status, why, votes) if status else None

        answer = await _poll(self.azure_devops_conn_id, self.timeout_at, self.poll_interval, check)
        if answer is None:
            why, votes = last[0]
            return self._event("timeout", f"PR {self.pr_id} in {self.repo!r} was not approved in time ({why})", votes)
        status, why, votes = answer
        return self._event(status, why, votes)

    def _event(self, status: str, message: str, votes: dict[str, int]) -> AdoVoteEvent:
        return AdoVoteEvent(status=status, repo=self.repo, pr_id=self.pr_id, message=message,  # type: ignore[typeddict-item]
                            votes=votes)


def run_outcome(run: PipelineRun) -> str | None:
    """`succeeded`/`failed` once the run completed (canceled counts as failed), else None."""
    if run.state != "completed":
        return None
    return "succeeded" if run.result == "succeeded" else "failed"


class AdoPipelineRunTrigger(BaseTrigger):
    """Poll a pipeline run until it completes or `timeout_at` passes."""

    def __init__(
        self,
        *,
        azure_devops_conn_id: str,
        pipeline_id: int,
        run_id: int,
        timeout_at: float,
        poll_interval: float = 30.0,
    ) -> None:
        super().__init__()
        self.azure_devops_conn_id = azure_devops_conn_id
        self.pipeline_id = pipeline_id
        self.run_id = run_id
        self.timeout_at = timeout_at
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "azure_devops_conn_id": self.azure_devops_conn_id,
                "pipeline_id": self.pipeline_id,
                "run_id": self.run_id,
                "timeout_at": self.timeout_at,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            event = await self._wait()
        except Exception as exc:  # every failure becomes a payload the task can report
            event = self._event("error", None, "", f"{type(exc).__name__}: {exc}")
        yield TriggerEvent(event)

    async def _wait(self) -> AdoRunEvent:
        last: list[PipelineRun | None] = [None]

        def check(client: Any) -> tuple[str, PipelineRun] | None:
            run = last[0] = client.get_run(self.pipeline_id, self.run_id)
            status = run_outcome(run)
            return (status, run) if status else None

        answer = await _poll(self.azure_devops_conn_id, self.timeout_at, self.poll_interval, check)
        if answer is None:
            run = last[0]
            state = run.state if run else "unknown"
            return self._event("timeout", None, run.url if run else "",
                               f"run {self.run_id} of pipeline {self.pipeline_id} did not complete in time "
                               f"(last state {state!r})")
        status, run = answer
        return self._event(status, run.result, run.url, f"run {self.run_id} {run.state} with result {run.result}")

    def _event(self, status: str, result: str | None, url: str, message: str) -> AdoRunEvent:
        return AdoRunEvent(status=status, pipeline_id=self.pipeline_id, run_id=self.run_id,  # type: ignore[typeddict-item]
                           result=result, url=url, message=message)
