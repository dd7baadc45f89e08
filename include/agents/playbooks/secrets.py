"""SECRET_REMEDIATION: every value detect-secrets flags moves to an environment variable where the playbook
can edit its file safely, and everything else is reported for a person instead of aborting the change.

- Python modules (include.agents.playbooks.secrets_python): read at use through a small accessor, so the
  package still imports and its tests still run where the variable is unset.
- YAML, JSON, TOML, INI/cfg/properties and dotenv files (include.agents.playbooks.secrets_config).
- Test files and other file types: left for a person (a test's credential is a fixture; text files have no
  place a variable could be read from).

The variables are documented in the repository's example env file (`.env.example`, or the `.env.sample` /
`.env.template` it already has): the file developers copy to run the project, read by docker compose and
python-dotenv, and it lands in the same PR as the change, in repositories without a README too. (The Docs step
adds the README's Configuration section after the merge, from `env_vars_in`.)

The rescan of the changed files must find only what was left for a person. The leaked value is still in git
history: the PR says so, rotating the key is for people."""

from __future__ import annotations

import ast
import logging
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, Field

from include.agents import tools
from include.agents.errors import AgentError
from include.agents.file_roles import file_role
from include.agents.playbooks.secret_values import Flagged, Leftover, Rewrite
from include.agents.playbooks.secrets_config import kind_of, rewrite_config
from include.agents.playbooks.secrets_python import ACCESSOR, rewrite_module
from include.agents.workspace import repo_files
from include.contracts import Ticket
from include.scm import FileChange

log = logging.getLogger(__name__)

EXAMPLE_ENV_FILES = (".env.example", ".env.sample", ".env.template")
"""Where a repository documents its environment, in the order they are looked for; the first is created."""

_EXAMPLE_HEADER = ("# Environment variables this project reads. Never commit their values: set them in your\n"
                   "# secret store, or copy this file to .env for local runs.\n")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Remediation(BaseModel):
    """What the playbook did: the files to commit, each variable with the file that reads it, and the flagged
    secrets it left for a person with the reason."""

    changes: list[FileChange] = Field(default_factory=list)
    variables: dict[str, str] = Field(default_factory=dict)
    left_for_people: list[Leftover] = Field(default_factory=list)


def apply(ticket: Ticket, workdir: Path) -> list[FileChange]:
    """The playbook contract: the files to commit."""
    return remediation(ticket, workdir).changes


def remediation(ticket: Ticket, workdir: Path) -> Remediation:
    """The remediation with what it left for a person, which Dev also lists in the PR for the approvers. What
    it could not move is logged for the task log; when it could move nothing at all, the step fails with that
    list rather than open an empty PR."""
    done = remediate(workdir)
    for item in done.left_for_people:
        log.warning("secret left for a person: %s:%d (%s): %s", item.path, item.line, ", ".join(item.kinds),
                    item.reason)
    if done.left_for_people and not done.changes:
        raise AgentError("detect-secrets found secrets the playbook cannot move safely; move them by hand: "
                         + "; ".join(f"{i.path}:{i.line}: {i.reason}" for i in done.left_for_people))
    return done


def remediate(workdir: Path) -> Remediation:
    """Rewrite the flagged files in `workdir` in place and return what changed; the rescan of the changed files
    must find nothing but what was left for a person."""
    flagged = _flagged(tools.secret_findings(workdir))
    done = Remediation()
    texts: dict[str, str] = {}
    for path, hits in sorted(flagged.items()):
        text = (workdir / path).read_text(encoding="utf-8", errors="replace")
        rewrite = _rewrite(path, text, hits, workdir)
        done.left_for_people += rewrite.left
        for name, reader in rewrite.variables.items():
            done.variables.setdefault(name, reader)
        if rewrite.text != text:
            texts[path] = rewrite.text
    if texts:
        example, content = _documented(workdir, texts, done.variables)
        texts[example] = content
    for path, text in sorted(texts.items()):
        (workdir / path).write_text(text, encoding="utf-8")
        done.changes.append(FileChange(path=path, content=text))
    _check_rescan(workdir, sorted(texts), flagged, done.left_for_people)
    return done


def env_vars_read(source: str) -> list[str]:
    """Names a module reads with os.environ[...], os.environ.get(...), os.getenv(...) or the playbook's
    accessor, in order."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        key: ast.expr | None = None
        if isinstance(node, ast.Subscript) and _is_environ(node.value):
            key = node.slice
        elif isinstance(node, ast.Call) and node.args and _is_env_getter(node.func):
            key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value not in names:
            names.append(key.value)
    return names


def env_vars_in(workdir: Path, paths: list[str]) -> dict[str, str]:
    """Environment variable → the first of `paths` that reads it: a Python module's lookups, or a
    configuration file's `${NAME}` placeholders (what the playbook writes there)."""
    found: dict[str, str] = {}
    for path in paths:
        target = workdir / path
        if not target.is_file():
            continue
        if path.endswith(".py"):
            names = env_vars_read(target.read_text(encoding="utf-8"))
        elif kind_of(path) == "config":
            names = _placeholders(target.read_text(encoding="utf-8"))
        else:
            continue
        for name in names:
            found.setdefault(name, path)
    return found


