"""Secrets in Python modules move to the environment without making the module need them to import.

- A literal evaluated when its function runs becomes `_required_env("NAME")` in place.
- A module-level constant (`API_KEY = "..."`) whose readers in the module all run later is removed: those
  readers call `_required_env("NAME")`, and a module `__getattr__` (PEP 562) answers `module.API_KEY` when
  another module reads it.
- Anything else is left for a person, with the reason: a literal evaluated at import time (a keyword of a
  module-level call, a dict value, a class attribute, a default argument), a constant another module imports
  by name, a literal in an f-string or bound to no name.

`_required_env` raises naming the variable when it is unset or empty: the package imports and its tests run
without the secret, and the code that needs it says what to set. (Measured before: `os.environ["X"]` at
module level made the package fail to import wherever X was unset.)"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from include.agents.playbooks.secret_values import Flagged, Leftover, Rewrite, env_var_name, is_flagged

ACCESSOR = "_required_env"

_ACCESSOR_SOURCE = f'''

def {ACCESSOR}(name: str) -> str:
    """A secret from the environment, read at use so the module imports without it."""
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {{name}} is not set: it holds a secret this code needs")
    return value

'''

_IMPORT_TIME = ("is evaluated when the module is imported (module level, class body or default argument): a "
                "required variable there would make the import fail where it is unset; move the value into the "
                "function that uses it, then read it from the environment")


def rewrite_module(path: str, source: str, flagged: Flagged, imported_by: Callable[[str], str | None]) -> Rewrite:
    """Move every flagged string literal of `source` that can move; `imported_by(name)` says where another
    module imports `name` from this one by name (None when nowhere)."""
    tree = ast.parse(source, filename=path)
    scopes = _Scopes(tree)
    bound = {id(literal): name for literal, name in _bound_literals(tree)}
    result = Rewrite(text=source)
    edits: list[tuple[tuple[int, int], tuple[int, int], str]] = []
    lazy: dict[str, str] = {}
    seen_lines: set[int] = set()
    for literal in scopes.strings:
        if not is_flagged(literal.value, flagged.hashes):
            continue
        seen_lines.update(range(literal.lineno, (literal.end_lineno or literal.lineno) + 1))
        name = bound.get(id(literal))
        reason = _not_movable(literal, name, scopes)
        if reason is None and name is not None and scopes.call_time[id(literal)]:
            variable = env_var_name(path, name)
            edits.append((_start(literal), _end(literal), _call(variable)))
            result.variables.setdefault(variable, path)
            continue
        if reason is None and name is not None:
            reason = _module_constant(tree, scopes, literal, name, imported_by)
        if reason is None and name is not None:
            variable = env_var_name(path, name)
            statement = scopes.statement_of[id(literal)]
            edits.append(((statement.lineno, 0), ((statement.end_lineno or statement.lineno) + 1, 0), ""))
            edits += [(_start(load), _end(load), _call(variable)) for load in scopes.loads.get(name, [])]
            if not _defines_getattr(tree):  # with its own __getattr__, no other module reads it (checked above)
                lazy[name] = variable
            result.variables.setdefault(variable, path)
            continue
        result.left.append(Leftover(path=path, line=literal.lineno,
                                    kinds=sorted(set(flagged.lines.get(literal.lineno, []))),
                                    reason=f"the literal bound to `{name}` {reason}" if name else reason or ""))
    result.left += [flagged.leftover(path, line, "the flagged value is not a whole string literal (a comment, "
                                     "bytes or part of a longer string): move it by hand")
                    for line in sorted(flagged.lines) if line not in seen_lines]
    if edits:
        result.text = _with_helpers(tree, _apply(source, edits), lazy)
    return result


class _Scopes(ast.NodeVisitor):
    """Per node: whether it is evaluated when its function runs (call time) or when the module is imported;
    the string literals (outside f-strings) in source order; module-level Name loads by name; the top-level
    statement each node belongs to."""

    def __init__(self, tree: ast.Module) -> None:
        self.call_time: dict[int, bool] = {}
        self.strings: list[ast.Constant] = []
        self.in_fstring: set[int] = set()
        self.loads: dict[str, list[ast.Name]] = {}
        self.stores: dict[str, int] = {}
        self.statement_of: dict[int, ast.stmt] = {}
        for statement in tree.body:
            self._walk(statement, call_time=False, statement=statement)

    def _store(self, name: str) -> None:
        """Every binding of `name`, parameters and `global` included: a constant bound once can become lazy."""
        self.stores[name] = self.stores.get(name, 0) + 1

    def _walk(self, node: ast.AST, *, call_time: bool, statement: ast.stmt) -> None:
        self.call_time[id(node)] = call_time
        self.statement_of[id(node)] = statement
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            self.strings.append(node)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            self.loads.setdefault(node.id, []).append(node)
        elif isinstance(node, ast.Name):
            self._store(node.id)
        elif isinstance(node, ast.arg):
            self._store(node.arg)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                self._store(name)
        elif isinstance(node, ast.JoinedStr):
            self.in_fstring.update(id(part) for part in node.values if isinstance(part, ast.Constant))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            body = node.body if isinstance(node.body, list) else [node.body]
            outer = [child for child in ast.iter_child_nodes(node) if not any(child is b for b in body)]
            for child in outer:
                self._walk(child, call_time=call_time, statement=statement)
            for child in body:
                self._walk(child, call_time=True, statement=statement)
            return
        for child in ast.iter_child_nodes(node):
            self._walk(child, call_time=call_time, statement=statement)


def _not_movable(literal: ast.Constant, name: str | None, scopes: _Scopes) -> str | None:
    if id(literal) in scopes.in_fstring:
        return "the flagged value is part of an f-string: move it by hand"
    if name is None:
        return ("the flagged value is not assigned to a name, keyword or dict key, so its environment variable "
                "cannot be named safely: move it by hand")
    return None


def _module_constant(tree: ast.Module, scopes: _Scopes, literal: ast.Constant, name: str,
                     imported_by: Callable[[str], str | None]) -> str | None:
    """None when `literal` is a module-level `NAME = "..."` that can become lazy; else why it cannot."""
    statement = scopes.statement_of[id(literal)]
    if not _is_plain_constant(statement, literal, name):
        return _IMPORT_TIME
    if early := [load.lineno for load in scopes.loads.get(name, []) if not scopes.call_time[id(load)]]:
        return f"is read at import time (line {early[0]}): move that use into a function first"
    if scopes.stores.get(name, 0) > 1:
        return "is assigned more than once in the module: move it by hand"
    if _defines_getattr(tree) and (where := imported_by(f".{name}")):
        return (f"is read as a module attribute in {where}, and the module defines __getattr__ already: move it "
                "by hand")
    if where := imported_by(name):
        return f"is imported by name in {where}, which would need the secret at import time: move it by hand"
    if any(other is not statement and other.lineno <= (statement.end_lineno or 0)
           and statement.lineno <= (other.end_lineno or other.lineno) for other in tree.body):
        return "shares its lines with another statement: move it by hand"
    return None


def _defines_getattr(tree: ast.Module) -> bool:
    """A module-level `__getattr__` (PEP 562) of the team's own: ours cannot be added beside it."""
    return any(isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == "__getattr__" for s in tree.body)


