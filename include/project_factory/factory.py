"""Create or update a team's Azure DevOps project over REST 7.1, one idempotent step at a time: each step reads
what exists, changes only what differs from the spec, and returns one line per change, so a second run is a
no-op that says so. The steps, in the order the DAG runs them:

1. the project (an asynchronous operation, polled until it succeeds);
2. its repositories, each with a first commit on the default branch when empty (README and the CI YAML), since
   ADO only has a default branch once something is pushed;
3. the CI pipeline definition (YAML in the first repository);
4. branch policies on every repository's default branch: minimum reviewers, and build validation by the pipeline;
5. the service-hook subscriptions for the events our ingress takes, pointing at it with the tenant's Basic
   credentials. ADO never shows a subscription's password again, so the factory cannot compare it: when a
   subscription is missing or points elsewhere it sets a new hook secret on the tenant (only its SHA-256 is kept)
   and writes it into every subscription of the project; otherwise it touches nothing;
6. the project wiki and its Onboarding page.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from include.project_factory.spec import HOOK_EVENTS, ProjectSpec, RepositorySpec
from include.scm.ado.client import AdoClient, branch_ref
from include.scm.ado.errors import AdoError
from include.scm.base import ScmError

MIN_REVIEWERS_POLICY = "fa4e907d-c16b-4a4c-9dfa-4906e5d171dd"
BUILD_POLICY = "0609b952-1397-4640-95ec-e00a01b2c241"
ONBOARDING_PATH = "/Onboarding"
EMPTY_OBJECT_ID = "0" * 40
RESOURCE_VERSION = "1.0"
# REST 7.1 versions: resources the 7.1 specs mark as preview need their preview number.
PROJECTS_API = "7.1-preview.4"
OPERATIONS_API = "7.1-preview.1"
POLICY_API = "7.1-preview.1"
WIKIS_API = "7.1-preview.2"
PAGES_API = "7.1-preview.1"

CI_YAML = """\
# CI for pull requests and the default branch; created by the Ticketpilot Project Factory. Adapt freely.
trigger:
  branches:
    include: [{branch}]
pool:
  vmImage: ubuntu-latest
steps:
  - task: UsePythonVersion@0
    inputs:
      versionSpec: '3.11'
  - script: |
      if [ -f requirements.txt ]; then pip install -r requirements.txt; fi
      if [ -d tests ]; then pip install pytest && python -m pytest -q; else echo "no tests yet"; fi
    displayName: Tests
