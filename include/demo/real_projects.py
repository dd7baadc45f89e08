"""Tenant repositories built from the sdists of real open-source projects, with realistic defects planted.

The demo's `invoicing-service` was written to suit the playbooks; these were not. Each project is its published
sdist (vendored, checksummed in tests/fixtures/sdists/SOURCE.md), imported as one commit with its licence files
and without build artefacts, then one commit per planted defect: an old pin of its runtime dependency, a
credential in a module its tests import, unused imports in one module, a README typo where it has no real one,
and no CI. Projects, plants and the labelled tickets are data (real_projects.yaml).

    build(dest, "prettytable")                        # a git repository at dest, branch main
    provision_project("prettytable", airflow_client)  # tenant `prettytable` with that repository on its forge
    deliveries("prettytable")                         # its tickets as ADO workitem.created deliveries

`python -m include.demo.real_projects DEST [--project NAME]` builds them into DEST/<name>."""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tarfile
import tempfile
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from include.airflow_client import AirflowClient
from include.contracts import ChangeKind
from include.demo.tickets import DemoWorkItem, _delivery
from include.launcher.follow import RunView, decide_over_rest
from include.scm.git import run_git
from include.scm.local import LocalForge
from include.store.db import connect
from include.tenancy.provision import TenantSpec, provision
from model_serving.router.models import RoutingPolicy

DATA = Path(__file__).with_suffix(".yaml")
SDISTS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "sdists"
BRANCH = "main"
IMPORTER = "Dana Whitfield <dana.whitfield@contoso.com>"
APPROVERS = ["alice"]  # the platform's named approver; R3 tickets also need a second person (bob)
REPLAY_MODEL = "replay:real-projects"
CI_FILES = ("azure-pipelines.yml", ".gitlab-ci.yml", ".github/workflows", ".travis.yml", ".circleci")
# Fixed dates: the same sdist and plants give the same commits, so a rebuilt fixture compares equal.
_GIT_DATES = {"GIT_AUTHOR_DATE": "2025-02-03T09:00:00+00:00", "GIT_COMMITTER_DATE": "2025-02-03T09:00:00+00:00"}

# Made-up credentials in the real formats detect-secrets knows (AWS key pair, GitHub token, Slack webhook),
# assembled at runtime so Ticketpilot's own sources hold no secret-shaped literal for scanners to flag.
CREDENTIALS = {
    "aws_access_key_id": "".join(("AK", "IA", "5QX3ZR7LMN2TB4VW")),
    "aws_secret_access_key": "".join(("q8Vt2Lx/9R", "mZ3nWb7Kc4", "Yp+Hd6Js1F", "g5Ua0Qe8Tr")),
    "github_token": "".join(("gh", "p_", "R4nD0mT0k3n", "W1thTh1rty", "S1xCh4r5", "xY7zQ2w")),
    "slack_webhook": "".join(("https://hooks.", "slack.com/services/", "T04R7KQ2M/B06H3N8ZP1L/",
                              "xq7Lm2Rv9T", "z4Nb6Kc8Wd", "3Yh5")),
}

