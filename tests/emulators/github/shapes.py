"""GitHub's documented JSON shapes (REST 2022-11-28) for what the emulator serves: users, repositories, refs,
commits, pull requests (full and list shapes), comments and statuses. Field names follow the docs examples
recorded under examples/; the contract test holds the two together."""

from __future__ import annotations

import base64
from typing import Any

from tests.emulators.github.repos import EmulatedRepo
from tests.emulators.github.state import BOT, GitHubState


def node_id(kind: str, key: object) -> str:
    return f"{kind}_" + base64.b64encode(str(key).encode()).decode().rstrip("=")


def user(state: GitHubState, login: str = BOT, user_id: int = 41898282) -> dict[str, Any]:
    """A simple-user; the bot is the account behind every emulator token."""
    api = state.api(f"users/{login}")
    return {
        "login": login, "id": user_id, "node_id": node_id("U", user_id),
        "avatar_url": state.html(f"avatars/{login}"), "gravatar_id": "", "url": api,
        "html_url": state.html(login), "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}", "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs", "repos_url": f"{api}/repos", "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events", "type": "Bot" if login == BOT else "User",
        "site_admin": False,
    }


def repository(state: GitHubState, repo: EmulatedRepo) -> dict[str, Any]:
    api = state.api(f"repos/{repo.full_name}")
    return {
        "id": repo.id, "node_id": node_id("R", repo.id), "name": repo.name, "full_name": repo.full_name,
        "owner": user(state, repo.owner, 1000 + len(repo.owner)), "private": True,
        "html_url": state.html(repo.full_name), "description": None, "fork": False, "url": api,
        "git_refs_url": f"{api}/git/refs{{/sha}}", "pulls_url": f"{api}/pulls{{/number}}",
        "statuses_url": f"{api}/statuses/{{sha}}", "clone_url": state.html(f"{repo.full_name}.git"),
        "default_branch": repo.default_branch, "visibility": "private", "archived": False, "disabled": False,
        "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
        "allow_squash_merge": True, "allow_merge_commit": True, "allow_rebase_merge": False,
    }


def ref(state: GitHubState, repo: EmulatedRepo, name: str, sha: str) -> dict[str, Any]:
    return {
        "ref": name, "node_id": node_id("REF", f"{repo.id}:{name}"),
        "url": state.api(f"repos/{repo.full_name}/git/{name}"),
        "object": {"type": "commit", "sha": sha, "url": state.api(f"repos/{repo.full_name}/git/commits/{sha}")},
    }


def commit(state: GitHubState, repo: EmulatedRepo, sha: str) -> dict[str, Any]:
    info = repo.commit_info(sha)
    api = state.api(f"repos/{repo.full_name}/git")
    return {
        "sha": sha, "node_id": node_id("C", sha), "url": f"{api}/commits/{sha}",
        "html_url": state.html(f"{repo.full_name}/commit/{sha}"),
        "author": {"name": info["an"], "email": info["ae"], "date": info["ad"]},
        "committer": {"name": info["cn"], "email": info["ce"], "date": info["cd"]},
        "message": info["message"].rstrip("\n"),
        "tree": {"sha": info["tree"], "url": f"{api}/trees/{info['tree']}"},
        "parents": [{"sha": p, "url": f"{api}/commits/{p}", "html_url": state.html(f"{repo.full_name}/commit/{p}")}
                    for p in info["parents"].split()],
        "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None,
                         "verified_at": None},
    }


def tree(state: GitHubState, repo: EmulatedRepo, sha: str) -> dict[str, Any]:
    api = state.api(f"repos/{repo.full_name}/git")
    entries = [{"path": path, "mode": mode, "type": kind, "sha": obj, "url": f"{api}/{kind}s/{obj}",
                **({"size": int(size)} if kind == "blob" else {})}
               for mode, kind, obj, size, path in repo.tree_listing(sha)]
    return {"sha": sha, "url": f"{api}/trees/{sha}", "tree": entries, "truncated": False}