"""


class ProjectFactory:
    def __init__(self, client: AdoClient, spec: ProjectSpec, project: str, *, poll_s: float = 1.0,
                 timeout_s: float = 600.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.spec = spec
        self.project = project
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self._sleep = sleep

    # --- 1. the project -----------------------------------------------------------------------------

    def ensure_project(self) -> tuple[str, list[str]]:
        """(project id, changes)."""
        found = self._project()
        if found is not None:
            return found["id"], []
        operation = self._org("POST", "projects", api_version=PROJECTS_API, body={
            "name": self.project, "description": self.spec.description, "visibility": "private",
            "capabilities": {"versioncontrol": {"sourceControlType": "Git"},
                             "processTemplate": {"templateTypeId": self.spec.process_template_id}}}).json()
        self._await_operation(operation["id"])
        created = self._project()
        if created is None:
            raise ScmError(f"Azure DevOps reported project {self.project!r} created, but it cannot be read back")
        return created["id"], [f"project {self.project} created"]

    def _project(self) -> dict[str, Any] | None:
        try:
            return self._org("GET", f"projects/{quote(self.project, safe='')}", api_version=PROJECTS_API).json()
        except AdoError as exc:
            if exc.status == 404:
                return None
            raise

    def _await_operation(self, operation_id: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while True:
            state = self._org("GET", f"operations/{operation_id}", api_version=OPERATIONS_API).json()
            if state["status"] == "succeeded":
                return
            if state["status"] in ("failed", "cancelled"):
                raise ScmError(f"creating project {self.project!r} {state['status']}: "
                               f"{state.get('resultMessage') or 'Azure DevOps gave no reason'}")
            if time.monotonic() > deadline:
                raise ScmError(f"creating project {self.project!r} was still {state['status']!r} after "
                               f"{self.timeout_s:.0f} s; run the factory again to pick it up")
            self._sleep(self.poll_s)

    # --- 2. repositories ----------------------------------------------------------------------------

    def ensure_repositories(self, project_id: str) -> tuple[dict[str, str], list[str]]:
        """({name: repository id}, changes)."""
        existing = {r["name"].lower(): r for r in self._project_api("GET", "git/repositories").json()["value"]}
        ids: dict[str, str] = {}
        changes: list[str] = []
        for repo in self.spec.repositories:
            found = existing.get(repo.name.lower())
            if found is None:
                found = self._project_api("POST", "git/repositories",
                                          body={"name": repo.name, "project": {"id": project_id}}).json()
                changes.append(f"repository {repo.name} created")
            ids[repo.name] = found["id"]
            changes += self._initialise(found, repo)
        return ids, changes

    def _initialise(self, found: dict[str, Any], repo: RepositorySpec) -> list[str]:
        """A first commit on the default branch of an empty repository; the default branch set when it differs."""
        ref = branch_ref(repo.default_branch)
        refs = self._project_api("GET", f"git/repositories/{found['id']}/refs", params={"filter": "heads/"}).json()
        changes = []
        if not refs["value"]:
            files = {"README.md": f"# {repo.name}\n\nCreated by the Ticketpilot Project Factory for tenant "
                                  f"{self.spec.tenant}.\n",
                     self.spec.pipeline_yaml: CI_YAML.format(branch=repo.default_branch)}
            self._project_api("POST", f"git/repositories/{found['id']}/pushes", body={
                "refUpdates": [{"name": ref, "oldObjectId": EMPTY_OBJECT_ID}],
                "commits": [{"comment": "Initial commit by the Ticketpilot Project Factory",
                             "changes": [{"changeType": "add", "item": {"path": f"/{path}"},
                                          "newContent": {"content": content, "contentType": "rawtext"}}
                                         for path, content in files.items()]}]})
            changes.append(f"repository {repo.name}: first commit on {repo.default_branch}")
        current = self._project_api("GET", f"git/repositories/{found['id']}").json().get("defaultBranch")
        if current != ref:
            self._project_api("PATCH", f"git/repositories/{found['id']}", body={"defaultBranch": ref})
            changes.append(f"repository {repo.name}: default branch {current or '(none)'} -> {repo.default_branch}")
        return changes

    # --- 3. the pipeline ----------------------------------------------------------------------------

    def ensure_pipeline(self, repos: dict[str, str]) -> tuple[int, list[str]]:
        for pipeline in self._project_api("GET", "pipelines").json()["value"]:
            if pipeline["name"] == self.spec.pipeline_name:
                return int(pipeline["id"]), []
        first = self.spec.repositories[0].name
        created = self._project_api("POST", "pipelines", body={
            "name": self.spec.pipeline_name, "folder": "\\",
            "configuration": {"type": "yaml", "path": f"/{self.spec.pipeline_yaml}",
                              "repository": {"id": repos[first], "name": first, "type": "azureReposGit"}}}).json()
        return int(created["id"]), [f"pipeline {self.spec.pipeline_name} created on {first}/{self.spec.pipeline_yaml}"]

    # --- 4. branch policies -------------------------------------------------------------------------

    def ensure_policies(self, repos: dict[str, str], pipeline_id: int) -> list[str]:
        existing = self._project_api("GET", "policy/configurations", api_version=POLICY_API).json()["value"]
        changes = []
        for repo in self.spec.repositories:
            scope = [{"repositoryId": repos[repo.name], "refName": branch_ref(repo.default_branch),
                      "matchKind": "exact"}]
            wanted = {
                MIN_REVIEWERS_POLICY: {"minimumApproverCount": self.spec.min_reviewers, "creatorVoteCounts": False,
                                       "allowDownvotes": False, "resetOnSourcePush": True, "scope": scope},
                BUILD_POLICY: {"buildDefinitionId": pipeline_id, "queueOnSourceUpdateOnly": True,
                               "manualQueueOnly": False, "displayName": self.spec.pipeline_name,
                               "validDuration": 720.0, "scope": scope},
            }
            for type_id, settings in wanted.items():
                label = "minimum reviewers" if type_id == MIN_REVIEWERS_POLICY else "build validation"
                body = {"isEnabled": True, "isBlocking": True, "type": {"id": type_id}, "settings": settings}
                found = next((p for p in existing if p["type"]["id"] == type_id
                              and _scope_key(p["settings"].get("scope")) == _scope_key(scope)), None)
                if found is None:
                    self._project_api("POST", "policy/configurations", body=body, api_version=POLICY_API)
                    changes.append(f"policy {label} on {repo.name}/{repo.default_branch} created")
                elif not _same_policy(found, body):
                    self._project_api("PUT", f"policy/configurations/{found['id']}", body=body,
                                      api_version=POLICY_API)
                    changes.append(f"policy {label} on {repo.name}/{repo.default_branch} updated")
        return changes

    # --- 5. service hooks ---------------------------------------------------------------------------

    def ensure_service_hooks(self, project_id: str, username: str, rotate_secret: Callable[[str], None]) -> list[str]:
        """Subscriptions for HOOK_EVENTS to the ingress. `rotate_secret(new)` stores a new hook secret for the tenant;
        it is called only when a subscription must be written, and before any is."""
        ours = [s for s in self._org("GET", "hooks/subscriptions").json()["value"]
                if s.get("publisherInputs", {}).get("projectId") == project_id and s.get("consumerId") == "webHooks"]
        by_event = {s["eventType"]: s for s in ours}
        stale = [e for e in HOOK_EVENTS if e not in by_event
                 or by_event[e].get("consumerInputs", {}).get("url") != self.spec.ingress_url
                 or by_event[e].get("consumerInputs", {}).get("basicAuthUsername") != username]
        if not stale:
            return []
        secret = secrets.token_urlsafe(24)
        rotate_secret(secret)
        changes = [f"hook secret of tenant {self.spec.tenant} set anew (ADO keeps it; only its SHA-256 is stored)"]
        for event in HOOK_EVENTS:
            body = {"publisherId": "tfs", "eventType": event, "resourceVersion": RESOURCE_VERSION,
                    "consumerId": "webHooks", "consumerActionId": "httpRequest",
                    "publisherInputs": {"projectId": project_id},
                    "consumerInputs": {"url": self.spec.ingress_url, "basicAuthUsername": username,
                                       "basicAuthPassword": secret}}
            if event in by_event:
                self._org("PUT", f"hooks/subscriptions/{by_event[event]['id']}", body=body)
                changes.append(f"service hook {event} updated")
            else:
                self._org("POST", "hooks/subscriptions", body=body)
                changes.append(f"service hook {event} created")
        return changes

    # --- 6. the wiki --------------------------------------------------------------------------------

    def ensure_wiki(self, project_id: str, text: str) -> list[str]:
        wikis = [w for w in self._project_api("GET", "wiki/wikis", api_version=WIKIS_API).json()["value"]
                 if w.get("type") == "projectWiki"]
        changes = []
        if wikis:
            wiki_id = wikis[0]["id"]
        else:
            wiki_id = self._project_api("POST", "wiki/wikis", api_version=WIKIS_API, body={
                "name": f"{self.project}.wiki", "projectId": project_id, "type": "projectWiki"}).json()["id"]
            changes.append("project wiki created")
        page = f"wiki/wikis/{wiki_id}/pages"
        try:
            current = self._project_api("GET", page, params={"path": ONBOARDING_PATH, "includeContent": "true"},
                                        api_version=PAGES_API)
        except AdoError as exc:
            if exc.status != 404:
                raise
            self._project_api("PUT", page, params={"path": ONBOARDING_PATH}, body={"content": text},
                              api_version=PAGES_API)
            return changes + [f"wiki page {ONBOARDING_PATH} created"]
        if current.json().get("content") == text:
            return changes
        self._project_api("PUT", page, params={"path": ONBOARDING_PATH}, body={"content": text},
                          headers={"If-Match": current.headers["ETag"]}, api_version=PAGES_API)
        return changes + [f"wiki page {ONBOARDING_PATH} updated"]

    def onboarding(self, approvers: list[str]) -> str:
        repos = "\n".join(f"- `{r.name}` (default branch `{r.default_branch}`)" for r in self.spec.repositories)
        text = (f"# Onboarding: {self.project}\n\n"
                f"Tickets of this project are worked by Ticketpilot (tenant `{self.spec.tenant}`): a work item "
                "created or updated here becomes a run that branches, opens a draft pull request, runs CI, reviews, "
                "waits at a gate when its risk needs one, merges and documents.\n\n"
                f"## Repositories\n{repos}\n\n"
                f"## Rules\n- Pull requests need {self.spec.min_reviewers} reviewer(s) and a green "
                f"`{self.spec.pipeline_name}` build.\n"
                f"- R3 changes need a named approver ({', '.join(approvers) or 'none named yet'}) plus a second "
                "person.\n")
        return text + (f"\n{self.spec.onboarding.strip()}\n" if self.spec.onboarding.strip() else "")

    # --- plumbing -----------------------------------------------------------------------------------

    def _org(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.send(method, f"{self.client.org_api}/{path}", **kwargs)

    def _project_api(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.send(method, f"{self.client.base_url}/{path}", **kwargs)


def _scope_key(scope: list[dict[str, Any]] | None) -> list[tuple[str, str, str]]:
    return sorted((s.get("repositoryId", ""), s.get("refName", ""), s.get("matchKind", "").lower())
                  for s in scope or [])


def _same_policy(found: dict[str, Any], wanted: dict[str, Any]) -> bool:
    if (found.get("isEnabled"), found.get("isBlocking")) != (wanted["isEnabled"], wanted["isBlocking"]):
        return False
    have = found.get("settings", {})
    return all(have.get(k) == v for k, v in wanted["settings"].items() if k != "scope")

