"""Four eyes: the person who asked for a change may not approve it, whatever the channel (REST, the Airflow UI,
an ADO pull-request vote); they may still reject it. R3's named approver plus a second, distinct person is the
gate's count (`gates._status`); this rule is about who counts at all.

People arrive under several names: trackers send `Name <email>` (ADO), a login (GitHub) or a display name
(GitLab); approvers are Airflow users or directory people with a sign-in e-mail. Two identities are the same
person when they share a display name, an e-mail, or when one is the other's e-mail local part (an Airflow
username `jdoe` against `jdoe@corp.example`). Matching loosely refuses a legitimate approver at worst, and
that errs the safe way.
"""

from __future__ import annotations

import re

_ANGLE = re.compile(r"^\s*(?P<name>[^<]*?)\s*<(?P<email>[^>]+)>\s*$")


def identities(who: str, email: str | None = None) -> set[str]:
    """Every form under which `who` (and the e-mail the directory knows for them) may appear, lower-cased."""
    found: set[str] = set()
    for value in (who, email or ""):
        value = value.strip()
        if not value:
            continue
        match = _ANGLE.match(value)
        parts = [match["name"], match["email"]] if match else [value]
        for part in (p.strip().lower() for p in parts if p and p.strip()):
            found.add(part)
            if "@" in part:
                found.add(part.split("@", 1)[0])
    return found


def requester_refusal(approver: str, requested_by: str, approver_email: str | None = None) -> str | None:
    """Why `approver` may not approve a ticket `requested_by` asked for, or None."""
    if not requested_by.strip():
        return None
    if identities(approver, approver_email) & identities(requested_by):
        return (f"four eyes: {approver} requested this ticket ({requested_by}) and may not approve it; another "
                "approver must")
    return None
