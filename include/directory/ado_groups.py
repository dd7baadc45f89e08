"""The Team Directory's roles as Azure DevOps security groups of the tenant's project, through the Graph REST API
7.1: one group per role ("Ticketpilot Approvers", ...), whose members are exactly the directory's people holding
that role. People are found in the organisation by their e-mail (their principal name); a person who is not a
user of the organisation is reported, never invented. Graph lives on the organisation's `vssps` host on the
cloud service (`https://vssps.dev.azure.com/<org>`); elsewhere (Azure DevOps Server, the emulator) under the
organisation URL itself.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from include.contracts.directory import Role
from include.scm.ado.client import AdoClient
from include.scm.ado.errors import AdoError

GRAPH_API = "7.1-preview.1"
PROJECTS_API = "7.1-preview.4"
ROLE_GROUPS = {Role.APPROVER: "Ticketpilot Approvers", Role.R3_APPROVER: "Ticketpilot R3 Approvers",
               Role.OPS: "Ticketpilot Operators", Role.VIEWER: "Ticketpilot Viewers"}
DESCRIPTION = "Managed by the Ticketpilot Team Directory: edit the directory file, not this group."


def graph_base(org_url: str) -> str:
    parts = urlsplit(org_url.rstrip("/"))
    if parts.hostname == "dev.azure.com":
        return f"https://vssps.dev.azure.com{parts.path}/_apis/graph"
    if parts.hostname and parts.hostname.endswith(".visualstudio.com"):
        org = parts.hostname.split(".")[0]
        return f"https://{org}.vssps.visualstudio.com/_apis/graph"
    return f"{org_url.rstrip('/')}/_apis/graph"


class GraphGroups:
    """Groups and memberships of one project, over the client's credentials and retry policy."""

    def __init__(self, client: AdoClient, org_url: str, project: str) -> None:
        self.client = client
        self.graph = graph_base(org_url)
        self.project = project

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.send(method, f"{self.graph}/{path}", api_version=GRAPH_API, **kwargs)

    def scope(self) -> str:
        project = self.client.send("GET", f"{self.client.org_api}/projects/{quote(self.project, safe='')}",
                                   api_version=PROJECTS_API).json()
        return self._call("GET", f"descriptors/{project['id']}").json()["value"]

    def groups(self, scope: str) -> dict[str, str]:
        """displayName -> descriptor of the project's groups."""
        found: dict[str, str] = {}
        token: str | None = None
        while True:
            response = self._call("GET", "groups", params={"scopeDescriptor": scope, "continuationToken": token})
            found |= {g["displayName"]: g["descriptor"] for g in response.json()["value"]}
            token = response.headers.get("x-ms-continuationtoken")
            if not token:
                return found

    def create_group(self, scope: str, name: str) -> str:
        return self._call("POST", "groups", params={"scopeDescriptor": scope},
                          body={"displayName": name, "description": DESCRIPTION}).json()["descriptor"]

    def users(self) -> dict[str, str]:
        """lower-cased principal name and mail address -> user descriptor."""
        found: dict[str, str] = {}
        token: str | None = None
        while True:
            response = self._call("GET", "users", params={"continuationToken": token})
            for user in response.json()["value"]:
                for key in (user.get("principalName"), user.get("mailAddress")):
                    if key:
                        found[key.lower()] = user["descriptor"]
            token = response.headers.get("x-ms-continuationtoken")
            if not token:
                return found

    def members(self, group: str) -> set[str]:
        response = self._call("GET", f"memberships/{group}", params={"direction": "down"})
        return {m["memberDescriptor"] for m in response.json()["value"]}

    def add(self, user: str, group: str) -> None:
        self._call("PUT", f"memberships/{user}/{group}")

    def remove(self, user: str, group: str) -> None:
        try:
            self._call("DELETE", f"memberships/{user}/{group}")
        except AdoError as exc:
            if exc.status != 404:  # already gone: what a retry after a lost answer sees
                raise


def reconcile(graph: GraphGroups, wanted: dict[Role, dict[str, str | None]], *, dry_run: bool = False
              ) -> tuple[list[str], list[str]]:
    """Bring each role's group to exactly `wanted[role]` (person id -> e-mail, None when the directory has none).
    Returns (changes, what could not be done)."""
    scope = graph.scope()
    groups = graph.groups(scope)
    users = graph.users()
    changes: list[str] = []
    pending: list[str] = []
    by_descriptor = {d: p for p, d in users.items()}
    for role, name in ROLE_GROUPS.items():
        people = wanted.get(role, {})
        want: dict[str, str] = {}
        for person, email in people.items():
            descriptor = users.get((email or "").lower())
            if email is None:
                pending.append(f"ADO group {name!r}: {person} has no e-mail in the directory, so no Azure DevOps user")
            elif descriptor is None:
                pending.append(f"ADO group {name!r}: {person} ({email}) is not a user of the organisation: add them "
                               "there first")
            else:
                want[descriptor] = person
        group = groups.get(name)
        if group is None:
            if not want:
                continue  # no group for a role nobody holds
            changes.append(f"ADO group {name!r} created")
            if dry_run:
                changes += [f"ADO group {name!r}: add {person}" for person in want.values()]
                continue
            group = graph.create_group(scope, name)
        have = graph.members(group)
        for descriptor in sorted(set(want) - have, key=want.get):
            changes.append(f"ADO group {name!r}: add {want[descriptor]}")
            if not dry_run:
                graph.add(descriptor, group)
        for descriptor in sorted(have - set(want)):
            changes.append(f"ADO group {name!r}: remove {by_descriptor.get(descriptor, descriptor)}")
            if not dry_run:
                graph.remove(descriptor, group)
    return changes, pending
