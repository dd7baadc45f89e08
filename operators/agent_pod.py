"""AgentPodOperator: one agent step, as a pod in the tenant's namespace or as a local process.

Both runners execute `python -m include.agents <role>` with the AgentTask in `TICKETPILOT_AGENT_TASK`
and read the AgentResult from the XCom result file, so a DAG behaves the same on a laptop and a cluster.
The Kubernetes path is KubernetesPodOperator's own flow; we override the pod spec inputs, not the flow.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from typing import Any

from airflow.providers.cncf.kubernetes.backcompat.backwards_compat_converters import convert_env_vars
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from kubernetes.client import models as k8s

from include.contracts import AgentRole, AgentTask, Ticket
from include.runners import local
from include.runners.pod_spec import (
    AGENT_ENV_FROM,
    GPU_POOL_LABEL,
    GPU_TOLERATION,
    resources_for,
    service_account,
)
from include.runners.secrets import mask_secrets
from include.runners.step_audit import audit_step
from include.tenancy.naming import tenant_namespace
from model_serving.router import connections as llm_connections
from model_serving.router.errors import ConfigurationError

RUNNERS = ("local", "kubernetes")
DEFAULT_IMAGE = "ghcr.io/ticketpilot/agent:0.1.0"
SCM_KIND_ENV = "TICKETPILOT_SCM_KIND"


class AgentPodOperator(KubernetesPodOperator):
    """Run one agent role for one ticket.

    :param role: the agent role (po, dev, pipeline, test, review, docs).
    :param ticket: the Ticket, as a JSON-able dict (it is what the DAG was built from).
    :param upstream: role → task_id of earlier steps whose results this step receives.
    :param runner: ``local`` or ``kubernetes``; defaults to ``TICKETPILOT_RUNNER``. Templated.
    :param scm_kind: the tenant's SCM adapter (``local``, ``ado``); reaches the agent as
        ``TICKETPILOT_SCM_KIND`` on both runners, so a tenant's configuration, not the host, picks it.
    :param gpu: place the pod on the GPU inference pool (in-pod inference).
    """

    template_fields = (*KubernetesPodOperator.template_fields, "runner")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        role: AgentRole | str,
        ticket: Mapping[str, Any],
        upstream: Mapping[str, str] | None = None,
        runner: str | None = None,
        gpu: bool = False,
        scm_kind: str = "local",
        image: str | None = None,
        max_fix_iterations: int = 3,
        test_timeout_s: int = 300,
        **kwargs: Any,
    ) -> None:
        role = AgentRole(role)
        tenant = str(ticket["tenant"])
        super().__init__(
            name=kwargs.pop("name", f"agent-{role.value}-{ticket['workitem_id']}"),
            namespace=kwargs.pop("namespace", tenant_namespace(tenant)),
            image=image or os.environ.get("TICKETPILOT_AGENT_IMAGE", DEFAULT_IMAGE),
            cmds=["python", "-m", "include.agents"],
            arguments=[role.value],
            service_account_name=service_account(role.value),
            labels={
                "app.kubernetes.io/part-of": "ticketpilot",
                "ticketpilot.io/tenant": tenant,
                "ticketpilot.io/role": role.value,
                "ticketpilot.io/workitem": str(ticket["workitem_id"]),
            },
            container_resources=resources_for(role.value, gpu),
            node_selector=dict(GPU_POOL_LABEL) if gpu else None,
            tolerations=[GPU_TOLERATION] if gpu else None,
            env_from=AGENT_ENV_FROM,
            env_vars=[*convert_env_vars(kwargs.pop("env_vars", None) or []),
                      k8s.V1EnvVar(name=SCM_KIND_ENV, value=scm_kind)],
            do_xcom_push=True,
            get_logs=True,
            on_finish_action="delete_succeeded_pod",
            **kwargs,
        )
        self.role = role
        self.ticket = dict(ticket)
        self.upstream = dict(upstream or {})
        self.runner = runner or os.environ.get("TICKETPILOT_RUNNER", "local")
        self.scm_kind = scm_kind
        self.max_fix_iterations = max_fix_iterations
        self.test_timeout_s = test_timeout_s
        self._child: subprocess.Popen[str] | None = None

    # -- routing --------------------------------------------------------------------------------
    def execute(self, context: Any) -> Any:
        if self.runner not in RUNNERS:
            raise AirflowFailException(f"runner must be one of {RUNNERS}, got {self.runner!r}")
        task = self.build_agent_task(context)
        try:
            result = self._run(task, context)
        except (AirflowException, AirflowFailException) as exc:
            audit_step(task, {"ok": False, "error": str(exc)[:300]})
            raise
        audit_step(task, result if isinstance(result, dict) else {"ok": True})
        return result

    def _run(self, task: AgentTask, context: Any) -> Any:
        model = self.model_connection()
        self.env_vars = [*self.env_vars, k8s.V1EnvVar(name="TICKETPILOT_AGENT_TASK", value=task.model_dump_json())]
        if self.runner == "local":
            return self.execute_local(task, context, model.env(with_key=True) if model else {})
        if model is not None:  # the key stays in the namespace's secret (envFrom), out of the pod spec
            self.env_vars = [*self.env_vars, *(k8s.V1EnvVar(name=k, value=v) for k, v in model.env(with_key=False)
                                               .items())]
        return super().execute(context)

    def model_connection(self) -> llm_connections.LlmConnection | None:
        """The tenant's model connection (`llm_<tenant>`, else `llm_default`), read here in the task process,
        which can reach every connection store; None leaves the environment's model (or none) in place."""
        try:
            found = llm_connections.lookup(str(self.ticket["tenant"]))
        except ConfigurationError as exc:
            raise AirflowFailException(f"model connection: {exc}") from None
        if found is not None:
            self.log.info("Model %s from connection %s", found.model, found.conn_id)
        return found

    def execute_local(self, task: AgentTask, context: Any, model_env: Mapping[str, str] | None = None
                      ) -> dict[str, Any]:
        timeout = self.execution_timeout.total_seconds() if self.execution_timeout else None
        env = {**os.environ, SCM_KIND_ENV: self.scm_kind, **(model_env or {})}
        masked = mask_secrets(env)
        if masked:
            self.log.info("Masked in this task's log: the values of %s", ", ".join(masked))
        try:
            return local.run_agent(self.role.value, task.model_dump_json(), timeout_s=timeout, log=self.log,
                                   env=env, on_start=self._remember_child)
        except local.AgentReportedFailure as failure:
            if failure.result is not None:
                context["ti"].xcom_push(key="result", value=failure.result)
            raise AirflowFailException(str(failure)) from None
        except local.AgentProcessError as crash:
            raise AirflowException(str(crash)) from None
        finally:
            self._child = None

    def on_kill(self) -> None:
        if self._child is not None:
            local.kill_group(self._child)
        if self.runner == "kubernetes":
            super().on_kill()

    # -- contract -------------------------------------------------------------------------------
    def build_agent_task(self, context: Any) -> AgentTask:
        """The AgentTask for this try: the ticket plus the results of the upstream steps."""
        ti = context["ti"]
        upstream: dict[str, dict[str, Any]] = {}
        for role, task_id in self.upstream.items():
            value = ti.xcom_pull(task_ids=task_id)
            if value is not None:
                upstream[role] = value
        return AgentTask(
            role=self.role,
            ticket=Ticket.model_validate(self.ticket),
            run_id=context["run_id"],
            try_number=ti.try_number,
            upstream=upstream,
            max_fix_iterations=self.max_fix_iterations,
            test_timeout_s=self.test_timeout_s,
        )

    def _remember_child(self, proc: subprocess.Popen[str]) -> None:
        self._child = proc
