from __future__ import annotations

import kubernetes_validate
import pytest
from kubernetes.client import ApiClient

from include.contracts import AgentRole, AgentTask, ChangeKind, RiskClass, Ticket
from include.runners.pod_spec import AGENT_ENV_SECRET
from operators.agent_pod import AgentPodOperator

TICKET = Ticket(tenant="acme", workitem_id=31, rev=1, title="Bump requests to 2.32.3", repo="svc",
                change_kind=ChangeKind.DEPENDENCY_BUMP, risk_class=RiskClass.R1)
K8S_VERSION = "1.30.0"


def pod_dict(operator: AgentPodOperator) -> dict:
    pod = operator.build_pod_request_obj(dry_run=True)  # dry run: no cluster credentials needed
    return ApiClient().sanitize_for_serialization(pod)


@pytest.fixture
def dev_operator() -> AgentPodOperator:
    return AgentPodOperator(task_id="dev_change", role=AgentRole.DEV, ticket=TICKET.model_dump(mode="json"),
                            runner="kubernetes")


def test_pod_runs_the_agent_entrypoint_in_the_tenant_namespace(dev_operator: AgentPodOperator) -> None:
    pod = pod_dict(dev_operator)
    container = pod["spec"]["containers"][0]
    assert pod["metadata"]["namespace"] == "tp-acme"
    assert container["command"] == ["python", "-m", "include.agents"]
    assert container["args"] == ["dev"]
    assert pod["spec"]["serviceAccountName"] == "agent-dev"
    assert pod["metadata"]["labels"]["ticketpilot.io/tenant"] == "acme"
    assert pod["metadata"]["labels"]["ticketpilot.io/workitem"] == "31"
    assert container["envFrom"] == [{"secretRef": {"name": AGENT_ENV_SECRET}}]
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "2Gi"}
    assert "nodeSelector" not in pod["spec"] or not pod["spec"]["nodeSelector"]


def test_pod_has_the_xcom_sidecar_that_reads_the_result_file(dev_operator: AgentPodOperator) -> None:
    pod = pod_dict(dev_operator)
    names = [c["name"] for c in pod["spec"]["containers"]]
    assert "airflow-xcom-sidecar" in names
    mounts = {m["mountPath"] for m in pod["spec"]["containers"][0]["volumeMounts"]}
    assert "/airflow/xcom" in mounts


def test_gpu_step_lands_on_the_gpu_pool() -> None:
    operator = AgentPodOperator(task_id="dev_change", role="dev", ticket=TICKET.model_dump(mode="json"),
                                runner="kubernetes", gpu=True)
    spec = pod_dict(operator)["spec"]
    assert spec["nodeSelector"] == {"ticketpilot.io/pool": "gpu-inference"}
    assert spec["tolerations"] == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}]
    assert spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"


@pytest.mark.parametrize("role", [r.value for r in AgentRole])
def test_pod_request_is_a_valid_kubernetes_pod(role: str) -> None:
    operator = AgentPodOperator(task_id=role, role=role, ticket=TICKET.model_dump(mode="json"), runner="kubernetes")
    manifest = pod_dict(operator)
    manifest.setdefault("apiVersion", "v1")
    manifest.setdefault("kind", "Pod")
    kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


def test_runner_defaults_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETPILOT_RUNNER", "kubernetes")
    operator = AgentPodOperator(task_id="po", role="po", ticket=TICKET.model_dump(mode="json"))
    assert operator.runner == "kubernetes"
    assert "runner" in AgentPodOperator.template_fields


@pytest.mark.parametrize("scm_kind", ["local", "ado"])
def test_pod_env_names_the_tenant_scm_kind(scm_kind: str) -> None:
    operator = AgentPodOperator(task_id="dev_change", role="dev", ticket=TICKET.model_dump(mode="json"),
                                runner="kubernetes", scm_kind=scm_kind)
    env = pod_dict(operator)["spec"]["containers"][0]["env"]
    assert {"name": "TICKETPILOT_SCM_KIND", "value": scm_kind} in env


def test_local_runner_passes_the_scm_kind_to_the_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, str] = {}

    def fake_run_agent(role: str, task_json: str, *, env: dict[str, str], **_: object) -> dict:
        seen.update(env)
        return {}

    monkeypatch.setenv("TICKETPILOT_SCM_KIND", "local")
    monkeypatch.setattr("include.runners.local.run_agent", fake_run_agent)
    operator = AgentPodOperator(task_id="po", role="po", ticket=TICKET.model_dump(mode="json"), runner="local",
                                scm_kind="ado")
    task = AgentTask(role=AgentRole.PO, ticket=TICKET, run_id="r1", try_number=1)
    operator.execute_local(task, {})
    assert seen["TICKETPILOT_SCM_KIND"] == "ado"


class _TaskInstance:
    """The two things execute() asks of the task instance: upstream results and the try number."""

    try_number = 1

    def xcom_pull(self, task_ids: str) -> None:
        return None

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed = (key, value)


def test_every_step_ends_in_the_tenants_audit_chain_ok_or_not(db, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from include.runners.local import AgentReportedFailure

    answers = iter([{"ok": True, "role": "po", "summary": "Read it", "checklist": [1, 2]},
                    AgentReportedFailure("po: nothing to do", {"ok": False, "summary": "nothing to do"})])

    def run_agent(role: str, task_json: str, **_: object) -> dict:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr("include.runners.local.run_agent", run_agent)
    monkeypatch.setattr(AgentPodOperator, "model_connection", lambda self: None)
    operator = AgentPodOperator(task_id="po", role="po", ticket=TICKET.model_dump(mode="json"), runner="local")
    context = {"ti": _TaskInstance(), "run_id": "manual__7"}
    assert operator.execute(context)["summary"] == "Read it"
    with pytest.raises(AirflowFailException, match="nothing to do"):
        operator.execute(context)
    rows = db.execute("SELECT chain, action, details FROM ticketpilot.audit_log ORDER BY seq").fetchall()
    assert [(r["chain"], r["action"]) for r in rows] == [("acme", "agent.po")] * 2
    assert rows[0]["details"] == {"run_id": "manual__7", "try_number": 1, "ok": True, "role": "po",
                                  "summary": "Read it", "checklist_count": 2}
    assert rows[1]["details"] == {"run_id": "manual__7", "try_number": 1, "ok": False, "error": "po: nothing to do"}
