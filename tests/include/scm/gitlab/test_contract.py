"""Contract between three parties: GitLab's documented sample responses (tests/emulators/gitlab/examples/), our
pydantic models, and the emulator. Every field a model requires must be in the documented sample (else the
model expects something GitLab does not promise) and in the emulator's answer (else the adapter's tests run
against a shape GitLab never sends); the emulator also answers with every top-level field the sample shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from include.scm.gitlab.models import Branch, Commit, CommitStatus, Discussion, GitLabModel, MergeRequest, Note, Project
from tests.emulators.gitlab.server import TOKEN, GitLabEmulator

EXAMPLES = Path(__file__).resolve().parents[3] / "emulators" / "gitlab" / "examples"
MODELS: dict[str, type[GitLabModel]] = {
    "project": Project, "branch": Branch, "commit": Commit, "merge_request": MergeRequest, "note": Note,
    "discussion": Discussion, "commit_status": CommitStatus,
}
NOT_EMULATED = {"project": {"owner"}}  # GitLab sends `owner` for personal projects only; the emulator's are a group's


def missing(model: type[BaseModel], data: dict[str, Any], at: str = "") -> list[str]:
    """Required fields of `model` absent from `data`, following nested models and lists of them."""
    gaps = []
    for name, field in model.model_fields.items():
        if name not in data:
            gaps += [f"{at}{name}"] if field.is_required() else []
            continue
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel) and isinstance(data[name], dict):
            gaps += missing(nested, data[name], f"{at}{name}.")
        item = getattr(nested, "__args__", (None,))[0]
        if isinstance(item, type) and issubclass(item, BaseModel) and isinstance(data[name], list):
            for index, entry in enumerate(data[name]):
                gaps += missing(item, entry, f"{at}{name}[{index}].")
    return gaps


def documented(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


@pytest.fixture
def answers(gitlab_emulator: GitLabEmulator) -> dict[str, dict[str, Any]]:
    """One answer per resource, fetched over plain HTTP (not through the client under test)."""
    gitlab_emulator.seed_project("shop", {"README.md": "# shop\n", "app.py": "print('hello')\n"})
    api = httpx.Client(base_url=f"{gitlab_emulator.api_url}/projects/acme%2Fshop/", headers={"PRIVATE-TOKEN": TOKEN})

    def call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = api.request(method, path, **kwargs)
        assert response.is_success, response.text
        return response.json()

    with api:
        found = {"project": call("GET", f"{gitlab_emulator.api_url}/projects/acme%2Fshop")}
        found["branch"] = call("POST", "repository/branches", params={"branch": "feature", "ref": "main"})
        found["commit"] = call("POST", "repository/commits", json={
            "branch": "feature", "commit_message": "Say bye",
            "actions": [{"action": "update", "file_path": "app.py", "content": "print('bye')\n"}]})
        mr = call("POST", "merge_requests", json={"source_branch": "feature", "target_branch": "main", "title": "Bye"})
        found["merge_request"] = call("GET", f"merge_requests/{mr['iid']}")
        found["note"] = call("POST", f"merge_requests/{mr['iid']}/notes", json={"body": "Looks good"})
        position = {**found["merge_request"]["diff_refs"], "position_type": "text", "old_path": "app.py",
                    "new_path": "app.py", "new_line": 1}
        found["discussion"] = call("POST", f"merge_requests/{mr['iid']}/discussions",
                                   json={"body": "This line", "position": position})
        found["commit_status"] = call("POST", f"statuses/{found['commit']['id']}",
                                      json={"state": "success", "name": "tests", "ref": "feature"})
        found["closed_merge_request"] = call("PUT", f"merge_requests/{mr['iid']}", json={"state_event": "close"})
    return found


@pytest.mark.parametrize("name", MODELS)
def test_our_models_require_only_what_gitlab_documents(name: str) -> None:
    sample = documented(name)
    assert missing(MODELS[name], sample) == []
    MODELS[name].model_validate(sample)


@pytest.mark.parametrize("name", MODELS)
def test_the_emulator_answers_in_the_documented_shape(name: str, answers: dict[str, dict[str, Any]]) -> None:
    answer = answers[name]
    assert missing(MODELS[name], answer) == []
    MODELS[name].model_validate(answer)
    assert set(documented(name)) - set(answer) - NOT_EMULATED.get(name, set()) == set()


def test_a_closed_merge_request_keeps_the_documented_shape(answers: dict[str, dict[str, Any]]) -> None:
    closed = answers["closed_merge_request"]
    assert (closed["state"], closed["merged_at"]) == ("closed", None) and closed["closed_at"]
    assert missing(MergeRequest, closed) == [] and set(documented("merge_request")) - set(closed) == set()
