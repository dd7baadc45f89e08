"""Pull request behaviour of the emulator, as GitHub validates it: opening (one open PR per head and base, none
without commits), updating (title, body, closing), merging (draft, head-sha guard, conflicts), review comments
(only on files and lines of the diff) and commit statuses (the latest per context wins, descriptions up to 140
characters)."""

from __future__ import annotations

from typing import Any

from tests.emulators.github import shapes
from tests.emulators.github.errors import GitHubHttpError, invalid, unsupported
from tests.emulators.github.repos import EmulatedRepo
from tests.emulators.github.state import GitHubState, now

STATUS_STATES = ("error", "failure", "pending", "success")
MERGE_DOCS = "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"


def open_pull(state: GitHubState, repo: EmulatedRepo, body: dict[str, Any]) -> dict[str, Any]:
    title, head, base = body.get("title"), str(body.get("head") or ""), str(body.get("base") or "")
    if body.get("issue") is not None:
        raise unsupported("turning an issue into a pull request (`issue`)")
    if not title:
        raise invalid("PullRequest", "title is missing", field="title", code="missing_field")
    owner, _, head_ref = head.rpartition(":")
    if owner not in ("", repo.owner):
        raise unsupported("pull requests from another owner's fork (`head` of another owner)")
    head_sha, base_sha = repo.tip(head_ref), repo.tip(base)
    if head_sha is None:
        raise invalid("PullRequest", "head is invalid", field="head", code="invalid")
    if base_sha is None:
        raise invalid("PullRequest", "base is invalid", field="base", code="invalid")
    for pr in state.pulls[repo.full_name].values():
        if (pr["state"], pr["head_ref"], pr["base_ref"]) == ("open", head_ref, base):
            raise invalid("PullRequest", f"A pull request already exists for {repo.owner}:{head_ref}.")
    if repo.is_ancestor(head_sha, base_sha):
        raise invalid("PullRequest", f"No commits between {base} and {head_ref}")
    number = len(state.pulls[repo.full_name]) + 1
    pr_id = state.next_id()
    stamp = now()
    pr = {"id": pr_id, "node_id": shapes.node_id("PR", pr_id), "number": number, "state": "open",
          "title": str(title), "body": body.get("body") or None, "draft": bool(body.get("draft", False)),
          "head_ref": head_ref, "base_ref": base, "head_sha": head_sha, "base_sha": base_sha,
          "created_at": stamp, "updated_at": stamp, "closed_at": None, "merged_at": None,
          "merge_commit_sha": None}
    state.pulls[repo.full_name][number] = pr
    state.issue_comments[(repo.full_name, number)] = []
    state.review_comments[(repo.full_name, number)] = []
    return pr


def list_pulls(state: GitHubState, repo: EmulatedRepo, query: dict[str, str]) -> list[dict[str, Any]]:
    wanted, head, base = query.get("state", "open"), query.get("head"), query.get("base")
    if wanted not in ("open", "closed", "all"):
        raise invalid("PullRequest", f"state {wanted!r} is not open, closed or all", field="state", code="invalid")
    if query.get("sort", "created") != "created":
        raise unsupported(f"sorting pull requests by {query['sort']!r}")
    found = [pr for pr in state.pulls[repo.full_name].values()
             if wanted in ("all", pr["state"])
             and (head is None or head == f"{repo.owner}:{pr['head_ref']}")
             and (base is None or base == pr["base_ref"])]
    return sorted(found, key=lambda pr: pr["number"], reverse=query.get("direction", "desc") == "desc")


