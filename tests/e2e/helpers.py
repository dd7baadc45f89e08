"""Small helpers the e2e tests share: build ADO deliveries, post them, follow runs."""

from __future__ import annotations

import copy
import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx

from include.demo.tickets import demo_deliveries
from include.launcher.follow import RunView, approve_over_rest, follow
from include.launcher.platform import Platform
from include.store.db import connect
from include.tenancy.provision import TenantSpec

ACME = TenantSpec(tenant_id="acme", hook_username="acme", hook_secret="acme-secret", default_repo="acme-main",
                  approvers=["alice"])
"""The tenant of the unhappy-path tests: each of its tickets works on a repository of its own."""
UPDATED_SAMPLE = Path(__file__).parents[1] / "fixtures" / "ado-events" / "workitem.updated.json"


def delivery_like(index: int, *, workitem_id: int, title: str | None = None, tags: str | None = None) -> dict[str, Any]:
    """A copy of demo delivery `index` with a new event id and work item id (and optionally title/tags)."""
    payload = copy.deepcopy(demo_deliveries()[index])
    payload["id"] = str(uuid.uuid4())
    payload["resource"]["id"] = workitem_id
    if title is not None:
        payload["resource"]["fields"]["System.Title"] = title
    if tags is not None:
        payload["resource"]["fields"]["System.Tags"] = tags
    return payload


def update_of(created: dict[str, Any], *, rev: int, **fields: Any) -> dict[str, Any]:
    """A `workitem.updated` delivery (shape of the recorded sample) moving `created`'s work item to `rev`."""
    payload = json.loads(UPDATED_SAMPLE.read_text())
    item = created["resource"]
    payload["id"] = str(uuid.uuid4())
    payload["resourceContainers"] = created["resourceContainers"]
    payload["resource"]["workItemId"] = item["id"]
    payload["resource"]["rev"] = rev
    payload["resource"]["fields"] = {k: {"newValue": v} for k, v in fields.items()}
    payload["resource"]["revision"] = {"id": item["id"], "rev": rev, "fields": {**item["fields"], **fields},
                                       "url": item.get("url", "")}
    return payload


def merged_times(git_log: str, pr_id: int) -> int:
    """How many commits carry the trailer of PR `pr_id` (whole lines: PR 1 must not count PR 10's)."""
    return len(re.findall(rf"^Ticketpilot-PR: {pr_id}$", git_log, flags=re.MULTILINE))


def post(platform: Platform, tenant: str, payload: dict[str, Any], auth: tuple[str, str]) -> httpx.Response:
    return httpx.post(f"{platform.api_url}/ticketpilot/hooks/ado/{tenant}", json=payload, auth=auth, timeout=10)


def run_to_end(platform: Platform, views: dict[str, RunView], approvers: dict[str, list[str]] | None = None,
               timeout: float = 900) -> dict[str, RunView]:
    """Follow runs; when a gate waits, approve as the people listed for that ticket (password = name)."""
    approvers = approvers or {}

    def on_gate(view: RunView) -> list[str]:
        people = approvers.get(view.ticket_key, [])
        for person in people:
            approve_over_rest(platform.api_url, view.ticket_key, person, person, "approved in e2e")
        return people

    with platform.client() as client:
        return follow(client, views, on_gate=on_gate, timeout=timeout)


def acme_prs(repo: str) -> list[dict[str, Any]]:
    """Tenant acme's PRs on `repo`, oldest first."""
    with connect(autocommit=True) as conn:
        return conn.execute("SELECT pr_id, source_branch, status, merge_commit FROM ticketpilot.pull_requests "
                            "WHERE tenant_id = 'acme' AND repo = %s ORDER BY pr_id", (repo,)).fetchall()
