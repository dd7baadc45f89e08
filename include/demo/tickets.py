"""The four demo work items as Azure DevOps `workitem.created` service-hook deliveries, in the exact shape
ADO posts (see shared/reference/ado-events/workitem.created.json), one per defect of the demo repository.

Everything is deterministic (event GUIDs are uuid5 of the work item and revision, dates are fixed), so
posting the deliveries twice is a replay the ingress must recognise, not four new tickets."""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass
from typing import Any

ORG_URL = "https://dev.azure.com/contoso"
PROJECT = "Invoicing"
REQUESTER = "Dana Whitfield <dana.whitfield@contoso.com>"
_EVENT_NAMESPACE = uuid.UUID("6f1c2a0e-4b7d-5c3e-9a8f-1d2e3f405162")
_COLLECTION_ID = "c12d0eb8-e382-443b-9f9c-c52cba5014c2"
_ACCOUNT_ID = "f844ec47-a9db-4511-8281-8b63f4eaf94e"
_PROJECT_ID = "be9b3917-87e6-42a4-a549-2bc06a7a878f"


@dataclass(frozen=True)
class DemoWorkItem:
    workitem_id: int
    work_item_type: str
    title: str
    description: str
    acceptance_criteria: tuple[str, ...]
    tags: tuple[str, ...]


DEMO_WORK_ITEMS = (
    DemoWorkItem(
        101,
        "Task",
        "Add a CI pipeline for invoicing-service",
        "invoicing-service has no CI: pull requests are merged without running the tests. Add an Azure "
        "Pipelines definition that installs the requirements and runs the test suite on every push and "
        "pull request to main.",
        (
            "azure-pipelines.yml exists at the repository root",
            "The pipeline installs requirements.txt and runs python -m pytest -q",
            "The test suite passes",
        ),
        ("ci", "invoicing"),
    ),
    DemoWorkItem(
        102,
        "Task",
        "Bump requests to 2.32.3",
        "requirements.txt pins requests 2.31.0, which is affected by CVE-2024-35195 (a Session that once "
        "used verify=False keeps skipping certificate checks for the same host). Upgrade requests to 2.32.3.",
        ("requirements.txt pins requests==2.32.3", "The test suite passes"),
        ("dependencies", "invoicing"),
    ),
    DemoWorkItem(
        103,
        "Bug",
        "Remove leaked Stripe API key from config",
        "invoicing/config.py contains a live Stripe secret key in source control. Read it from the "
        "environment instead; the leaked key is rotated separately by the payments team.",
        (
            "No secret literal remains in invoicing/config.py",
            "The key is read from an environment variable",
            "detect-secrets reports no findings",
        ),
        ("security", "invoicing"),
    ),
    DemoWorkItem(
        104,
        "Task",
        "Fix lint: remove unused imports",
        "ruff reports unused imports (F401) in invoicing/totals.py.",
        ("ruff check reports no F401 findings", "The test suite passes"),
        ("lint", "invoicing"),
    ),
)

LOOP_WORK_ITEM = DemoWorkItem(
    105,
    "User Story",
    "Invoices take an optional discount",
    "Sales wants to grant a fixed discount per invoice. An invoice should accept an optional discount_cents "
    "(default 0) that comes off the subtotal before tax is computed.",
    ("Invoice accepts discount_cents, default 0", "The discount comes off the subtotal before tax",
     "A test covers the discount", "The test suite passes"),
    ("invoicing",),
)
"""Filed by `make demo` only when a model that works in the tool-using loop is configured: no playbook covers it,
so Dev's loop makes the change (include/demo/replay/demo.yaml scripts it for `replay:demo`)."""


def demo_deliveries(with_loop_ticket: bool = False) -> list[dict[str, Any]]:
    """One `workitem.created` delivery per demo work item, ids 101–104 (and 105), revision 1."""
    items = [*DEMO_WORK_ITEMS, *([LOOP_WORK_ITEM] if with_loop_ticket else [])]
    return [_delivery(item, minute) for minute, item in enumerate(items)]


def _delivery(item: DemoWorkItem, minute: int) -> dict[str, Any]:
    created = f"2025-01-20T09:{minute:02d}:00.000Z"
    name = REQUESTER.split(" <", 1)[0]
    web_url = f"{ORG_URL}/{PROJECT}/_workitems/edit/{item.workitem_id}"
    api_url = f"{ORG_URL}/_apis/wit/workItems/{item.workitem_id}"
    label = f"{item.work_item_type} #{item.workitem_id}"
    details = [f"Area: {PROJECT}", f"Iteration: {PROJECT}\\Sprint 1", "State: New", "Assigned to: ", "Comment: "]
    fields: dict[str, Any] = {
        "System.AreaPath": PROJECT,
        "System.TeamProject": PROJECT,
        "System.IterationPath": f"{PROJECT}\\Sprint 1",
        "System.WorkItemType": item.work_item_type,
        "System.State": "New",
        "System.Reason": "New",
        "System.CreatedDate": created,
        "System.CreatedBy": REQUESTER,
        "System.ChangedDate": created,
        "System.ChangedBy": REQUESTER,
        "System.Title": item.title,
        "System.Description": f"<div>{html.escape(item.description)}</div>",
        "Microsoft.VSTS.Common.AcceptanceCriteria": "<ul>"
        + "".join(f"<li>{html.escape(c)}</li>" for c in item.acceptance_criteria)
        + "</ul>",
        "System.Tags": "; ".join(item.tags),
        "WEF_EB329F44FE5F4A94ACB1DA153FDF38BA_Kanban.Column": "New",
    }
    if item.work_item_type == "Bug":
        fields["Microsoft.VSTS.Common.Severity"] = "2 - High"
    return {
        "id": str(uuid.uuid5(_EVENT_NAMESPACE, f"workitem.created/{item.workitem_id}/rev/1")),
        "eventType": "workitem.created",
        "publisherId": "tfs",
        "scope": "all",
        "message": {
            "text": f"{label} ({item.title}) created by {name}.\r\n({web_url})",
            "html": f'<a href="{web_url}">{label}</a> ({html.escape(item.title)}) created by {name}.',
            "markdown": f"[{label}]({web_url}) ({item.title}) created by {name}.",
        },
        "detailedMessage": {
            "text": f"{label} ({item.title}) created by {name}.\r\n({web_url})\r\n\r\n"
            + "".join(f"- {d}\r\n" for d in details),
            "html": f'<a href="{web_url}">{label}</a> ({html.escape(item.title)}) created by {name}.<ul>\r\n'
            + "\r\n".join(f"<li>{d}</li>" for d in details)
            + "</ul>",
            "markdown": f"[{label}]({web_url}) ({item.title}) created by {name}.\r\n\r\n"
            + "".join(f"* {d}\r\n" for d in details),
        },
        "resource": {
            "id": item.workitem_id,
            "rev": 1,
            "fields": fields,
            "_links": {
                "self": {"href": api_url},
                "html": {"href": web_url},
                "workItemUpdates": {"href": f"{api_url}/updates"},
                "workItemRevisions": {"href": f"{api_url}/revisions"},
                "workItemType": {"href": f"{ORG_URL}/_apis/wit/{_PROJECT_ID}/workItemTypes/{item.work_item_type}"},
                "fields": {"href": f"{ORG_URL}/_apis/wit/fields"},
            },
            "url": api_url,
        },
        "resourceVersion": "1.0",
        "resourceContainers": {
            "collection": {"id": _COLLECTION_ID},
            "account": {"id": _ACCOUNT_ID},
            "project": {"id": _PROJECT_ID},
        },
        "createdDate": created,
    }