def update_pull(state: GitHubState, repo: EmulatedRepo, pr: dict[str, Any], body: dict[str, Any]
                ) -> dict[str, Any]:
    """`PATCH /pulls/{number}`: title, body and `state`. Closing leaves `merged_at` unset, so the PR reads as
    closed and not merged; closing a closed (or merged) PR changes nothing."""
    if {"base", "maintainer_can_modify"} & set(body):
        raise unsupported("changing a pull request's base or maintainer_can_modify")
    wanted = body.get("state", pr["state"])
    if wanted not in ("open", "closed"):
        raise invalid("PullRequest", f"state {wanted!r} is not included in the list (open, closed)", field="state",
                      code="invalid")
    if wanted == "open" and pr["state"] == "closed":
        raise unsupported("reopening a closed pull request")
    stamp = now()
    if "title" in body:
        if not body["title"]:
            raise invalid("PullRequest", "title is missing", field="title", code="missing_field")
        pr["title"] = str(body["title"])
    if "body" in body:
        pr["body"] = body["body"] or None
    if wanted == "closed" and pr["state"] == "open":
        pr |= {"state": "closed", "closed_at": stamp, "head_sha": state.head_sha(repo, pr),
               "base_sha": state.base_sha(repo, pr)}
    pr["updated_at"] = stamp
    return pr