def _flagged(findings: list[dict[str, Any]]) -> dict[str, Flagged]:
    lines: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    hashes: dict[str, set[str]] = defaultdict(set)
    for finding in findings:
        lines[finding["filename"]][finding["line_number"]].append(finding["type"])
        hashes[finding["filename"]].add(finding["hashed_secret"])
    return {path: Flagged(dict(by_line), frozenset(hashes[path])) for path, by_line in lines.items()}


def _rewrite(path: str, text: str, flagged: Flagged, workdir: Path) -> Rewrite:
    """The handler for `path`'s kind, or everything left for a person with the reason."""
    kind = kind_of(path)
    if file_role(path) == "test":
        reason = ("a test file: its credential is a fixture, and moving it would break the tests; if it is real, "
                  "rotate it and put an obvious fake in its place")
    elif kind is None:
        reason = f"a {PurePosixPath(path).suffix or 'suffix-less'} file, which the playbook cannot edit safely"
    elif kind == "python":
        return rewrite_module(path, text, flagged, _importers(workdir, path))
    else:
        return rewrite_config(path, text, flagged, kind)
    return Rewrite(text=text, left=[flagged.leftover(path, line, reason) for line in sorted(flagged.lines)])


def _importers(workdir: Path, module_path: str) -> Callable[[str], str | None]:
    """`name` → 'other.py:line' where another module imports `name` from `module_path` by name, else None;
    `.name` → where another module reads an attribute called `name` (of any object: an over-approximation that
    can only make the playbook more careful)."""
    stem = PurePosixPath(module_path).stem
    where: dict[str, str] = {}
    for path in repo_files(workdir):
        if not path.endswith(".py") or path == module_path:
            continue
        try:
            tree = ast.parse((workdir / path).read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").rpartition(".")[2] == stem:
                for alias in node.names:
                    where.setdefault(alias.name, f"{path}:{node.lineno}")
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                where.setdefault(f".{node.attr}", f"{path}:{node.lineno}")
    return where.get


def _documented(workdir: Path, texts: dict[str, str], variables: dict[str, str]) -> tuple[str, str]:
    """The example env file with a line per variable it lacks, each after a comment naming its reader."""
    example = next((name for name in EXAMPLE_ENV_FILES if name in texts or (workdir / name).is_file()),
                   EXAMPLE_ENV_FILES[0])
    current = texts.get(example)
    if current is None:
        current = (workdir / example).read_text(encoding="utf-8") if (workdir / example).is_file() else _EXAMPLE_HEADER
    present = {line.split("=", 1)[0].removeprefix("export ").strip() for line in current.splitlines() if "=" in line}
    added = [f"\n# read by {reader}{_how(reader, name)}\n{name}=\n"
             for name, reader in sorted(variables.items()) if name not in present]
    if current and not current.endswith("\n"):
        current += "\n"
    return example, current + "".join(added)


def _how(reader: str, name: str) -> str:
    if reader.endswith(".py"):
        return "; required when used, not at import"
    if kind_of(reader) == "config":
        return f" as ${{{name}}}; its loader must expand environment variables"
    return ""


def _check_rescan(workdir: Path, changed: list[str], flagged: dict[str, Flagged], left: list[Leftover]) -> None:
    """Only values left for a person may remain in the changed files. Matched per file by hash, since the
    rewrite moved line numbers: a file with something left for a person may keep its flagged values."""
    if not changed:
        return
    kept = {(item.path, h) for item in left for h in flagged[item.path].hashes}
    remaining = [f for f in tools.secret_findings(workdir, changed) if (f["filename"], f["hashed_secret"]) not in kept]
    if remaining:
        where = ", ".join(f"{f['filename']}:{f['line_number']} ({f['type']})" for f in remaining)
        raise AgentError(f"secrets remain after remediation: {where}")


def _placeholders(text: str) -> list[str]:
    names: list[str] = []
    for name in _PLACEHOLDER.findall(text):
        if name not in names:
            names.append(name)
    return names


def _is_environ(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _is_env_getter(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return (func.attr == "get" and _is_environ(func.value)) or func.attr == "getenv"
    return isinstance(func, ast.Name) and func.id in ("getenv", ACCESSOR)
