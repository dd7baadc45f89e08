"""What the ADO emulator remembers: projects, their git repositories (real, on disk) and in-memory work
items, pull requests, threads, reviewers, statuses, pipelines, runs and builds, branch policies, service hook
subscriptions, wikis and the graph's users, groups and memberships. Records are kept in ADO's own JSON shape,
so rendering is a copy and the contract tests check the shapes the client will really meet.

One project exists from the start (`project`, "proj"): the one every older test and the ticket DAGs use; its
repositories are `repos`, by name. More are created through `POST /{org}/_apis/projects` (projects.py)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

from tests.emulators.ado.errors import AdoHttpError
from tests.emulators.ado.repos import ZERO, EmulatedRepo
from tests.emulators.ado.service_hooks import ServiceHooks
from tests.emulators.common.faults import FaultBook

THREAD_STATUSES = ["unknown", "active", "fixed", "wontFix", "closed", "byDesign", "pending"]


class PipelineAgent(BaseModel):
    """What stands in for a build agent: the repository a pipeline builds and how each run ends."""

    repository: str
    result: Literal["succeeded", "failed", "canceled"] = "succeeded"
    seconds: float = Field(default=1.0, ge=0)


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Project:
    """A team project: its TeamProject fields, and its repositories by name (ADO names are unique per project)."""

    name: str
    description: str = ""
    visibility: str = "private"
    state: str = "wellFormed"  # createPending/new while its create operation runs (projects.py)
    capabilities: dict[str, dict[str, str]] = field(default_factory=lambda: {
        "versioncontrol": {"sourceControlType": "Git"},
        "processTemplate": {"templateTypeId": AGILE_PROCESS, "templateName": "Agile"}})
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    default_team_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    revision: int = 1
    last_update: str = field(default_factory=now)
    repos: dict[str, EmulatedRepo] = field(default_factory=dict)

    def named(self, name_or_id: str) -> bool:
        return name_or_id == self.id or name_or_id.casefold() == self.name.casefold()


AGILE_PROCESS = "adcc42ab-9882-485e-a3ed-7678f01f66bc"  # the Agile process template's id in every organisation


class EmulatorState:
    """One organisation and its projects; the app's handlers run one at a time on the event loop, so no locks."""

    def __init__(self, root: Path, org: str = "org", project: str = "proj") -> None:
        self.root = root
        self.org = org
        self.project = project  # the default project's name
        self.base_url = ""
        self.host_id = str(uuid.uuid4())  # the organisation's host id (service hook publisherInputs.hostId)
        self.faults = FaultBook()
        self.service_hooks = ServiceHooks()
        self.default_project = Project(project)
        self.projects: dict[str, Project] = {self.default_project.id: self.default_project}
        self.repos = self.default_project.repos  # the default project's repositories, by name
        self.operations: dict[str, dict[str, Any]] = {}  # project creation, by operation id (projects.py)
        self.policies: dict[int, dict[str, Any]] = {}  # PolicyConfiguration by id, `_project` inside (policy.py)
        self.pipeline_definitions: dict[int, dict[str, Any]] = {}  # Pipeline by id (pipeline_defs.py)
        self.pipeline_project: dict[int, str] = {}  # project id of each created pipeline
        self.run_project: dict[int, str] = {}  # project id of each run (its build.complete names it)
        self.hook_subscriptions: dict[str, dict[str, Any]] = {}  # Subscription by id, secrets unmasked (hooks_api.py)
        self.wikis: dict[str, dict[str, Any]] = {}  # WikiV2 by id plus its pages (wiki.py)
        # The organisation's graph (graph.py): GraphUser and GraphGroup by descriptor, `_`-keys inside, and the
        # direct memberships as (member, container) descriptor pairs in the order they were made.
        self.graph_users: dict[str, dict[str, Any]] = {}
        self.graph_groups: dict[str, dict[str, Any]] = {}
        self.memberships: dict[tuple[str, str], None] = {}
        self.work_items: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.pull_requests: dict[int, dict[str, Any]] = {}
        self.threads: dict[int, list[dict[str, Any]]] = {}
        self.statuses: dict[int, list[dict[str, Any]]] = {}
        self.runs: dict[int, dict[str, Any]] = {}
        self.builds: dict[int, dict[str, Any]] = {}
        self.pipelines: dict[int, PipelineAgent] = {}
        self.pushes: list[dict[str, Any]] = []
        self.auth_headers: list[str] = []
        self._ids = itertools.count(1)
        self.identity = {
            "displayName": "Ticketpilot Bot",
            "id": str(uuid.uuid4()),
            "uniqueName": "bot@ticketpilot.local",
        }

    def next_id(self) -> int:
        return next(self._ids)

    def api(self, tail: str, project: Project | None = None) -> str:
        name = (project or self.default_project).name
        return f"{self.base_url}/{self.org}/{quote(name, safe='')}/_apis/{tail}"

    def org_api(self, tail: str) -> str:
        return f"{self.base_url}/{self.org}/_apis/{tail}"

    # --- projects -----------------------------------------------------------------------------------

    def find_project(self, name_or_id: str) -> Project | None:
        """A project by id or by name (ADO names are case-insensitive), deleted ones excepted."""
        return next((p for p in self.projects.values() if p.named(name_or_id) and p.state != "deleted"), None)

    def project_of(self, name_or_id: str | None) -> Project:
        if name_or_id is None:
            return self.default_project
        found = self.find_project(name_or_id)
        if found is None:
            raise AdoHttpError(404, f"TF200016: The following project does not exist: {name_or_id}. Verify that "
                                    "the name of the project is correct and that the project exists on the specified "
                                    "Azure DevOps Server.", "ProjectDoesNotExistWithNameException", 200016)
        return found

    def add_repo(self, project: Project, name: str) -> EmulatedRepo:
        """A new, empty repository of `project`."""
        self._new_repo_name(project, name)
        repo = EmulatedRepo(self.root, name, project.id)
        project.repos[name] = repo
        return repo

    def rename_repo(self, repo: EmulatedRepo, name: str) -> None:
        project = self.projects[repo.project_id]
        if name.casefold() != repo.name.casefold():
            self._new_repo_name(project, name)
        del project.repos[repo.name]
        repo.name = name
        project.repos[name] = repo

    @staticmethod
    def _new_repo_name(project: Project, name: str) -> None:
        """Repository names are unique per project, case-insensitively. The 7.1 spec documents no errors; ADO
        answers 409 with this TF400948 message (as public clients of the service record it); the typeKey is
        the emulator's guess."""
        if not name.strip():
            raise AdoHttpError(400, "A repository name is required.", "InvalidArgumentValueException")
        if any(r.name.casefold() == name.casefold() for r in project.repos.values()):
            raise AdoHttpError(409, f"TF400948: A Git repository with the name {name} already exists.",
                               "GitRepositoryNameAlreadyExistsException", 400948)

    def who(self) -> dict[str, Any]:
        url = f"{self.base_url}/{self.org}/_apis/Identities/{self.identity['id']}"
        return {**self.identity, "url": url, "imageUrl": f"{url}/avatar"}

    # --- seeding (admin API) ------------------------------------------------------------------------

    def create_repo(self, name: str, files: dict[str, str], project: str | None = None) -> EmulatedRepo:
        owner = self.project_of(project)
        repo = EmulatedRepo(self.root, name, owner.id)
        owner.repos[name] = repo
        changes = [{"changeType": "add", "item": {"path": p}, "newContent": {"content": c}} for p, c in files.items()]
        commit = repo.commit_changes(None, "Initial commit", changes)
        repo.update_ref(repo.default_branch, ZERO, commit)
        return repo

    def create_work_item(self, fields: dict[str, Any], project: str | None = None) -> dict[str, Any]:
        owner = self.project_of(project)
        item_id = self.next_id()
        stamp = now()
        base = {"System.Id": item_id, "System.Rev": 1, "System.State": "New", "System.WorkItemType": "Task",
                "System.TeamProject": owner.name, "System.CreatedDate": stamp, "System.ChangedDate": stamp}
        url = self.api(f"wit/workItems/{item_id}", owner)
        item = {"id": item_id, "rev": 1, "fields": base | fields, "relations": [], "url": url,
                "_links": {"self": {"href": url}}}
        self.work_items[item_id] = item
        self.comments[item_id] = []
        self.announce("workitem.created", item, f"{self._item_label(item)} created by {self.identity['displayName']}.",
                      owner)
        return item

    def item_project(self, item: dict[str, Any]) -> Project:
        return self.find_project(str(item["fields"].get("System.TeamProject", ""))) or self.default_project

    def update_work_item(self, item: dict[str, Any], fields: dict[str, Any], relations: list[Any]) -> dict[str, Any]:
        """Store a new revision; `System.History` becomes a discussion comment, as ADO records it."""
        rev = item["rev"] + 1
        before = item["fields"]
        after = fields | {"System.Rev": rev, "System.ChangedDate": now()}
        item |= {"rev": rev, "fields": after, "relations": relations}
        if after.get("System.History") and after.get("System.History") != before.get("System.History"):
            self.add_comment(item["id"], str(after["System.History"]))
        changed = {k: {"oldValue": before.get(k), "newValue": v} for k, v in after.items() if before.get(k) != v}
        owner = self.item_project(item)
        update_url = self.api(f"wit/workItems/{item['id']}/updates/{rev}", owner)
        update = {"id": rev, "workItemId": item["id"], "rev": rev, "revisedBy": self.who(), "revisedDate": now(),
                  "fields": changed, "url": update_url,
                  "_links": {"self": {"href": update_url}, "parent": {"href": item["url"]}},
                  "revision": {"id": item["id"], "rev": rev, "fields": after, "relations": relations,
                               "url": item["url"]}}
        self.announce("workitem.updated", update,
                      f"{self._item_label(item)} updated by {self.identity['displayName']}.", owner)
        return item

    def add_comment(self, item_id: int, text: str) -> dict[str, Any]:
        comments = self.comments[item_id]
        stamp = now()
        comment = {
            "workItemId": item_id,
            "id": len(comments) + 1,
            "version": 1,
            "text": text,
            "createdBy": self.who(),
            "createdDate": stamp,
            "modifiedBy": self.who(),
            "modifiedDate": stamp,
            "format": "html",
            "isDeleted": False,
            "url": self.api(f"wit/workItems/{item_id}/comments/{len(comments) + 1}"),
        }
        comments.append(comment)
        return comment

    def finish_run(self, run_id: int, result: str) -> dict[str, Any]:
        """Complete a pipeline run and its build, then announce `build.complete` like ADO does."""
        run, build = self.runs[run_id], self.builds[run_id]
        if run["state"] == "completed":
            return run
        run |= {"state": "completed", "result": result, "finishedDate": now()}
        build |= {"status": "completed", "result": result, "finishTime": now()}
        owner = self.projects.get(self.run_project.get(run_id, ""), self.default_project)
        self.announce("build.complete", build, f"Build {build['buildNumber']} {result}", owner)
        return run

    # --- service hooks ------------------------------------------------------------------------------

    def announce(self, event_type: str, resource: dict[str, Any], text: str, project: Project | None = None) -> None:
        """Hand an event of `project` (the default one unless given) to the service hooks in ADO's delivery
        shape (per-delivery ids are theirs)."""
        owner = project or self.default_project
        org_url = f"{self.base_url}/{self.org}/"
        message = {"text": text, "html": text, "markdown": text}
        self.service_hooks.publish({
            "eventType": event_type,
            "publisherId": "tfs",
            "message": message,
            "detailedMessage": message,
            "resource": resource,
            "resourceVersion": "1.0",
            "resourceContainers": {"collection": {"id": self.org, "baseUrl": org_url},
                                   "account": {"id": self.org, "baseUrl": org_url},
                                   "project": {"id": owner.id, "baseUrl": org_url}},
            "createdDate": now(),
        })

    @staticmethod
    def _item_label(item: dict[str, Any]) -> str:
        fields = item["fields"]
        return f"{fields.get('System.WorkItemType', 'Task')} #{item['id']} ({fields.get('System.Title', '')})"

    # --- lookups ------------------------------------------------------------------------------------

    def repo(self, name_or_id: str, project: str | None = None) -> EmulatedRepo:
        """A repository by name or id in `project` (name or id; the default project when None). Without a
        project, an id from any project is found too (admin routes and pipeline agents name repositories so)."""
        owner = self.project_of(project)
        for repo in owner.repos.values():
            if name_or_id == repo.id or name_or_id.casefold() == repo.name.casefold():
                return repo
        if project is None:
            for other in self.projects.values():
                for repo in other.repos.values():
                    if name_or_id == repo.id:
                        return repo
        raise AdoHttpError(404, f"TF401019: The Git repository with name or identifier {name_or_id} does not exist "
                                "or you do not have permissions for the operation you are attempting.",
                           "GitRepositoryNotFoundException", 401019)

    def work_item(self, item_id: int) -> dict[str, Any]:
        if item_id not in self.work_items:
            raise AdoHttpError(404, f"TF401232: Work item {item_id} does not exist, or you do not have permissions "
                                    "to read it.", "WorkItemUnauthorizedAccessException", 401232)
        return self.work_items[item_id]

    def pull_request(self, repo: EmulatedRepo, pr_id: int) -> dict[str, Any]:
        pr = self.pull_requests.get(pr_id)
        if pr is None or pr["repository"]["id"] != repo.id:
            raise AdoHttpError(404, f"TF401180: The requested pull request was not found: {pr_id}.",
                               "GitPullRequestNotFoundException", 401180)
        return pr

    def project_ref(self, project: Project) -> dict[str, Any]:
        """A TeamProjectReference."""
        return {"id": project.id, "name": project.name, "description": project.description,
                "url": self.org_api(f"projects/{project.id}"), "state": project.state,
                "revision": project.revision, "visibility": project.visibility,
                "lastUpdateTime": project.last_update}

    def repo_api(self, repo: EmulatedRepo, tail: str) -> str:
        return self.api(f"git/repositories/{repo.id}/{tail}", self.projects[repo.project_id])

    def repo_ref(self, repo: EmulatedRepo) -> dict[str, Any]:
        project = self.projects[repo.project_id]
        url = self.api(f"git/repositories/{repo.id}", project)
        return {"id": repo.id, "name": repo.name, "url": url,
                "project": {"id": project.id, "name": project.name, "url": self.org_api(f"projects/{project.id}"),
                            "state": project.state, "visibility": project.visibility}}

    def repository(self, repo: EmulatedRepo) -> dict[str, Any]:
        """A GitRepository; `remoteUrl` is served by git_http, as ADO serves it over HTTPS. An empty repository
        has no defaultBranch until one is set, as in ADO's recorded POST example."""
        project = self.projects[repo.project_id]
        remote = f"{self.base_url}/{self.org}/{quote(project.name, safe='')}/_git/{quote(repo.name, safe='')}"
        shown = repo.default_branch_set or bool(repo.refs("refs/heads/"))
        return self.repo_ref(repo) | ({"defaultBranch": repo.default_branch} if shown else {}) | {
            "remoteUrl": remote, "webUrl": remote, "isDisabled": False, "isInMaintenance": False}

    def commit_ref(self, repo: EmulatedRepo, sha: str) -> dict[str, Any]:
        return {"commitId": sha, "url": self.repo_api(repo, f"commits/{sha}")}

    def commit(self, repo: EmulatedRepo, sha: str) -> dict[str, Any]:
        info = repo.commit_info(sha)
        if info is None:
            raise AdoHttpError(404, f"TF401175: The commit {sha} could not be found.", "GitCommitDoesNotExist")
        return {
            "treeId": info["tree"],
            "commitId": sha,
            "author": {"name": info["an"], "email": info["ae"], "date": info["ad"]},
            "committer": {"name": info["cn"], "email": info["ce"], "date": info["cd"]},
            "comment": info["message"],
            "parents": info["parents"].split(),
            "url": self.repo_api(repo, f"commits/{sha}"),
            "_links": {"self": {"href": self.repo_api(repo, f"commits/{sha}")}},
        }

    # --- pull requests ------------------------------------------------------------------------------

    def open_pr(self, repo: EmulatedRepo, body: dict[str, Any]) -> dict[str, Any]:
        source, target = str(body.get("sourceRefName", "")), str(body.get("targetRefName", ""))
        source_tip, target_tip = repo.tip(source), repo.tip(target)
        if source_tip is None or target_tip is None:
            missing = source if source_tip is None else target
            raise AdoHttpError(400, f"TF401398: The pull request cannot be activated because the source and/or the "
                                    f"target branch no longer exists ({missing}).", "InvalidArgumentValueException")
        for pr in self.pull_requests.values():
            same = (pr["sourceRefName"], pr["targetRefName"], pr["status"]) == (source, target, "active")
            if same and pr["repository"]["id"] == repo.id:
                raise AdoHttpError(409, "TF401179: An active pull request for the source and target branch already "
                                        "exists.", "GitPullRequestExistsException", 401179)
        pr_id = self.next_id()
        merge = repo.test_merge(target_tip, source_tip)
        url = self.repo_api(repo, f"pullRequests/{pr_id}")
        pr = {
            "repository": self.repo_ref(repo),
            "pullRequestId": pr_id,
            "codeReviewId": pr_id,
            "status": "active",
            "createdBy": self.who(),
            "creationDate": now(),
            "title": str(body.get("title", "")),
            "description": str(body.get("description", "")),
            "sourceRefName": source,
            "targetRefName": target,
            "isDraft": bool(body.get("isDraft", False)),
            "mergeStatus": "conflicts" if merge is None else "succeeded",
            "mergeId": str(uuid.uuid4()),
            "lastMergeSourceCommit": self.commit_ref(repo, source_tip),
            "lastMergeTargetCommit": self.commit_ref(repo, target_tip),
            **({"lastMergeCommit": self.commit_ref(repo, merge)} if merge else {}),
            "reviewers": [],
            "workItemRefs": [{"id": str(w["id"]), "url": self.api(f"wit/workItems/{w['id']}")}
                             for w in body.get("workItemRefs") or []],
            "url": url,
            "_links": {"self": {"href": url}, "repository": {"href": self.repo_ref(repo)["url"]}},
            "supportsIterations": True,
            "artifactId": f"vstfs:///Git/PullRequestId/{repo.project_id}%2f{repo.id}%2f{pr_id}",
        }
        self.pull_requests[pr_id] = pr
        self.threads[pr_id] = []
        self.statuses[pr_id] = []
        self.announce("git.pullrequest.created", pr,
                      f"{self.identity['displayName']} created pull request {pr_id} ({pr['title']}) in {repo.name}.",
                      self.projects[repo.project_id])
        return pr

    def update_pr(self, repo: EmulatedRepo, pr_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """A PATCH: only an active PR completes or is abandoned; asking a closed one for the status it has
        changes nothing. Other transitions get ADO's InvalidArgumentValueException (the wording is ours)."""
        pr = self.pull_request(repo, pr_id)
        status = body.get("status")
        if status in ("completed", "abandoned") and pr["status"] not in ("active", status):
            raise AdoHttpError(400, f"Invalid argument value.\r\nParameter name: The pull request is {pr['status']} "
                                    f"and cannot be {status}.", "InvalidArgumentValueException")
        for key in ("title", "description", "isDraft"):
            if key in body:
                pr[key] = body[key]
        if status == "completed" and pr["status"] == "active":
            self._complete(repo, pr, body)
        elif status == "abandoned" and pr["status"] == "active":
            pr |= {"status": "abandoned", "closedDate": now(), "closedBy": self.who()}
        return pr

    def _complete(self, repo: EmulatedRepo, pr: dict[str, Any], body: dict[str, Any]) -> None:
        wanted = (body.get("lastMergeSourceCommit") or {}).get("commitId")
        if not wanted:
            raise AdoHttpError(400, "The 'lastMergeSourceCommit' must be supplied to complete a pull request.",
                               "InvalidArgumentValueException")
        if pr["isDraft"]:
            raise AdoHttpError(400, "TF401467: A draft pull request cannot be completed.",
                               "InvalidArgumentValueException")
        source = repo.tip(pr["sourceRefName"])
        if source != wanted:
            raise AdoHttpError(409, f"TF401181: The pull request's source branch moved to {source}; it was completed "
                                    f"as of {wanted}.", "GitPullRequestStaleException", 401181)
        options = body.get("completionOptions") or {}
        strategy = options.get("mergeStrategy", "noFastForward")
        if strategy not in ("squash", "noFastForward"):
            raise AdoHttpError(400, f"the emulator merges squash or noFastForward, not {strategy}",
                               "InvalidArgumentValueException")
        message = f"Merged PR {pr['pullRequestId']}: {pr['title']}"
        merged = repo.squash_merge(pr["targetRefName"], source, message, squash=strategy == "squash")
        if merged is None:
            pr["mergeStatus"] = "conflicts"
            raise AdoHttpError(409, "TF401192: The pull request has merge conflicts.", "GitPullRequestMergeConflict")
        if options.get("deleteSourceBranch"):
            repo.update_ref(pr["sourceRefName"], source, ZERO)
        pr |= {
            "status": "completed",
            "mergeStatus": "succeeded",
            "closedDate": now(),
            "closedBy": self.who(),
            "completionOptions": options,
            "lastMergeCommit": self.commit_ref(repo, merged),
            "lastMergeSourceCommit": self.commit_ref(repo, source),
        }

    def add_thread(self, pr_id: int, body: dict[str, Any]) -> dict[str, Any]:
        stamp = now()
        comments = []
        for index, comment in enumerate(body.get("comments") or [], start=1):
            kind = comment.get("commentType", "text")
            comments.append({
                "id": index,
                "parentCommentId": int(comment.get("parentCommentId", 0)),
                "author": self.who(),
                "content": str(comment.get("content", "")),
                "publishedDate": stamp,
                "lastUpdatedDate": stamp,
                "lastContentUpdatedDate": stamp,
                "commentType": ["unknown", "text", "codeChange", "system"][kind] if isinstance(kind, int) else kind,
                "usersLiked": [],
            })
        status = body.get("status", "active")
        thread_id = self.next_id()
        thread = {
            "pullRequestThreadContext": None,
            "id": thread_id,
            "publishedDate": stamp,
            "lastUpdatedDate": stamp,
            "comments": comments,
            "status": THREAD_STATUSES[status] if isinstance(status, int) else status,
            "threadContext": body.get("threadContext"),
            "properties": {},
            "isDeleted": False,
            "_links": {"self": {"href": self.api(f"git/pullRequests/{pr_id}/threads/{thread_id}")}},
        }
        self.threads[pr_id].append(thread)
        return thread

    def set_reviewer(
        self, repo: EmulatedRepo, pr: dict[str, Any], reviewer_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        reviewer = next((r for r in pr["reviewers"] if r["id"] == reviewer_id), None)
        if reviewer is None:
            url = f"{self.base_url}/{self.org}/_apis/Identities/{reviewer_id}"
            reviewer = {
                "reviewerUrl": self.repo_api(repo, f"pullRequests/{pr['pullRequestId']}/reviewers/{reviewer_id}"),
                "vote": 0,
                "displayName": f"Reviewer {reviewer_id[:8]}",
                "url": url,
                "id": reviewer_id,
                "uniqueName": f"{reviewer_id[:8]}@example.test",
                "imageUrl": f"{url}/avatar",
            }
            pr["reviewers"].append(reviewer)
        vote = int(body.get("vote", reviewer["vote"]))
        if vote not in (10, 5, 0, -5, -10):
            raise AdoHttpError(400, f"vote {vote} is not one of 10, 5, 0, -5, -10", "InvalidArgumentValueException")
        reviewer["vote"] = vote
        if "isRequired" in body:
            reviewer["isRequired"] = bool(body["isRequired"])
        self.announce("git.pullrequest.updated", pr,
                      f"{reviewer['displayName']} voted {vote} on pull request {pr['pullRequestId']} ({pr['title']}).",
                      self.projects[repo.project_id])
        return reviewer

    def add_status(self, pr_id: int, body: dict[str, Any]) -> dict[str, Any]:
        context = body.get("context") or {}
        if not context.get("name"):
            raise AdoHttpError(400, "A status context name is required.", "InvalidArgumentValueException")
        stamp = now()
        status = {
            "id": len(self.statuses[pr_id]) + 1,
            "state": body.get("state", "notSet"),
            "description": str(body.get("description", "")),
            "context": {"name": context["name"], "genre": context.get("genre", "")},
            "creationDate": stamp,
            "updatedDate": stamp,
            "createdBy": self.who(),
            "_links": {"self": {"href": self.api(f"git/pullRequests/{pr_id}/statuses")}},
        }
        if body.get("targetUrl"):
            status["targetUrl"] = body["targetUrl"]
        self.statuses[pr_id].append(status)
        return status