def merge_pull(state: GitHubState, repo: EmulatedRepo, pr: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    if pr["state"] != "open":
        raise GitHubHttpError(405, "Pull Request is not mergeable", documentation_url=MERGE_DOCS)
    if pr["draft"]:
        raise GitHubHttpError(405, "Pull Request is still a draft", documentation_url=MERGE_DOCS)
    head, base = state.head_sha(repo, pr), state.base_sha(repo, pr)
    if body.get("sha") not in (None, head):
        raise GitHubHttpError(409, "Head branch was modified. Review and try the merge again.",
                              documentation_url=MERGE_DOCS)
    method = body.get("merge_method", "merge")
    if method == "rebase":
        raise unsupported("merge_method 'rebase' (only 'merge' and 'squash')")
    if method not in ("merge", "squash"):
        raise invalid("PullRequest", f"merge_method {method!r} is invalid", field="merge_method", code="invalid")
    default = (f"{pr['title']} (#{pr['number']})" if method == "squash"
               else f"Merge pull request #{pr['number']} from {repo.owner}/{pr['head_ref']}")
    message = str(body.get("commit_title") or default)
    if body.get("commit_message"):
        message += f"\n\n{body['commit_message']}"
    merged = repo.merge(pr["base_ref"], head, message.rstrip() + "\n", squash=method == "squash")
    if merged is None:
        raise GitHubHttpError(405, "Pull Request is not mergeable", documentation_url=MERGE_DOCS)
    stamp = now()
    pr |= {"state": "closed", "merged_at": stamp, "closed_at": stamp, "updated_at": stamp,
           "merge_commit_sha": merged, "head_sha": head, "base_sha": base}
    return {"sha": merged, "merged": True, "message": "Pull Request successfully merged"}


def add_review_comment(state: GitHubState, repo: EmulatedRepo, pr: dict[str, Any], body: dict[str, Any]
                       ) -> dict[str, Any]:
    """A single review comment on a line of the new side of the diff, or (subject_type "file") on a file."""
    if body.get("in_reply_to") is not None:
        raise unsupported("replies to review comments (`in_reply_to`)")
    if body.get("side", "RIGHT") != "RIGHT" or body.get("start_line") is not None:
        raise unsupported("comments on the old side of a diff or on line ranges")
    text, path, commit_id = body.get("body"), str(body.get("path") or ""), str(body.get("commit_id") or "")
    if not text:
        raise invalid("PullRequestReviewComment", "body is missing", field="body", code="missing_field")
    head, base = state.head_sha(repo, pr), state.base_sha(repo, pr)
    if commit_id != head and not (repo.object_type(commit_id) == "commit" and repo.is_ancestor(commit_id, head)
                                  and not repo.is_ancestor(commit_id, base)):
        raise invalid("PullRequestReviewComment", "commit_id is not part of the pull request", field="commit_id")
    if path not in repo.changed_paths(base, commit_id):
        raise invalid("PullRequestReviewComment", "pull_request_review_thread.path is not part of the diff",
                      field="path")
    file_level = body.get("subject_type") == "file"
    position, hunk, line = None, "", body.get("line")
    if not file_level:
        found = repo.new_side_lines(base, commit_id, path).get(int(line)) if isinstance(line, int) else None
        if found is None:
            raise invalid("PullRequestReviewComment", "pull_request_review_thread.line must be part of the diff",
                          field="line")
        position, hunk = found
    comment_id, stamp, number = state.next_id(), now(), pr["number"]
    api = state.api(f"repos/{repo.full_name}/pulls")
    html = state.html(f"{repo.full_name}/pull/{number}#discussion_r{comment_id}")
    comment = {
        "url": f"{api}/comments/{comment_id}", "pull_request_review_id": state.next_id(), "id": comment_id,
        "node_id": shapes.node_id("PRRC", comment_id), "diff_hunk": hunk, "path": path, "position": position,
        "original_position": position, "commit_id": commit_id, "original_commit_id": commit_id,
        "user": shapes.user(state), "body": str(text), "created_at": stamp, "updated_at": stamp, "html_url": html,
        "pull_request_url": f"{api}/{number}", "author_association": "MEMBER",
        "_links": {"self": {"href": f"{api}/comments/{comment_id}"}, "html": {"href": html},
                   "pull_request": {"href": f"{api}/{number}"}},
        "start_line": None, "original_start_line": None, "start_side": None,
        "line": None if file_level else line, "original_line": None if file_level else line,
        "side": None if file_level else "RIGHT", "subject_type": "file" if file_level else "line",
    }
    state.review_comments[(repo.full_name, number)].append(comment)
    return comment


def add_status(state: GitHubState, repo: EmulatedRepo, sha: str, body: dict[str, Any]) -> dict[str, Any]:
    if repo.resolve(sha) != sha:
        raise invalid("Status", f"No commit found for SHA: {sha}", field="sha")
    if body.get("state") not in STATUS_STATES:
        raise invalid("Status", f"state is not included in the list ({', '.join(STATUS_STATES)})", field="state",
                      code="invalid")
    description = body.get("description")
    if description is not None and len(str(description)) > 140:
        raise invalid("Status", "description is too long (maximum is 140 characters)", field="description")
    record = {"id": state.next_id(), "state": body["state"], "context": str(body.get("context") or "default"),
              "description": description, "target_url": body.get("target_url"), "created_at": now()}
    state.statuses.setdefault((repo.full_name, sha), []).append(record)
    return shapes.status(state, repo, sha, record)


def combined_status(state: GitHubState, repo: EmulatedRepo, ref: str, page: int, per_page: int
                    ) -> dict[str, Any]:
    sha = repo.resolve(ref)
    if sha is None:
        raise invalid("Status", f"No commit found for SHA: {ref}", field="ref")
    latest: dict[str, dict[str, Any]] = {}
    for record in state.statuses.get((repo.full_name, sha), []):
        latest[record["context"]] = record
    ordered = sorted(latest.values(), key=lambda r: r["id"], reverse=True)
    states = {r["state"] for r in ordered}
    overall = ("failure" if states & {"error", "failure"} else "pending" if not states or "pending" in states
               else "success")
    api = state.api(f"repos/{repo.full_name}")
    repo_shape = shapes.repository(state, repo)
    return {
        "state": overall,
        "statuses": [shapes.status(state, repo, sha, r, creator=False)
                     for r in ordered[(page - 1) * per_page: page * per_page]],
        "sha": sha, "total_count": len(ordered),
        "repository": {k: repo_shape[k] for k in ("id", "node_id", "name", "full_name", "owner", "private",
                                                   "html_url", "description", "fork", "url")},
        "commit_url": f"{api}/commits/{sha}", "url": f"{api}/commits/{sha}/status",
    }
