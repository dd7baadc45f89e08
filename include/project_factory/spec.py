"""What the Project Factory builds for a team: the typed input of the `ticketpilot__project_factory` DAG."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from include.contracts.ticket import TENANT_PATTERN
from include.tickets.ado import WORKITEM_EVENT_TYPES
from include.tickets.ado_events import BUILD_COMPLETE, COMMENTED, PR_UPDATED

HOOK_EVENTS = (*WORKITEM_EVENT_TYPES, COMMENTED, PR_UPDATED, BUILD_COMPLETE)
"""The ADO events our ingress takes (include/tickets/ado_events.py), one Web Hooks subscription each."""
AGILE_PROCESS = "adcc42ab-9882-485e-a3ed-7678f01f66bc"
"""The Agile process template's id, the same in every organisation."""


class RepositorySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    default_branch: str = Field(default="main", pattern=r"^[A-Za-z0-9._/-]{1,200}$")


class ProjectSpec(BaseModel):
    """A team's project. The organisation, the project's name and the credential come from the tenant's Airflow
    connection `ado_<tenant>` (include/scm/connections.py); the hook secret is the tenant's, set by the factory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str = Field(pattern=TENANT_PATTERN)
    description: str = Field(default="", max_length=500)
    process_template_id: str = AGILE_PROCESS
    repositories: list[RepositorySpec] = Field(min_length=1)
    min_reviewers: int = Field(default=1, ge=1, le=10)
    pipeline_name: str = Field(default="ci", min_length=1, max_length=100)
    pipeline_yaml: str = Field(default="azure-pipelines.yml", pattern=r"^[A-Za-z0-9._/-]+\.ya?ml$")
    """The CI definition in each repository; the first repository's pipeline validates every repository's PRs."""
    ingress_url: str = Field(pattern=r"^https?://")
    """Where ADO reaches our ingress, e.g. https://ticketpilot.example.com/ticketpilot/hooks/ado/<tenant>."""
    onboarding: str = Field(default="", max_length=20000, description="Extra Markdown for the wiki's onboarding page.")

    @model_validator(mode="after")
    def _unique_repositories(self) -> ProjectSpec:
        names = [r.name.lower() for r in self.repositories]
        if len(set(names)) != len(names):
            raise ValueError("a repository is listed twice (ADO names are case-insensitive)")
        return self
