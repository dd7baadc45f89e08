"""The normalised ticket: what every source (ADO, GitHub, GitLab) is turned into at the door."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from include.contracts.risk import RiskClass

TENANT_PATTERN = r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"
"""Tenant ids double as Kubernetes namespace suffixes, Airflow pool names and schema names."""


class ChangeKind(StrEnum):
    """What kind of change the ticket asks for; it shapes the DAG and picks the Dev playbook."""

    PIPELINE = "pipeline"
    DEPENDENCY_BUMP = "dependency_bump"
    SECRET_REMEDIATION = "secret_remediation"
    LINT_FIX = "lint_fix"
    DOCS = "docs"
    FEATURE = "feature"  # needs a language model


class TicketState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Ticket(BaseModel):
    """One work item, as the platform sees it, at one revision."""

    model_config = ConfigDict(frozen=True)

    tenant: str = Field(pattern=TENANT_PATTERN)
    workitem_id: int = Field(gt=0)
    rev: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=512)
    description: str = ""
    acceptance_criteria: list[str] = Field(default_factory=list)
    work_item_type: str = "Task"
    source_state: str = "New"
    state: TicketState = TicketState.OPEN
    tags: list[str] = Field(default_factory=list)
    repo: str = Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")
    change_kind: ChangeKind
    risk_class: RiskClass
    requested_by: str = ""
    url: str = ""
    source: str = "ado"
    changed_at: datetime | None = None
    severity: str = ""
    """The tracker's severity as it shows it (ADO Bug: "2 - High"); empty where the source has none."""
    area_path: str = ""
    """Where the team files it (ADO `System.AreaPath`, e.g. `Fabrikam\\Payments`)."""
    iteration_path: str = ""
    """The sprint or iteration it is planned in (ADO `System.IterationPath`)."""
    parent_id: int | None = Field(default=None, gt=0)
    """The item this one breaks down (ADO's parent link: a User Story above a Task, a Feature above a Story)."""

    @field_validator("title")
    @classmethod
    def _strip_title(cls, value: str) -> str:
        return value.strip()

    @property
    def ticket_key(self) -> str:
        return ticket_key(self.tenant, self.workitem_id)

    @property
    def dag_id(self) -> str:
        return dag_id(self.tenant, self.workitem_id)

    @property
    def slug(self) -> str:
        words = re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")
        return words[:40].rstrip("-") or "change"

    @property
    def branch(self) -> str:
        return f"tp/{self.workitem_id}-{self.slug}"


FACTORY_DAG_ID = "ticketpilot__factory"
"""The permanent DAG in the factory file; reparse requests for new tickets go through its file token."""


def ticket_key(tenant: str, workitem_id: int) -> str:
    return f"{tenant}-{workitem_id}"


def dag_id(tenant: str, workitem_id: int) -> str:
    return f"ticket__{tenant}__{workitem_id}"
