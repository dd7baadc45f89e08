"""Read a Team Directory file (YAML, or JSON, which is YAML too) into the typed contract, with errors that name
the file and the place in it."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from include.contracts.directory import Directory


class DirectoryError(ValueError):
    """The file cannot be used as it is; the message says where and why."""


def load(path: Path) -> Directory:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DirectoryError(f"cannot read the directory {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise DirectoryError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise DirectoryError(f"{path} must hold a mapping with `version`, `people`, `teams` and `tenants`")
    try:
        return Directory.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise DirectoryError(f"{path}: {where}: {first['msg']}{more}") from exc
