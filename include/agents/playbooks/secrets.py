"""SECRET_REMEDIATION: every string literal detect-secrets flags in a Python module becomes an
environment lookup named after the variable it was assigned to, then the whole copy is scanned again and
must be clean. Only literals bound to a name can be rewritten without guessing; anything else is reported.

The leaked value is still in git history: the PR says so, rotating the key is for people."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path, PurePosixPath

from include.agents import tools
from include.agents.errors import AgentError
from include.contracts import Ticket
from include.scm import FileChange

_NOT_A_PACKAGE = frozenset({"src", "lib", "app"})


def apply(ticket: Ticket, workdir: Path) -> list[FileChange]:
    return remediate(workdir)


def remediate(workdir: Path) -> list[FileChange]:
    """Rewrite the flagged modules in place and return them; the rescan of the copy must find nothing."""
    flagged: dict[str, set[int]] = defaultdict(set)
    for finding in tools.secret_findings(workdir):
        flagged[finding["filename"]].add(finding["line_number"])
    unfixable = sorted(path for path in flagged if not path.endswith(".py"))
    if unfixable:
        raise AgentError(
            f"detect-secrets found secrets outside Python modules ({', '.join(unfixable)}); "
            "only Python string literals are moved to the environment automatically"
        )
    changes = []
    for path, lines in sorted(flagged.items()):
        target = workdir / path
        rewritten = rewrite_module(path, target.read_text(encoding="utf-8"), lines)
        target.write_text(rewritten, encoding="utf-8")
        changes.append(FileChange(path=path, content=rewritten))
    remaining = tools.secret_findings(workdir)
    if remaining:
        where = ", ".join(f"{f['filename']}:{f['line_number']} ({f['type']})" for f in remaining)
        raise AgentError(f"secrets remain after remediation: {where}")
    return changes


def env_var_name(path: str, variable: str) -> str:
    """`invoicing/config.py` + `API_KEY` → `INVOICING_API_KEY`: prefixed by the package so two services'
    keys never share a name in one deployment; deterministic so a rerun picks the same name."""
    parts = [p for p in PurePosixPath(path).parts[:-1] if p not in _NOT_A_PACKAGE]
    prefix = _upper_snake(parts[0] if parts else PurePosixPath(path).stem)
    name = _upper_snake(variable)
    return name if name.startswith(f"{prefix}_") else f"{prefix}_{name}"


def env_vars_read(source: str) -> list[str]:
    """Names a module reads with os.environ[...], os.environ.get(...) or os.getenv(...), in order."""
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
    """Environment variable → the first of `paths` (Python modules in `workdir`) that reads it."""
    found: dict[str, str] = {}
    for path in paths:
        if path.endswith(".py") and (workdir / path).is_file():
            for name in env_vars_read((workdir / path).read_text(encoding="utf-8")):
                found.setdefault(name, path)
    return found


def rewrite_module(path: str, source: str, lines: set[int]) -> str:
    """Replace the string literals on `lines` with `os.environ["<NAME>"]` and import os if needed."""
    tree = ast.parse(source, filename=path)
    bound = _bound_literals(tree)
    edits: list[tuple[ast.Constant, str]] = []
    for line in sorted(lines):
        hits = [(node, name) for node, name in bound if node.lineno <= line <= (node.end_lineno or node.lineno)]
        if not hits:
            raise AgentError(
                f"{path}:{line}: the flagged secret is not a string literal assigned to a name, keyword or "
                "dict key, so its environment variable cannot be named safely; move it by hand"
            )
        edits.extend((node, f'os.environ["{env_var_name(path, name)}"]') for node, name in hits)
    encoded = [line.encode("utf-8") for line in source.splitlines(keepends=True)]
    for node, replacement in sorted(set(edits), key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        head = encoded[first][: node.col_offset]
        tail = encoded[last][node.end_col_offset :]
        encoded[first : last + 1] = [head + replacement.encode("utf-8") + tail]
    rewritten = b"".join(encoded).decode("utf-8")
    return rewritten if _imports_os(tree) else _add_import_os(rewritten)


def _bound_literals(tree: ast.Module) -> list[tuple[ast.Constant, str]]:
    """String literals with the name they are bound to: assignment target, keyword or dict key."""
    found: list[tuple[ast.Constant, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and (literal := _str_literal(node.value)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if name := next((n for n in map(_target_name, targets) if n), None):
                found.append((literal, name))
        elif isinstance(node, ast.keyword) and node.arg and (literal := _str_literal(node.value)):
            found.append((literal, node.arg))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (key_literal := _str_literal(key)) and (literal := _str_literal(value)):
                    found.append((literal, key_literal.value))
    return found


def _target_name(target: ast.expr) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return None


def _str_literal(node: ast.expr | None) -> ast.Constant | None:
    return node if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_environ(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _is_env_getter(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return (func.attr == "get" and _is_environ(func.value)) or func.attr == "getenv"
    return isinstance(func, ast.Name) and func.id == "getenv"


def _imports_os(tree: ast.Module) -> bool:
    return any(
        isinstance(stmt, ast.Import) and any(alias.name == "os" and alias.asname is None for alias in stmt.names)
        for stmt in tree.body
    )


def _add_import_os(source: str) -> str:
    """`import os` after the docstring and __future__ imports: with the other imports if the module has
    some, else in a block of its own."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    preamble_end = 0
    rest = list(tree.body)
    while rest and (_is_docstring(rest[0], first=preamble_end == 0) or _is_future(rest[0])):
        preamble_end = rest.pop(0).end_lineno or 0
    if rest and isinstance(rest[0], (ast.Import, ast.ImportFrom)):
        lines.insert(rest[0].lineno - 1, "import os\n")
    elif preamble_end:
        lines[preamble_end:preamble_end] = ["\n", "import os\n"]
    else:
        start = 0
        while start < len(lines) and re.match(r"#(!|.*coding[:=])", lines[start]):
            start += 1
        lines[start:start] = ["import os\n", "\n"]
    return "".join(lines)


def _is_docstring(stmt: ast.stmt, *, first: bool) -> bool:
    return first and isinstance(stmt, ast.Expr) and _str_literal(stmt.value) is not None


def _is_future(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"


def _upper_snake(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()
