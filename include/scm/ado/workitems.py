"""Closing the loop on the board: move a ticket's work item to a done state with a summary comment.

The comment travels as `System.History` in the same JSON Patch as the state change, which Azure DevOps
records as a discussion comment of that revision. One request therefore moves the state and says why, so a
retried merge step neither loses the comment nor posts it twice (an item already in the state is left as is).
"""

from __future__ import annotations

from include.scm.ado.client import AdoClient
from include.scm.ado.errors import StaleRevision
from include.scm.ado.models import PatchOp, WorkItem

RESOLVED = "Resolved"


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