def pull(state: GitHubState, repo: EmulatedRepo, pr: dict[str, Any], *, full: bool = True) -> dict[str, Any]:
    """A pull-request (full) or pull-request-simple (as lists return it)."""
    number, api = pr["number"], state.api(f"repos/{repo.full_name}")
    head, base = state.head_sha(repo, pr), state.base_sha(repo, pr)
    links = {"self": f"{api}/pulls/{number}", "html": state.html(f"{repo.full_name}/pull/{number}"),
             "issue": f"{api}/issues/{number}", "comments": f"{api}/issues/{number}/comments",
             "review_comments": f"{api}/pulls/{number}/comments", "review_comment": f"{api}/pulls/comments{{/number}}",
             "commits": f"{api}/pulls/{number}/commits", "statuses": f"{api}/statuses/{head}"}
    shape: dict[str, Any] = {
        "url": links["self"], "id": pr["id"], "node_id": pr["node_id"], "html_url": links["html"],
        "diff_url": links["html"] + ".diff", "patch_url": links["html"] + ".patch", "issue_url": links["issue"],
        "commits_url": links["commits"], "review_comments_url": links["review_comments"],
        "review_comment_url": links["review_comment"], "comments_url": links["comments"],
        "statuses_url": links["statuses"], "number": number, "state": pr["state"], "locked": False,
        "title": pr["title"], "user": user(state), "body": pr["body"], "labels": [], "milestone": None,
        "active_lock_reason": None, "created_at": pr["created_at"], "updated_at": pr["updated_at"],
        "closed_at": pr["closed_at"], "merged_at": pr["merged_at"], "merge_commit_sha": pr["merge_commit_sha"],
        "assignee": None, "assignees": [], "requested_reviewers": [], "requested_teams": [],
        "head": _branch(state, repo, pr["head_ref"], head), "base": _branch(state, repo, pr["base_ref"], base),
        "_links": {name: {"href": href} for name, href in links.items()},
        "author_association": "MEMBER", "auto_merge": None, "draft": pr["draft"],
    }
    if not full:
        return shape
    is_open = pr["state"] == "open"
    mergeable = repo.mergeable(base, head) if is_open else None
    state_name = ("draft" if pr["draft"] else "clean" if mergeable else "dirty") if is_open else "unknown"
    key = (repo.full_name, number)
    return shape | {
        "merged": pr["merged_at"] is not None, "mergeable": mergeable, "rebaseable": False,
        "mergeable_state": state_name,
        "merged_by": user(state) if pr["merged_at"] else None, "comments": len(state.issue_comments.get(key, [])),
        "review_comments": len(state.review_comments.get(key, [])), "maintainer_can_modify": False,
        **repo.stats(base, head),
    }


def _branch(state: GitHubState, repo: EmulatedRepo, name: str, sha: str) -> dict[str, Any]:
    return {"label": f"{repo.owner}:{name}", "ref": name, "sha": sha, "user": user(state, repo.owner, 1000),
            "repo": repository(state, repo)}


def issue_comment(state: GitHubState, repo: EmulatedRepo, number: int, comment_id: int, body: str,
                  created_at: str) -> dict[str, Any]:
    return {
        "id": comment_id, "node_id": node_id("IC", comment_id),
        "url": state.api(f"repos/{repo.full_name}/issues/comments/{comment_id}"),
        "html_url": state.html(f"{repo.full_name}/pull/{number}#issuecomment-{comment_id}"),
        "body": body, "user": user(state), "created_at": created_at, "updated_at": created_at,
        "issue_url": state.api(f"repos/{repo.full_name}/issues/{number}"), "author_association": "MEMBER",
    }


def status(state: GitHubState, repo: EmulatedRepo, sha: str, record: dict[str, Any], *,
           creator: bool = True) -> dict[str, Any]:
    shape = {
        "url": state.api(f"repos/{repo.full_name}/statuses/{sha}"), "avatar_url": state.html(f"avatars/{BOT}"),
        "id": record["id"], "node_id": node_id("SC", record["id"]), "state": record["state"],
        "description": record["description"], "target_url": record["target_url"], "context": record["context"],
        "created_at": record["created_at"], "updated_at": record["created_at"],
    }
    return shape | {"creator": user(state)} if creator else shape