def _is_plain_constant(statement: ast.stmt, literal: ast.Constant, name: str) -> bool:
    """`NAME = "..."` or `NAME: str = "..."`, the literal being the whole value."""
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target: ast.expr = statement.targets[0]
    elif isinstance(statement, ast.AnnAssign):
        target = statement.target
    else:
        return False
    return statement.value is literal and isinstance(target, ast.Name) and target.id == name


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


def _call(variable: str) -> str:
    return f'{ACCESSOR}("{variable}")'


def _start(node: ast.expr) -> tuple[int, int]:
    return node.lineno, node.col_offset


def _end(node: ast.expr) -> tuple[int, int]:
    return node.end_lineno or node.lineno, node.end_col_offset or 0


def _apply(source: str, edits: list[tuple[tuple[int, int], tuple[int, int], str]]) -> str:
    """Replace (line, byte column) spans, last first so earlier positions stay valid; ast's columns count
    UTF-8 bytes, hence the byte offsets."""
    data = source.encode("utf-8")
    starts = [0]
    for line in data.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(position: tuple[int, int]) -> int:
        line, column = position
        return len(data) if line > len(starts) - 1 else starts[line - 1] + column

    for start, end, text in sorted(edits, key=lambda e: e[0], reverse=True):
        data = data[: offset(start)] + text.encode("utf-8") + data[offset(end) :]
    return data.decode("utf-8")


def _with_helpers(original: ast.Module, source: str, lazy: dict[str, str]) -> str:
    """The accessor after the module's leading imports (after its docstring when it has none), the PEP 562
    `__getattr__` for lazy constants at the end, and `import os` where the module lacks it."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    if lazy:
        branches = "".join(f'    if name == "{name}":\n        return {_call(variable)}\n'
                           for name, variable in lazy.items())
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(
            "\n\ndef __getattr__(name: str) -> str:\n"
            '    """Constants whose secrets moved to the environment, read when used, not at import."""\n'
            f"{branches}"
            '    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")\n'
        )
    if not any(isinstance(s, ast.FunctionDef) and s.name == ACCESSOR for s in original.body):
        at = _after_preamble(tree)
        lines.insert(at, _ACCESSOR_SOURCE if at else _ACCESSOR_SOURCE.lstrip("\n"))
    rewritten = "".join(lines)
    return rewritten if _imports_os(tree) else _add_import_os(rewritten)


def _after_preamble(tree: ast.Module) -> int:
    """The line index after the docstring, __future__ imports and the imports that follow them."""
    end = 0
    for index, statement in enumerate(tree.body):
        if _is_docstring(statement, first=index == 0) or isinstance(statement, (ast.Import, ast.ImportFrom)):
            end = statement.end_lineno or end
        else:
            break
    return end


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
