"""Each forge's CI file rendered from a BuildPlan: valid YAML with the structure its forge runs, read back as
the test command the Test step runs; and the playbook's rule for when it writes the file at all."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from include.agents.ci import BuildPlan
from include.agents.errors import AgentError
from include.agents.playbooks import pipeline as template
from tests.include.agents.conftest import write_files

PLANS = {
    "python": BuildPlan(toolchain="python", version="3.10", test_command="python -m tox -e py",
                        install=["python -m pip install --upgrade pip", 'python -m pip install -e ".[test]"']),
    "node": BuildPlan(toolchain="node", version="18", install=["npm ci"], test_command="npm test"),
    "dotnet": BuildPlan(toolchain="dotnet", version="8.0.x", install=["dotnet restore Shop.sln"],
                        test_command="dotnet test --no-restore Shop.sln"),
}
AZURE_TASKS = {"python": ("UsePythonVersion@0", {"versionSpec": "3.10"}),
               "node": ("NodeTool@0", {"versionSpec": "18.x"}),
               "dotnet": ("UseDotNet@2", {"packageType": "sdk", "version": "8.0.x"})}
GITHUB_SETUP = {"python": ("actions/setup-python@v5", {"python-version": "3.10"}),
                "node": ("actions/setup-node@v4", {"node-version": "18"}),
                "dotnet": ("actions/setup-dotnet@v4", {"dotnet-version": "8.0.x"})}
GITLAB_IMAGES = {"python": "python:3.10", "node": "node:18", "dotnet": "mcr.microsoft.com/dotnet/sdk:8.0"}
BRANCH = "yes"
"""A default branch YAML would read as a boolean unless the template quotes it."""


def rendered(toolchain: str, forge: str) -> tuple[str, dict[str, Any]]:
    text = template.render(PLANS[toolchain], forge, BRANCH)
    assert text.splitlines()[0] == template.MARKER and template.owned(text)
    return text, yaml.safe_load(text)


@pytest.mark.parametrize("toolchain", list(PLANS))
@pytest.mark.parametrize("forge", ["ado", "local"])
def test_azure_pipelines_structure(forge: str, toolchain: str) -> None:
    _, document = rendered(toolchain, forge)
    plan = PLANS[toolchain]
    assert document["trigger"] == document["pr"] == {"branches": {"include": [BRANCH]}}
    assert document["pool"] == {"vmImage": "ubuntu-latest"}
    setup, install, test = document["steps"]
    assert (setup["task"], setup["inputs"]) == AZURE_TASKS[toolchain]
    assert install["script"].splitlines() == plan.install
    assert test == {"script": plan.test_command, "displayName": "Run tests"}


@pytest.mark.parametrize("toolchain", list(PLANS))
def test_github_actions_structure(toolchain: str) -> None:
    _, document = rendered(toolchain, "github")
    plan = PLANS[toolchain]
    assert document["on"] == {"push": {"branches": [BRANCH]}, "pull_request": {"branches": [BRANCH]}}
    assert document["permissions"] == {"contents": "read"}
    [job] = document["jobs"].values()
    checkout, setup, install, test = job["steps"]
    assert job["runs-on"] == "ubuntu-latest" and checkout == {"uses": "actions/checkout@v4"}
    assert (setup["uses"], setup["with"]) == GITHUB_SETUP[toolchain]
    assert install["run"].splitlines() == plan.install
    assert test == {"name": "Run tests", "run": plan.test_command}


@pytest.mark.parametrize("toolchain", list(PLANS))
def test_gitlab_ci_structure(toolchain: str) -> None:
    _, document = rendered(toolchain, "gitlab")
    plan = PLANS[toolchain]
    assert document["workflow"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'},
                                             {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    assert document["test"] == {"image": GITLAB_IMAGES[toolchain], "before_script": plan.install,
                                "script": [plan.test_command]}


@pytest.mark.parametrize("forge", ["local", "github", "gitlab"])
def test_the_test_step_reads_back_the_command_ci_runs(tmp_path: Path, forge: str) -> None:
    text = template.render(PLANS["python"], forge, "main")
    write_files(tmp_path, {template.forge_ci(forge).path: text})
    assert template.declared_test_command(tmp_path) == shlex.split(PLANS["python"].test_command)


@pytest.mark.parametrize(("files", "expected"), [
    ({".github/workflows/ci.yml": "on: push\njobs:\n  t:\n    steps:\n      - run: |\n          pip install tox\n"
                                  "          tox -e py311 -- -x\n"}, ["tox", "-e", "py311", "--", "-x"]),
    ({".gitlab-ci.yml": "stages: [test]\nunit:\n  before_script: [pip install -r requirements.txt]\n"
                        "  script:\n    - echo start\n    - python -m pytest tests\n"},
     ["python", "-m", "pytest", "tests"]),
    ({"azure-pipelines.yml": "stages:\n  - stage: t\n    jobs:\n      - job: j\n        steps:\n"
                             "          - bash: make test\n"}, ["make", "test"]),
    ({"azure-pipelines.yml": "steps:\n  - script: echo hello\n"}, None),
    ({"azure-pipelines.yml": "steps: [\n"}, None),
], ids=["github-team-workflow", "gitlab-team-job", "azure-stages", "no-test-line", "broken-yaml"])
def test_declared_test_command_in_a_team_file(
    tmp_path: Path, files: dict[str, str], expected: list[str] | None
) -> None:
    assert template.declared_test_command(write_files(tmp_path, files)) == expected


REQUIREMENTS = {"requirements.txt": "pytest\n"}
TEAM_WORKFLOW = {".github/workflows/release.yml": "on: push\njobs: {}\n"}
TEAM_GITLAB = {".gitlab-ci.yml": "test:\n  script: [pytest]\n"}
V1 = {"azure-pipelines.yml": "# Generated by Ticketpilot pipeline agent (template v1)\nsteps: []\n"}


@pytest.mark.parametrize(("forge", "files", "asked", "action"), [
    ("local", {}, False, "created"),
    ("local", {}, True, "created"),
    ("local", V1, False, "kept_existing"),
    ("local", V1, True, "updated"),
    ("local", {"azure-pipelines.yml": "steps: []\n"}, True, "kept_user_owned"),
    ("ado", {".azure-pipelines/ci.yml": "steps: []\n"}, False, "kept_existing"),
    ("ado", {".azure-pipelines/ci.yml": "steps: []\n"}, True, "created"),
    ("github", TEAM_WORKFLOW, False, "kept_existing"),
    ("github", TEAM_WORKFLOW, True, "created"),
    ("github", V1, False, "created"),
    ("gitlab", TEAM_GITLAB, False, "kept_existing"),
    ("gitlab", TEAM_GITLAB, True, "kept_user_owned"),
])
def test_ci_is_written_only_when_asked_or_missing(
    tmp_path: Path, forge: str, files: dict[str, str], asked: bool, action: str
) -> None:
    workdir = write_files(tmp_path, {**REQUIREMENTS, **files})
    planned, change = template.plan(workdir, "main", forge, asked=asked)
    assert planned == action
    if action in ("created", "updated"):
        assert change is not None and change.path == template.forge_ci(forge).path
        assert template.owned(change.content or "")
        write_files(workdir, {change.path: change.content or ""})
        assert template.plan(workdir, "main", forge, asked=asked) == ("unchanged", None)
        assert template.plan(workdir, "main", forge, asked=not asked) == ("unchanged", None)
    else:
        assert change is None


def test_an_unknown_forge_is_named(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="no CI template for SCM kind 'bitbucket'; known: ado, local, github"):
        template.plan(tmp_path, "main", "bitbucket")
