"""One Azure Pipelines run per ticket-branch commit, however often the queueing step is retried.

Queueing a run is a POST that ADO does not deduplicate, so the run is looked up first among the pipeline's
builds of the branch (a pipeline run is a build with the same id) by the commit it builds. A lost answer to
the POST is answered by looking again before anything is queued a second time. A run of the same commit
that failed or was canceled is not reused: clearing the task after a flaky failure asks for a fresh run.
"""

from __future__ import annotations

import httpx

from include.scm.ado.client import AdoClient
from include.scm.ado.models import Build, PipelineRun

_NOT_REUSED = frozenset({"failed", "canceled"})


def ensure_run(client: AdoClient, pipeline_id: int, branch: str, commit: str) -> PipelineRun:
    """The run of `pipeline_id` that builds `branch` at `commit`, queued only when none exists."""
    found = _existing(client, pipeline_id, branch, commit)
    if found is not None:
        return client.get_run(pipeline_id, found.id)
    try:
        return client.run_pipeline(pipeline_id, branch, version=commit)
    except httpx.TransportError:
        found = _existing(client, pipeline_id, branch, commit)  # the POST may have landed before the drop
        if found is None:
            raise
        return client.get_run(pipeline_id, found.id)


def _existing(client: AdoClient, pipeline_id: int, branch: str, commit: str) -> Build | None:
    for build in client.builds(pipeline_id, branch):
        if build.source_version == commit and (build.result or "").lower() not in _NOT_REUSED:
            return build
    return None
