"""`POST /graphql`, supporting exactly the one operation the client sends, markPullRequestReadyForReview
(REST cannot take a pull request out of draft). Any other document gets a GraphQL error saying so, never a
made-up answer. Like GitHub, failures come back as `errors` in a 200."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

from tests.emulators.github.state import GitHubState, now

_MUTATION = re.compile(
    r"^\s*mutation(?:\s+\w+)?\s*\(\s*\$(?P<var>\w+)\s*:\s*ID!\s*\)\s*\{\s*markPullRequestReadyForReview\s*"
    r"\(\s*input\s*:\s*\{\s*pullRequestId\s*:\s*\$(?P=var)\s*\}\s*\)\s*\{\s*pullRequest\s*\{(?P<fields>[\w\s]*)\}"
    r"\s*\}\s*\}\s*$"
)
FIELDS = ("id", "number", "isDraft", "state", "url")
SUPPORTED = ("mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) "
             f"{{ pullRequest {{ <any of: {' '.join(FIELDS)}> }} }} }}")


def graphql_routes(app: FastAPI, state: GitHubState) -> None:
    @app.post("/graphql")
    async def graphql(body: dict[str, Any]) -> dict[str, Any]:
        match = _MUTATION.match(str(body.get("query", "")))
        if match is None:
            return _error(f"The GitHub emulator supports only one GraphQL document: {SUPPORTED}", "UNSUPPORTED")
        fields = match.group("fields").split()
        unknown = [f for f in fields if f not in FIELDS]
        if unknown or not fields:
            return _error(f"Field '{(unknown or [''])[0]}' is not one the emulator serves on 'PullRequest' "
                          f"(it serves {', '.join(FIELDS)})", "undefinedField")
        node = (body.get("variables") or {}).get(match.group("var"))
        found = state.pull_by_node(str(node))
        if found is None:
            return _error(f"Could not resolve to a node with the global id of '{node}'", "NOT_FOUND", data=True)
        repo, pr = found
        if not pr["draft"]:
            return _error(f"Pull request #{pr['number']} is not a draft", "UNPROCESSABLE", data=True)
        pr |= {"draft": False, "updated_at": now()}
        state.writes.append(f"graphql ready {repo.full_name}#{pr['number']}")
        merged = "MERGED" if pr["merged_at"] else pr["state"].upper()
        values = {"id": pr["node_id"], "number": pr["number"], "isDraft": False, "state": merged,
                  "url": state.html(f"{repo.full_name}/pull/{pr['number']}")}
        return {"data": {"markPullRequestReadyForReview": {"pullRequest": {f: values[f] for f in fields}}}}


def _error(message: str, kind: str, *, data: bool = False) -> dict[str, Any]:
    error = {"type": kind, "path": ["markPullRequestReadyForReview"], "locations": [{"line": 1, "column": 1}],
             "message": message}
    return {"data": {"markPullRequestReadyForReview": None}, "errors": [error]} if data else {"errors": [error]}
