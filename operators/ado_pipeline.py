"""QueueAdoPipelineOperator: run the tenant's Azure Pipelines pipeline on the ticket branch, once per commit.

The Test step's local run is the fast fix loop; a tenant on ADO Pipelines also wants its own CI on the PR's
branch before review. This task queues that run (or finds the one already queued for the branch's head
commit, so retries and resumes never queue twice) and hands its id to AdoPipelineRunSensor, which waits for
it in the triggerer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from hooks.ado import AzureDevOpsHook
from include.contracts import Ticket
from include.scm.ado.pipelines import ensure_run


class QueueAdoPipelineOperator(BaseOperator):
    """Queue (or find) the pipeline run of the ticket branch's head commit; returns its ids and URL.

    :param ticket: the Ticket as a JSON-able dict.
    :param pipeline_id: the tenant's pipeline (definition) id.
    :param azure_devops_conn_id: the tenant's Azure DevOps connection.
    """

    ui_color = "#bbf7d0"

    def __init__(self, *, ticket: Mapping[str, Any], pipeline_id: int, azure_devops_conn_id: str,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ticket = dict(ticket)
        self.pipeline_id = pipeline_id
        self.azure_devops_conn_id = azure_devops_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        ticket = Ticket.model_validate(self.ticket)
        with AzureDevOpsHook(self.azure_devops_conn_id).get_conn() as client:
            commit = client.head(ticket.repo, ticket.branch)
            if commit is None:
                raise AirflowFailException(f"branch {ticket.branch!r} does not exist in {ticket.repo!r}; "
                                           "clear dev_change to recreate it, then this task")
            run = ensure_run(client, self.pipeline_id, ticket.branch, commit)
        self.log.info("Pipeline %s run %s builds %s at %s: %s", self.pipeline_id, run.id, ticket.branch, commit[:12],
                      run.url)
        return {"pipeline_id": self.pipeline_id, "run_id": run.id, "commit": commit, "url": run.url}