Defect = Literal["ci", "pin", "credential", "lint", "typo"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dependency(_Model):
    """The one runtime dependency: the range the project declares, the old pin planted, the version to bump to."""

    name: str
    declared: str
    pinned: str
    latest: str


class Typo(_Model):
    path: str
    wrong: str
    right: str


class Plant(_Model):
    """One defect, one commit. Exactly one edit: create a file, remove a path, insert `text` after the one line
    equal to `after`, or replace the one occurrence of `replace` by `text`."""

    defect: Defect
    message: str
    path: str
    create: str | None = None
    remove: bool = False
    after: str | None = None
    replace: str | None = None
    text: str = ""

    @model_validator(mode="after")
    def _one_edit(self) -> Plant:
        edits = [self.create is not None, self.remove, self.after is not None, self.replace is not None]
        if sum(edits) != 1:
            raise ValueError(f"plant {self.defect} of {self.path} must make exactly one edit")
        return self


class Expect(_Model):
    """The label: what the platform must do with the ticket without a language model."""

    outcome: Literal["merged", "refused"]
    kind: ChangeKind
    reason: str | None = None  # refused: occurs in the log of the step that stopped the ticket
    touches: list[str] = Field(default_factory=list)  # merged: the ticket's PR changes each of these
    touches_only: bool = False  # merged: and nothing else (a lint or typo ticket is a promise of a small diff)
    present: dict[str, str] = Field(default_factory=dict)  # merged: file -> text on main afterwards
    absent: dict[str, str] = Field(default_factory=dict)
    unchanged: list[str] = Field(default_factory=list)  # files the change must leave exactly as they were
    secret_free: list[str] = Field(default_factory=list)  # detect-secrets finds nothing there afterwards
    lint_free: list[str] = Field(default_factory=list)  # ruff finds no F401 there afterwards

    @model_validator(mode="after")
    def _consistent(self) -> Expect:
        if self.outcome == "refused" and not self.reason:
            raise ValueError("a refused ticket names the reason it is refused with")
        if self.outcome == "merged" and not self.touches:
            raise ValueError("a merged ticket names the files its change touches")
        return self


class TicketSpec(_Model):
    id: int
    type: Literal["Task", "Bug", "User Story"]
    title: str
    description: str = ""
    criteria: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    language: Literal["en", "de"] = "en"
    expect: Expect
    replayed: Expect | None = None
    """The label when the agents' model is the replay of include/demo/replay/real-projects/ (`REPLAY_MODEL`): a
    scripted developer that works the ticket through the tool-using loop. Tickets without it are not scripted."""


class Project(_Model):
    name: str
    version: str
    sdist: str
    sha256: str
    licence: str
    licence_files: list[str]
    homepage: str
    layout: Literal["src", "flat"]
    dependency: Dependency
    typo: Typo
    plants: list[Plant]
    tickets: list[TicketSpec]

    def plant(self, defect: Defect) -> Plant:
        return next(p for p in self.plants if p.defect == defect)


@cache
def catalogue() -> dict[str, Project]:
    raw: dict[str, dict[str, Any]] = yaml.safe_load(DATA.read_text(encoding="utf-8"))["projects"]
    return {name: Project.model_validate({"name": name, **spec}) for name, spec in raw.items()}


def project_names() -> list[str]:
    return list(catalogue())


def project(name: str) -> Project:
    try:
        return catalogue()[name]
    except KeyError:
        raise ValueError(f"no real project {name!r}; known: {', '.join(catalogue())}") from None


# --- building the repository ----------------------------------------------------------------------------------

def build(dest: Path, name: str) -> Path:
    """A fresh git repository at `dest` (missing or empty): the sdist's import, then one commit per plant."""
    spec = project(name)
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty; the fixture is built into a fresh directory")
    dest.mkdir(parents=True, exist_ok=True)
    _unpack(sdist_path(spec), dest)
    run_git("init", "--quiet", f"--initial-branch={BRANCH}", ".", cwd=dest)
    _commit(dest, f"Import {spec.name} {spec.version} from its sdist\n\n{spec.homepage} ({spec.licence}), "
                  f"sdist sha256 {spec.sha256}.")
    for plant in spec.plants:
        _apply(dest, plant)
        _commit(dest, plant.message)
    return dest


def sdist_path(spec: Project) -> Path:
    """The vendored sdist, refused unless it is byte for byte the one recorded."""
    path = SDISTS / spec.sdist
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != spec.sha256:
        raise ValueError(f"{path} has sha256 {digest}, not the recorded {spec.sha256}")
    return path


def _unpack(sdist: Path, dest: Path) -> None:
    """The sdist's files without its top folder and without `*.egg-info` build artefacts (PKG-INFO stays)."""
    with tarfile.open(sdist, "r:gz") as tar:
        members = []
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts
            if len(parts) < 2 or any(part.endswith(".egg-info") for part in parts):
                continue
            member.name = PurePosixPath(*parts[1:]).as_posix()
            members.append(member)
        tar.extractall(dest, members=members, filter="data")


def _apply(repo: Path, plant: Plant) -> None:
    path = repo / plant.path
    text = plant.text
    for key, value in CREDENTIALS.items():
        text = text.replace(f"{{{key}}}", value)
    if plant.remove:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        return
    if plant.create is not None:
        if path.exists():
            raise FileExistsError(f"plant {plant.defect}: {plant.path} exists already")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(plant.create, encoding="utf-8")
        return
    source = path.read_text(encoding="utf-8")
    if plant.replace is not None:
        if source.count(plant.replace) != 1:
            raise ValueError(f"plant {plant.defect}: {plant.replace!r} must occur once in {plant.path}")
        path.write_text(source.replace(plant.replace, text), encoding="utf-8")
        return
    lines = source.splitlines(keepends=True)
    at = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == plant.after]
    if len(at) != 1:
        raise ValueError(f"plant {plant.defect}: the line {plant.after!r} must occur once in {plant.path}")
    lines.insert(at[0] + 1, text)
    path.write_text("".join(lines), encoding="utf-8")


def _commit(repo: Path, message: str) -> None:
    """Everything in the tree, ignored files included: the sdist is what it is (prettytable's .gitignore lists
    its generated _version.py, which the package cannot import without)."""
    run_git("add", "--all", "--force", ".", cwd=repo, identity=IMPORTER)
    run_git("commit", "--quiet", "--no-verify", "-m", message, cwd=repo, identity=IMPORTER, env=_GIT_DATES)


# --- the platform side: tenant, forge repository, tickets -----------------------------------------------------

