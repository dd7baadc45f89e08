"""Forge errors as the caller reads them. Every hosted adapter wraps its public methods so a raw REST failure
becomes a ScmError that says which step failed and what to do about it; only the forge's name, its error type
and its table of status hints differ, so the wrapping lives here once."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import ParamSpec, TypeVar

import httpx

from include.scm.base import ScmError

P = ParamSpec("P")
R = TypeVar("R")


def error_mapper(
    forge: str, raw: type[Exception], hints: Mapping[int, str], *, transport: bool = False
) -> Callable[[str], Callable[[Callable[P, R]], Callable[P, R]]]:
    """A `mapped(action)` decorator factory for one forge: a `raw` error becomes `"<forge>: <action> failed
    (<error>). <hint for its status>"`; with `transport`, a broken connection becomes a ScmError as well.
    Errors already phrased for the caller (other ScmErrors) pass through."""

    def mapped(action: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
        def wrap(fn: Callable[P, R]) -> Callable[P, R]:
            @functools.wraps(fn)
            def inner(*args: P.args, **kwargs: P.kwargs) -> R:
                try:
                    return fn(*args, **kwargs)
                except raw as exc:
                    hint = hints.get(getattr(exc, "status", 0), "")
                    raise ScmError(f"{forge}: {action} failed ({exc}). {hint}".rstrip()) from exc
                except httpx.TransportError as exc:
                    if not transport:
                        raise
                    raise ScmError(f"{forge}: {action} failed: the connection broke ({exc!r}); retry the task") from exc

            return inner

        return wrap

    return mapped
