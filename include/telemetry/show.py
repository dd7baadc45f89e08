"""A ticket's trace as an indented timeline, read from the embedded span file.

    python -m include.telemetry show acme-12 [--file PATH]

Each line: the offset from the ticket's first span, the span (indented under its parent), its duration, the
process that wrote it and what it carries (a model call's model, tokens, cost and cache hit; a step's outcome).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from include.telemetry.tracing import ticket_root_span_id, ticket_trace_id

SHOWN_ATTRIBUTES = ("event.type", "run.id", "agent.outcome", "model", "tokens.in", "tokens.out", "cost.usd",
                    "cache.hit", "gate.decision", "approver", "error")


def ticket_spans(path: Path, ticket_key: str) -> list[dict[str, Any]]:
    """The ticket's spans in the file, in start order; a torn last line (a writer killed mid-line) is skipped."""
    trace_id = f"{ticket_trace_id(ticket_key):032x}"
    found = []
    if path.is_file():
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("trace_id") == trace_id:
                    found.append(record)
    return sorted(found, key=lambda s: (s["start"], s["end"]))


def timeline(ticket_key: str, spans: list[dict[str, Any]]) -> list[str]:
    if not spans:
        return [f"ticket {ticket_key}: no spans recorded"]
    root = f"{ticket_root_span_id(ticket_key):016x}"
    ids = {s["span_id"] for s in spans}
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in spans:  # a span whose parent was never written (a killed process) hangs under the ticket
        children[s["parent_id"] if s["parent_id"] in ids else root].append(s)
    first = spans[0]["start"]
    total = max(s["end"] for s in spans) - first
    lines = [f"ticket {ticket_key}: {len(spans)} spans over {total:.2f} s (trace {spans[0]['trace_id']})"]

    def walk(parent: str, depth: int) -> None:
        for s in children.get(parent, []):
            mark = " !" if s.get("status") == "error" else ""
            carried = " ".join(f"{k}={s['attributes'][k]}" for k in SHOWN_ATTRIBUTES if k in s.get("attributes", {}))
            lines.append(f"  +{s['start'] - first:8.2f}s {'  ' * depth}{s['name']:<{max(28 - 2 * depth, 8)}} "
                         f"{s['end'] - s['start']:7.2f}s  {s.get('service') or '-'}{mark}  {carried}".rstrip())
            walk(s["span_id"], depth + 1)

    walk(root, 0)
    return lines