def project_tenant(name: str, model: str | None = None) -> TenantSpec:
    """One tenant per project, named like it, whose default repository is the project. With `model`, a second
    tenant (`<name>-llm`) whose routing policy names that model, so one platform runs both side by side."""
    tenant = project(name).name if model is None else f"{project(name).name}-llm"
    policy = RoutingPolicy(default_model=model, large_model=model) if model else None
    return TenantSpec(tenant_id=tenant, hook_username=tenant, hook_secret=f"{tenant}-hook-secret",
                      default_repo=name, approvers=APPROVERS, routing_policy=policy)


def publish(forge: LocalForge, repo: str, built: Path) -> str:
    """Put the built repository into the forge as `repo`, whole history included; an existing one is left as it
    is (as LocalForge.create_repo does). Cloned beside its final path and renamed, so it appears whole or not.
    Returns the tip of main."""
    path = forge.repo_path(repo)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{repo}-", dir=path.parent))
        try:
            bare = staging / "repo.git"
            run_git("clone", "--quiet", "--bare", "--no-hardlinks", f"--branch={BRANCH}", "--", str(built),
                    str(bare), cwd=staging)
            run_git("remote", "remove", "origin", cwd=bare)
            bare.rename(path)
        except OSError:
            if not path.exists():  # a concurrent publisher won the rename: fine; anything else is not
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    tip = forge.head(repo, BRANCH)
    if tip is None:
        raise ValueError(f"{path} has no branch {BRANCH}")
    return tip


def provision_project(name: str, airflow: AirflowClient, model: str | None = None) -> LocalForge:
    """Tenant, pool and repository, as `make demo` provisions tenant `demo`; idempotent. `model`: see
    project_tenant."""
    spec = project_tenant(name, model)
    provision(spec, airflow)
    forge = LocalForge.from_settings(spec.tenant_id)
    if not forge.repo_path(name).exists():
        with tempfile.TemporaryDirectory(prefix=f"tp-{name}-") as tmp:
            publish(forge, name, build(Path(tmp) / name, name))
    return forge


def deliveries(name: str) -> list[dict[str, Any]]:
    """The project's tickets as ADO `workitem.created` deliveries, in the shape the demo posts."""
    items = [DemoWorkItem(t.id, t.type, t.title, t.description, tuple(t.criteria), tuple(t.tags))
             for t in project(name).tickets]
    return [_delivery(item, minute) for minute, item in enumerate(items)]


def file_tickets(api_url: str, names: list[str], kinds: set[ChangeKind] | None = None,
                 skip_kinds: frozenset[ChangeKind] = frozenset(), *, ids: set[int] | None = None,
                 model: str | None = None) -> dict[str, RunView]:
    """Post the labelled tickets of `names` (of `kinds`, when given, and not of `skip_kinds`; only `ids`, when
    given) to their tenant's ADO hook (the `model` tenant's, with one), as ADO would; ticket key -> its view."""
    views = {}
    for name in names:
        spec = project_tenant(name, model)
        wanted = {t.id for t in project(name).tickets
                  if (kinds is None or t.expect.kind in kinds) and t.expect.kind not in skip_kinds
                  and (ids is None or t.id in ids)}
        for payload in deliveries(name):
            if payload["resource"]["id"] not in wanted:
                continue
            response = httpx.post(f"{api_url}/ticketpilot/hooks/ado/{spec.tenant_id}", json=payload,
                                  auth=(spec.hook_username, spec.hook_secret), timeout=10)
            if response.status_code != 202:
                raise RuntimeError(f"hook refused {name} ticket: {response.status_code} {response.text}")
            body = response.json()
            views[body["ticket_key"]] = RunView(ticket_key=body["ticket_key"], dag_id=body["dag_id"])
    return views


def decide_as_labelled(api_url: str, view: RunView, outcome: str) -> list[str]:
    """A waiting gate decided the way the ticket's label says: approve what should merge (R3: the named approver
    and a second person), reject the rest, so a ticket that must be refused never merges through a click."""
    with connect(autocommit=True) as conn:
        gate = conn.execute("SELECT risk_class FROM ticketpilot.gate_requests WHERE ticket_key = %s AND run_id = %s",
                            (view.ticket_key, view.run_id)).fetchone()
    if gate is None:  # the sensor has not written its request yet: asked again on the next poll
        return []
    if outcome == "refused":
        decide_over_rest(api_url, view.ticket_key, "alice", "alice", "reject", "the label says it must not merge")
        return ["alice (rejected)"]
    people = ["alice", "bob"] if gate["risk_class"] == "R3" else ["alice"]
    for person in people:
        decide_over_rest(api_url, view.ticket_key, person, person, "approve", "the label says it merges")
    return people


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.demo.real_projects", description=__doc__.split("\n")[0])
    parser.add_argument("dest", type=Path, help="folder to build the repositories in, one subfolder per project")
    parser.add_argument("--project", action="append", choices=project_names(),
                        help="build only this project (repeatable); default: all")
    args = parser.parse_args(argv)
    for name in args.project or project_names():
        print(build(args.dest / name, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
