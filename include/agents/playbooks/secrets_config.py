"""Secrets in configuration files leave them line by line, so comments, order and layout stay as they were.

In YAML, JSON, TOML, INI/cfg and properties files the value becomes a `${NAME}` placeholder: the form docker
compose, python-dotenv and most configuration loaders expand (where the project's loader does not, the
variable's line in the example env file says where it is read). In a dotenv file the value is emptied: the file
sets the variable itself, so its key already is the name. A flagged value that is not the value of a key (a
list item, a multi-line string, free text) is left for a person."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Literal

from include.agents.playbooks.secret_values import Flagged, Rewrite, env_var_name, is_flagged

FileKind = Literal["python", "config", "dotenv"]

_STRUCTURED = frozenset({".yaml", ".yml", ".json", ".toml"})
_LINE_BASED = frozenset({".ini", ".cfg", ".conf", ".properties"})
_NEEDS_QUOTES = frozenset({".json", ".toml", ".yaml", ".yml"})

_STRUCTURED_PAIR = re.compile(
    r"""(?P<key>"[^"\n]+"|'[^'\n]+'|[A-Za-z_][\w.-]*)[ \t]*[:=][ \t]*"""
    r"""(?P<value>"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s,#}\]'"][^\s,#}\]]*)"""
)
"""`key: value`, `"key": "value"`, `key = "value"`; several per line in JSON's or YAML's flow style."""

_LINE_PAIR = re.compile(r"^(?P<lead>\s*(?:export\s+)?)(?P<key>[^\s=:#;\[][^=:]*?)\s*[=:]\s*(?P<value>.*?)\s*$")
"""`key = value` (INI, properties) or `KEY=value` (dotenv): one per line, the value runs to its end."""


def kind_of(path: str) -> FileKind | None:
    """How the playbook edits `path`, None when it cannot (the finding is left for a person)."""
    pure = PurePosixPath(path)
    if pure.suffix == ".py":
        return "python"
    if pure.name == ".env" or pure.name.startswith(".env.") or pure.suffix == ".env":
        return "dotenv"
    return "config" if pure.suffix in _STRUCTURED | _LINE_BASED else None


def rewrite_config(path: str, text: str, flagged: Flagged, kind: FileKind) -> Rewrite:
    """Every flagged value of a key in `text` replaced (`${NAME}`, or emptied in a dotenv file)."""
    suffix = PurePosixPath(path).suffix
    pattern = _STRUCTURED_PAIR if kind == "config" and suffix in _STRUCTURED else _LINE_PAIR
    result = Rewrite(text=text)
    lines = text.splitlines(keepends=True)
    moved: set[int] = set()
    for number, line in enumerate(lines, start=1):
        edits: list[tuple[int, int, str]] = []
        for pair in pattern.finditer(line.rstrip("\r\n")):
            key = _unquoted(pair["key"])
            value = _without_comment(pair["value"]) if kind == "dotenv" else pair["value"]
            inner = _unquoted(value)
            if not inner or not is_flagged(inner, flagged.hashes):
                continue
            if kind == "dotenv":
                name, replacement = key, ""
            else:
                name = env_var_name(path, key)
                replacement = _quoted(f"${{{name}}}", value, suffix)
            result.variables.setdefault(name, path)
            edits.append((pair.start("value"), pair.start("value") + len(value), replacement))
        for start, end, replacement in reversed(edits):
            line = line[:start] + replacement + line[end:]
        if edits:
            lines[number - 1] = line
            moved.add(number)
    result.text = "".join(lines)
    result.left = [
        flagged.leftover(path, number, "the flagged value is not the value of a key on its line (a list item, a "
                         "multi-line string or free text): move it by hand")
        for number in sorted(flagged.lines) if number not in moved
    ]
    return result


def _unquoted(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _without_comment(value: str) -> str:
    """A dotenv value without its trailing ` # comment` (quoted values keep their `#`)."""
    if value[:1] in "'\"":
        return value
    return re.split(r"\s+#", value, maxsplit=1)[0]


def _quoted(placeholder: str, original: str, suffix: str) -> str:
    """The placeholder in the original's quotes; quoted anyway where the format needs it for a string."""
    if original[:1] in "'\"" and original[-1:] == original[:1]:
        return f"{original[0]}{placeholder}{original[0]}"
    return f'"{placeholder}"' if suffix in _NEEDS_QUOTES else placeholder
