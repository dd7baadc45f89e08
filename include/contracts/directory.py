"""The Team Directory: one versioned YAML file that says who works on what. `ticketpilot directory apply` and the
`ticketpilot__directory` DAG reconcile the platform to it (include/directory/).

People are named once, by the user name they sign in to Airflow with (the identity recorded on a gate decision),
and referred to by that id or as `team:<id>` for every member of a team. A tenant grants roles to people and
teams; a repository names its owners per path, which become its CODEOWNERS. The file is the source of truth for
what it lists: a person taken out of a role loses it on the next apply.

The JSON Schema is exported to include/contracts/schemas/team_directory.schema.json for editors and CI checks.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from include.contracts.ticket import TENANT_PATTERN

PERSON_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$"
TEAM_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
REPO_PATTERN = r"^[A-Za-z0-9._-]{1,100}$"


class Role(StrEnum):
    """What a person may do in one tenant. The R3 approver is the named approver an R3 gate needs besides a
    second person; an approver decides R2 gates and is the second person on R3 ones."""

    APPROVER = "approver"
    R3_APPROVER = "r3_approver"
    OPS = "ops"
    VIEWER = "viewer"


GATE_ROLES = frozenset({Role.APPROVER, Role.R3_APPROVER})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Person(_Strict):
    id: str = Field(pattern=PERSON_PATTERN, description="The Airflow user name; what gate decisions record.")
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$",
                              description="Used in CODEOWNERS (every forge accepts an e-mail there) and to know "
                                          "the person's Azure DevOps PR votes, which name them by sign-in e-mail.")


class Team(_Strict):
    id: str = Field(pattern=TEAM_PATTERN)
    members: list[str] = Field(default_factory=list, description="Person ids.")


class Repository(_Strict):
    name: str = Field(pattern=REPO_PATTERN, description="What a ticket's `repo:` tag names.")
    source: str | None = Field(default=None, min_length=1, description=(
        "A path or git URL to mirror with its whole history into the embedded forge when the tenant does not have "
        "the repository yet; a relative path is relative to the directory file."))
    default_branch: str | None = Field(default=None, min_length=1)
    owners: dict[str, list[str]] = Field(default_factory=dict, description=(
        "CODEOWNERS: a path pattern (`*`, `docs/`, `*.sql`) to the people and teams who own it, in file order; "
        "the last matching pattern wins, as every forge reads it."))


class TenantEntry(_Strict):
    id: str = Field(pattern=TENANT_PATTERN)
    default_repo: str = Field(pattern=REPO_PATTERN)
    pool_slots: int = Field(default=4, ge=1, le=512, description="Agent steps of this tenant at once.")
    roles: dict[Role, list[str]] = Field(default_factory=dict, description="Role to people and `team:<id>`s.")
    repositories: list[Repository] = Field(default_factory=list)
    monthly_budget_usd: Decimal | None = Field(default=None, gt=0, description="The tenant's model spend per month.")
    data_boundary: Literal["any", "self_hosted_only", "no_training"] | None = Field(default=None, description=(
        "Where the tenant's prompts may go; applied to its routing policy. Unset: left as the policy says."))
    retention_days: dict[Literal["transcripts", "model_responses", "deliveries"],
                         Annotated[int, Field(ge=1, le=3650)]] = Field(default_factory=dict, description=(
        "Days the tenant's data of a class is kept, where not the platform's default (transcripts 90, "
        "model_responses 30, deliveries 90); see include/maintenance/retention.py."))


class Directory(_Strict):
    version: Literal[1] = 1
    people: list[Person] = Field(default_factory=list)
    teams: list[Team] = Field(default_factory=list)
    tenants: list[TenantEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_resolve(self) -> Directory:
        """Every id unique, every name used defined: a typo must fail the apply, never grant or drop silently."""
        for kind, ids in (("person", [p.id for p in self.people]), ("team", [t.id for t in self.teams]),
                          ("tenant", [t.id for t in self.tenants])):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                raise ValueError(f"{kind} id(s) listed twice: {', '.join(duplicates)}")
        people = {p.id for p in self.people}
        for team in self.teams:
            unknown = sorted(set(team.members) - people)
            if unknown:
                raise ValueError(f"team {team.id!r} lists unknown people: {', '.join(unknown)}")
        teams = {t.id for t in self.teams}
        for tenant in self.tenants:
            repos = [r.name for r in tenant.repositories]
            if len(set(repos)) != len(repos):
                raise ValueError(f"tenant {tenant.id!r} lists a repository twice")
            uses = [(f"role {role.value}", who) for role, names in tenant.roles.items() for who in names]
            uses += [(f"owners of {r.name}:{path}", who) for r in tenant.repositories
                     for path, names in r.owners.items() for who in names]
            for where, who in uses:
                known = who.removeprefix("team:") in teams if who.startswith("team:") else who in people
                if not known:
                    raise ValueError(f"tenant {tenant.id!r}, {where}: {who!r} is not a defined "
                                     f"{'team' if who.startswith('team:') else 'person'}")
        return self

    def members(self, principals: list[str]) -> list[str]:
        """People ids behind people and `team:<id>` references, in first-seen order."""
        teams = {t.id: t.members for t in self.teams}
        found: list[str] = []
        for who in principals:
            for person in teams[who[5:]] if who.startswith("team:") else [who]:
                if person not in found:
                    found.append(person)
        return found

    def grants(self, tenant: TenantEntry) -> set[tuple[str, Role]]:
        """(person, role) pairs the tenant grants, teams expanded."""
        return {(person, role) for role, names in tenant.roles.items() for person in self.members(names)}

    def person(self, person_id: str) -> Person:
        return next(p for p in self.people if p.id == person_id)
