"""The rules of the ScmAdapter contract that every forge enforces the same way, so a step behaves alike on
the local forge and on hosted ones: the commit trailer idempotency keys ride in, the four status states, and
the refusals a caller must see before anything is written."""

from __future__ import annotations

from include.scm.base import ScmError

KEY_TRAILER = "Ticketpilot-Key"
STATUS_STATES = ("pending", "succeeded", "failed", "error")


def check_state(state: str) -> None:
    if state not in STATUS_STATES:
        raise ScmError(f"status state {state!r} is not one of {', '.join(STATUS_STATES)}")


def check_strategy(strategy: str, by: str = "") -> None:
    """Only squash merges exist in the contract; `by` names who refuses (" by the local forge")."""
    if strategy != "squash":
        raise ScmError(f"merge strategy {strategy!r} is not supported{by}; use 'squash'")


def check_not_draft(label: str, is_draft: bool) -> None:
    """`label` names the PR as its forge does ("PR 7", "MR !7")."""
    if is_draft:
        raise ScmError(f"{label} is a draft; publish it first, then merge")


def check_not_failing(label: str, statuses: dict[str, str]) -> None:
    failing = sorted(c for c, state in statuses.items() if state in ("failed", "error"))
    if failing:
        raise ScmError(f"{label} has failing statuses: {', '.join(failing)}; fix them, then merge")


def excluded_ref(branch: str, default: str) -> str | None:
    """What a trailer lookup on `branch` skips: a key already merged to the default branch does not count
    as done on a new branch."""
    return None if branch == default else f"refs/heads/{default}"


def check_abandonable(label: str, status: str) -> None:
    """A merged PR stays merged: abandoning it would claim its change never landed."""
    if status == "completed":
        raise ScmError(f"{label} is already merged; a merged PR cannot be abandoned")
