"""The emulator may not drift from GitHub, nor the client's models from either: for each operation the client
uses, the client's model parses GitHub's documented example (tests/emulators/github/examples/), and the
emulator's real answer carries every field of that example, at the top level and in the nested objects the
client reads, and parses with the same model."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from include.scm.github.models import (
    CombinedStatus,
    GitCommit,
    GitRef,
    IssueComment,
    MergeResult,
    PullRequest,
    ReviewComment,
    Status,
)
from tests.emulators.github.server import GitHubEmulatorServer

EXAMPLES = Path(__file__).resolve().parents[3] / "emulators" / "github" / "examples"
REPO = "acme/contract"
MODELS: dict[str, type[BaseModel]] = {
    "git-ref": GitRef,
    "git-commit": GitCommit,
    "pull-request": PullRequest,
    "pull-request-merge-result": MergeResult,
    "issue-comment": IssueComment,
    "pull-request-review-comment": ReviewComment,
    "status": Status,
    "combined-commit-status": CombinedStatus,
}
# Nested objects whose fields must match too: the ones the client reads, plus the users GitHub embeds.
NESTED = {
    "git-ref": ("object",),
    "git-commit": ("author", "committer", "tree", "verification"),
    "pull-request": ("user", "head", "base", "_links"),
    "issue-comment": ("user",),
    "pull-request-review-comment": ("user", "_links"),
    "status": ("creator",),
}
# Fields of an example the emulator may lack, and why; anything not listed must be there.
ALLOWANCES = {
    "pull-request-review-comment": {"in_reply_to_id": "only replies carry it, and the client never replies"},
}


def _call(server: GitHubEmulatorServer, method: str, path: str, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {server.token}", "X-GitHub-Api-Version": "2022-11-28",
               "Accept": "application/vnd.github+json"}
    response = httpx.request(method, f"{server.url}/{path}", json=body, headers=headers, timeout=10)
    assert response.is_success, response.text
    return response.json()


@pytest.fixture(scope="module")
def answers(github_server: GitHubEmulatorServer) -> Iterator[dict[str, Any]]:
    """The emulator's answer to each operation, gathered along one PR's life."""
    github_server.reset()
    main = github_server.seed_repo("contract", {"README.md": "hello\n"}, owner="acme")
    call = functools.partial(_call, github_server)
    got: dict[str, Any] = {"git-ref": call("POST", f"repos/{REPO}/git/refs", {"ref": "refs/heads/topic", "sha": main})}
    blob = call("POST", f"repos/{REPO}/git/blobs", {"content": "hi\n", "encoding": "utf-8"})["sha"]
    tree = call("POST", f"repos/{REPO}/git/trees",
                {"tree": [{"path": "README.md", "mode": "100644", "type": "blob", "sha": blob}]})["sha"]
    got["git-commit"] = call("POST", f"repos/{REPO}/git/commits", {"message": "Hi", "tree": tree, "parents": [main]})
    head = got["git-commit"]["sha"]
    call("PATCH", f"repos/{REPO}/git/refs/heads/topic", {"sha": head, "force": False})
    got["pull-request"] = call("POST", f"repos/{REPO}/pulls", {"title": "Hi", "head": "topic", "base": "main"})
    got["issue-comment"] = call("POST", f"repos/{REPO}/issues/1/comments", {"body": "Me too"})
    got["pull-request-review-comment"] = call("POST", f"repos/{REPO}/pulls/1/comments", {
        "body": "Great stuff!", "commit_id": head, "path": "README.md", "line": 1, "side": "RIGHT"})
    got["status"] = call("POST", f"repos/{REPO}/statuses/{head}", {"state": "success", "context": "ci"})
    got["combined-commit-status"] = call("GET", f"repos/{REPO}/commits/{head}/status")
    got["pull-request-merge-result"] = call("PUT", f"repos/{REPO}/pulls/1/merge", {"merge_method": "squash",
                                                                                  "sha": head})
    yield got
    github_server.reset()


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def test_every_example_has_a_model_and_an_answer() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.json")) == sorted(MODELS)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_models_read_githubs_documented_example(name: str) -> None:
    MODELS[name].model_validate(example(name))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_emulator_answers_with_githubs_fields(name: str, answers: dict[str, Any]) -> None:
    documented, answer = example(name), answers[name]
    allowed = set(ALLOWANCES.get(name, {}))
    assert set(documented) - set(answer) - allowed == set(), f"{name}: fields GitHub sends that the emulator lacks"
    for key in NESTED.get(name, ()):
        assert set(documented[key]) <= set(answer[key]), f"{name}.{key}: fields GitHub sends that the emulator lacks"
    MODELS[name].model_validate(answer)


def test_listed_pull_requests_parse_as_pull_requests(answers: dict[str, Any], github_server: GitHubEmulatorServer
                                                     ) -> None:
    listed = _call(github_server, "GET", f"repos/{REPO}/pulls?state=all")
    assert [PullRequest.model_validate(p).is_merged for p in listed] == [True]
    assert set(listed[0]) < set(answers["pull-request"])  # the list shape is the documented subset


def test_a_closed_pull_request_answers_with_githubs_fields(answers: dict[str, Any],
                                                           github_server: GitHubEmulatorServer) -> None:
    """`PATCH /pulls/{number}` answers with the full pull request, closed and not merged."""
    main = answers["git-commit"]["parents"][0]["sha"]
    _call(github_server, "POST", f"repos/{REPO}/git/refs", {"ref": "refs/heads/drop", "sha": main})
    blob = _call(github_server, "POST", f"repos/{REPO}/git/blobs", {"content": "drop\n", "encoding": "utf-8"})
    tree = _call(github_server, "POST", f"repos/{REPO}/git/trees",
                 {"tree": [{"path": "drop.txt", "mode": "100644", "type": "blob", "sha": blob["sha"]}]})
    commit = _call(github_server, "POST", f"repos/{REPO}/git/commits",
                   {"message": "Drop", "tree": tree["sha"], "parents": [main]})
    _call(github_server, "PATCH", f"repos/{REPO}/git/refs/heads/drop", {"sha": commit["sha"], "force": False})
    opened = _call(github_server, "POST", f"repos/{REPO}/pulls", {"title": "Drop", "head": "drop", "base": "main"})
    closed = _call(github_server, "PATCH", f"repos/{REPO}/pulls/{opened['number']}", {"state": "closed"})
    documented = example("pull-request")
    assert set(documented) - set(closed) == set()
    assert (closed["state"], closed["merged"], closed["merged_at"]) == ("closed", False, None)
    assert closed["closed_at"] and not PullRequest.model_validate(closed).is_merged
