"""Closing the loop on the board: move a ticket's work item to a done state with a summary comment, or
comment on it alone when a ticket ends without a merge.

The resolving comment travels as `System.History` in the same JSON Patch as the state change, which Azure DevOps
records as a discussion comment of that revision. One request therefore moves the state and says why, so a
retried merge step neither loses the comment nor posts it twice (an item already in the state is left as is).
"""

from __future__ import annotations

import html
import re

from include.scm.ado.client import AdoClient
from include.scm.ado.errors import StaleRevision
from include.scm.ado.models import PatchOp, WorkItem, WorkItemComment
from include.scm.base import ScmError

RESOLVED = "Resolved"
KEY_FOOTER = "Ticketpilot key: {}"
_TAG = re.compile(r"<[^>]*>")


def resolve(client: AdoClient, workitem_id: int, comment: str, state: str = RESOLVED) -> WorkItem:
    """Set `System.State` to `state` with `comment`, guarded by the `/rev` test. Someone editing the item
    between our read and write answers 412: re-read and try once more, then let the StaleRevision surface."""
    ops = [PatchOp(op="add", path="/fields/System.State", value=state),
           PatchOp(op="add", path="/fields/System.History", value=comment)]
    try:
        return _move(client, workitem_id, ops, state)
    except StaleRevision:
        return _move(client, workitem_id, ops, state)


def _move(client: AdoClient, workitem_id: int, ops: list[PatchOp], state: str) -> WorkItem:
    item = client.get_work_item(workitem_id)
    if item.fields.get("System.State") == state:
        return item
    return client.update_work_item(workitem_id, item.rev, ops)


def comment(client: AdoClient, workitem_id: int, text: str, idempotency_key: str) -> WorkItemComment:
    """Post `text` (HTML) with a small footer naming the key, unless a comment already carries that footer;
    the item's state is left alone. The footer is visible text, not a hidden HTML comment as on pull requests:
    the board sanitises comment HTML and may drop markup it does not show, but it keeps text."""
    if not idempotency_key.strip() or "\n" in idempotency_key:
        raise ScmError(f"work item comment key {idempotency_key!r} must be one non-empty line")
    footer = KEY_FOOTER.format(idempotency_key)
    carried = re.compile(re.escape(" ".join(footer.split())) + r"(?!\S)")
    for existing in client.work_item_comments(workitem_id):
        if carried.search(" ".join(html.unescape(_TAG.sub(" ", existing.text)).split())):
            return existing
    return client.add_comment(workitem_id, f"{text}<p><small>{html.escape(footer)}</small></p>")
