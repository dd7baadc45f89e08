"""What the GitLab emulator remembers: one namespace (group) of projects with real bare repositories, and in
memory their merge requests, notes, discussions and commit statuses. Records are kept in GitLab's own JSON
shape (see examples/ for the documented samples), so rendering is a copy and the contract test checks the
shapes the client will really meet. Handlers run one at a time on the event loop, so there are no locks."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tests.emulators.common.faults import FaultBook
from tests.emulators.gitlab.errors import GitLabHttpError, not_found
from tests.emulators.gitlab.repos import GitLabRepo

ROLES = ("maintainer", "reporter")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class EmulatedProject:
    id: int
    name: str
    namespace: str
    repo: GitLabRepo
    created_at: str

    @property
    def path_with_namespace(self) -> str:
        return f"{self.namespace}/{self.name}"


class EmulatorState:
    def __init__(self, root: Path, namespace: str = "acme") -> None:
        self.root = root
        self.namespace = namespace
        self.group_id = 1
        self.base_url = ""
        self.faults = FaultBook()
        self.tokens: dict[str, str] = {}  # token → role
        self.projects: dict[int, EmulatedProject] = {}
        self.merge_requests: dict[int, dict[int, dict[str, Any]]] = {}  # project id → iid → MR
        self.notes: dict[tuple[int, int], list[dict[str, Any]]] = {}  # (project id, iid) → notes
        self.discussions: dict[tuple[int, int], list[dict[str, Any]]] = {}
        self.statuses: list[tuple[int, dict[str, Any]]] = []  # (project id, commit status)
        self.commits_created: list[str] = []  # shas made through the commits API
        self.auth_headers: list[str] = []
        self._ids = itertools.count(100)
        self.user = {"id": 1, "username": "ticketpilot-bot", "name": "Ticketpilot Bot", "state": "active",
                     "avatar_url": None, "web_url": ""}

    def next_id(self) -> int:
        return next(self._ids)

    def web(self, tail: str) -> str:
        return f"{self.base_url}/{tail}"

    def who(self) -> dict[str, Any]:
        return {**self.user, "web_url": self.web(self.user["username"])}

    # --- seeding (admin API) ------------------------------------------------------------------------

    def create_project(self, name: str, files: dict[str, str]) -> EmulatedProject:
        project_id = self.next_id()
        project = EmulatedProject(project_id, name, self.namespace, GitLabRepo(self.root / f"{project_id}.git"), now())
        tip = project.repo.commit_actions(None, "Initial commit\n", [
            {"action": "create", "file_path": path, "content": content} for path, content in sorted(files.items())
        ])
        project.repo.set_branch("main", tip, None)
        self.projects[project_id] = project
        self.merge_requests[project_id] = {}
        return project

    # --- lookups ------------------------------------------------------------------------------------

    def project(self, ref: str) -> EmulatedProject:
        """By numeric id or URL-encoded `namespace/name` path (an unencoded slash never reaches here)."""
        wanted = unquote(ref)
        for project in self.projects.values():
            if wanted in (str(project.id), project.path_with_namespace):
                return project
        raise not_found("Project")

    def merge_request(self, project: EmulatedProject, iid: int) -> dict[str, Any]:
        found = self.merge_requests[project.id].get(iid)
        if found is None:
            raise GitLabHttpError(404, "404 Not found")  # GitLab's own wording for a missing MR
        return found

    def tip(self, project: EmulatedProject, branch: str) -> str:
        sha = project.repo.tip(branch)
        if sha is None:
            raise not_found("Branch")
        return sha

    # --- rendering ----------------------------------------------------------------------------------

    def render_project(self, project: EmulatedProject) -> dict[str, Any]:
        path = project.path_with_namespace
        host = self.base_url.split("://", 1)[-1]
        return {
            "id": project.id, "description": None, "name": project.name, "name_with_namespace":
            f"{project.namespace} / {project.name}", "path": project.name, "path_with_namespace": path,
            "created_at": project.created_at, "default_branch": "main" if project.repo.tip("main") else None,
            "tag_list": [], "topics": [], "ssh_url_to_repo": f"git@{host.split(':')[0]}:{path}.git",
            "http_url_to_repo": self.web(f"{path}.git"), "web_url": self.web(path),
            "readme_url": self.web(f"{path}/-/blob/main/README.md"), "avatar_url": None, "forks_count": 0,
            "star_count": 0, "last_activity_at": project.created_at, "visibility": "private",
            "merge_method": "merge", "squash_option": "default_off", "issues_enabled": True, "open_issues_count": 0,
            "merge_requests_enabled": True, "jobs_enabled": True, "wiki_enabled": True, "snippets_enabled": True,
            "resolve_outdated_diff_discussions": False, "container_registry_enabled": False,
            "creator_id": self.user["id"], "import_status": "none", "import_error": None, "archived": False,
            "namespace": {"id": self.group_id, "name": project.namespace, "path": project.namespace, "kind": "group",
                          "full_path": project.namespace, "parent_id": None, "avatar_url": None,
                          "web_url": self.web(f"groups/{project.namespace}")},
        }

    def render_commit(self, project: EmulatedProject, sha: str) -> dict[str, Any]:
        info = project.repo.commit_info(sha)
        trailers: dict[str, list[str]] = {}
        for key, value in info["trailers"]:
            trailers.setdefault(key, []).append(value)
        return {
            "id": sha, "short_id": sha[:8], "created_at": info["cd"], "parent_ids": info["parents"].split(),
            "title": info["title"], "message": info["message"], "author_name": info["an"],
            "author_email": info["ae"], "authored_date": info["ad"], "committer_name": info["cn"],
            "committer_email": info["ce"], "committed_date": info["cd"],
            "trailers": {k: v[-1] for k, v in trailers.items()}, "extended_trailers": trailers,
            "web_url": self.web(f"{project.path_with_namespace}/-/commit/{sha}"),
        }

    def render_branch(self, project: EmulatedProject, name: str) -> dict[str, Any]:
        sha = self.tip(project, name)
        return {
            "name": name, "merged": False, "protected": name == "main", "default": name == "main",
            "developers_can_push": False, "developers_can_merge": False, "can_push": True,
            "web_url": self.web(f"{project.path_with_namespace}/-/tree/{name}"),
            "commit": self.render_commit(project, sha),
        }

    def render_mr(self, project: EmulatedProject, mr: dict[str, Any]) -> dict[str, Any]:
        """The stored MR with what GitLab derives from the repository while it is open: head sha, diff refs,
        mergeability."""
        if mr["state"] == "opened":
            source, target = project.repo.tip(mr["source_branch"]), project.repo.tip(mr["target_branch"])
            if source and target:
                conflicts = project.repo.conflicts(target, source)
                mr |= {"sha": source, "diff_refs": {"base_sha": project.repo.merge_base(target, source),
                                                    "head_sha": source, "start_sha": target},
                       "has_conflicts": conflicts, "merge_status": "cannot_be_merged" if conflicts else "can_be_merged",
                       "detailed_merge_status": "draft_status" if mr["draft"] else
                       "conflict" if conflicts else "mergeable"}
            else:
                mr |= {"detailed_merge_status": "commits_status"}
        return dict(mr)

    # --- notes --------------------------------------------------------------------------------------

    def add_note(self, project: EmulatedProject, mr: dict[str, Any], body: str, *, system: bool = False,
                 kind: str | None = None, position: dict[str, Any] | None = None) -> dict[str, Any]:
        stamp = now()
        note = {
            "id": self.next_id(), "type": kind, "body": body, "attachment": None, "author": self.who(),
            "created_at": stamp, "updated_at": stamp, "system": system, "noteable_id": mr["id"],
            "noteable_type": "MergeRequest", "project_id": project.id, "noteable_iid": mr["iid"],
            "resolvable": kind is not None, "confidential": False, "internal": False, "imported": False,
            "imported_from": "none",
        }
        if kind is not None:
            note |= {"resolved": False, "resolved_by": None, "resolved_at": None}
        if position is not None:
            note |= {"position": position, "commit_id": position["head_sha"]}
        self.notes.setdefault((project.id, mr["iid"]), []).append(note)
        mr["user_notes_count"] += 0 if system else 1
        return note

    def add_discussion(self, project: EmulatedProject, mr: dict[str, Any], body: str,
                       position: dict[str, Any] | None) -> dict[str, Any]:
        note = self.add_note(project, mr, body, kind="DiffNote" if position else "DiscussionNote", position=position)
        discussion = {"id": hashlib.sha1(f"{project.id}:{note['id']}".encode()).hexdigest(),
                      "individual_note": False, "notes": [note]}
        self.discussions.setdefault((project.id, mr["iid"]), []).append(discussion)
        return discussion

    # --- access ---------------------------------------------------------------------------------------

    def role(self, token: str) -> str | None:
        return self.tokens.get(token)

    def grant(self, token: str, role: str) -> None:
        if role not in ROLES:
            raise GitLabHttpError(400, error=f"role must be one of {', '.join(ROLES)}")
        self.tokens[token] = role
