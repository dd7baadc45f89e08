"""
### Project Factory

Creates or updates a team's **Azure DevOps project** over REST 7.1, idempotently (a second run changes nothing
and says so): the project, its repositories with their default branch (a first commit with a README and the CI
YAML when empty), the CI pipeline definition, branch policies (minimum reviewers, build validation), the
service-hook subscriptions that send work-item, comment, pull-request and build events to our ingress with
the tenant's Basic credentials, and a wiki page with the team's onboarding.

**Trigger** with config `{"spec": {...}}` (`include/project_factory/spec.py`), e.g.
`{"spec": {"tenant": "contoso", "repositories": [{"name": "web"}], "ingress_url":
"https://ticketpilot.example.com/ticketpilot/hooks/ado/contoso"}}`. The organisation, the project's name and the
credential are the tenant's Airflow connection `ado_<tenant>` (host = organisation URL, extra.project = the
project to create or update, password = a PAT allowed to create projects). Each step is its own task and
retries on its own; every change lands in the task log and the audit log.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, task


@dag(
    dag_id="ticketpilot__project_factory",
    dag_display_name="Ticketpilot: Project Factory (Azure DevOps)",
    description="An Azure DevOps project for a team: repositories, pipeline, policies, service hooks, wiki",
    schedule=None,
    catchup=False,
    max_active_runs=4,
    tags=["ticketpilot", "provisioning"],
    doc_md=__doc__,
    params={"spec": Param({}, type="object", description="The project to build: include/project_factory/spec.py")},
    default_args={"owner": "ticketpilot", "pool": "default_pool", "retries": 2, "retry_delay": timedelta(seconds=30),
                  "execution_timeout": timedelta(minutes=15)},
)
def project_factory() -> None:
    @task
    def validate(params: dict[str, Any] | None = None) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException
        from pydantic import ValidationError

        from include.project_factory.run import tenant_of
        from include.project_factory.spec import ProjectSpec
        from include.scm.base import ScmError

        try:
            spec = ProjectSpec.model_validate((params or {}).get("spec") or {})
            tenant_of(spec)
        except (ValidationError, ScmError) as exc:
            raise AirflowFailException(f"the project spec cannot be built: {exc}") from exc
        return spec.model_dump(mode="json")

    @task
    def project(spec: dict[str, Any]) -> str:
        from include.project_factory.run import opened
        from include.project_factory.spec import ProjectSpec

        with opened(ProjectSpec.model_validate(spec)) as factory:
            project_id, changes = factory.ensure_project()
        _report(spec, factory.project, changes)
        return project_id

    @task
    def repositories(spec: dict[str, Any], project_id: str) -> dict[str, str]:
        from include.project_factory.run import opened
        from include.project_factory.spec import ProjectSpec

        with opened(ProjectSpec.model_validate(spec)) as factory:
            repos, changes = factory.ensure_repositories(project_id)
        _report(spec, factory.project, changes)
        return repos

    @task
    def pipeline_and_policies(spec: dict[str, Any], repos: dict[str, str]) -> None:
        from include.project_factory.run import opened
        from include.project_factory.spec import ProjectSpec

        with opened(ProjectSpec.model_validate(spec)) as factory:
            pipeline_id, changes = factory.ensure_pipeline(repos)
            changes += factory.ensure_policies(repos, pipeline_id)
        _report(spec, factory.project, changes)

    @task
    def service_hooks(spec: dict[str, Any], project_id: str) -> None:
        from include.project_factory.run import opened, rotate_secret, tenant_of
        from include.project_factory.spec import ProjectSpec

        parsed = ProjectSpec.model_validate(spec)
        tenant = tenant_of(parsed)
        with opened(parsed) as factory:
            _report(spec, factory.project, factory.ensure_service_hooks(
                project_id, tenant.hook_username, rotate_secret(parsed.tenant, "project-factory")))

    @task
    def wiki(spec: dict[str, Any], project_id: str) -> None:
        from include.project_factory.run import opened, tenant_of
        from include.project_factory.spec import ProjectSpec

        parsed = ProjectSpec.model_validate(spec)
        with opened(parsed) as factory:
            _report(spec, factory.project,
                    factory.ensure_wiki(project_id, factory.onboarding(tenant_of(parsed).approvers)))

    def _report(spec: dict[str, Any], project: str, changes: list[str]) -> None:
        from include.project_factory.run import record

        record(spec["tenant"], project, changes)
        for line in changes or ["nothing to change"]:
            print(line)

    spec = validate()
    project_id = project(spec)
    repos = repositories(spec, project_id)
    pipeline_and_policies(spec, repos) >> [service_hooks(spec, project_id), wiki(spec, project_id)]


project_factory()
