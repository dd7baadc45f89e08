"""Append-only, hash-chained audit log: each row's hash covers the previous row's hash."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import psycopg

_GENESIS = "0" * 64
_CHAIN_LOCK = 727_002


def _digest(prev_hash: str, actor: str, action: str, subject: str, details: dict[str, Any]) -> str:
    body = json.dumps([prev_hash, actor, action, subject, details], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def append(conn: psycopg.Connection, *, actor: str, action: str, subject: str, details: dict[str, Any]) -> str:
    """Append one row inside the caller's transaction; returns its hash."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_CHAIN_LOCK,))
    row = conn.execute("SELECT hash FROM ticketpilot.audit_log ORDER BY id DESC LIMIT 1").fetchone()
    prev = _value(row, "hash") if row else _GENESIS
    digest = _digest(prev, actor, action, subject, details)
    conn.execute(
        "INSERT INTO ticketpilot.audit_log (actor, action, subject, details, prev_hash, hash) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (actor, action, subject, json.dumps(details, default=str), prev, digest),
    )
    return digest


def verify(conn: psycopg.Connection) -> int:
    """Walk the chain; return the number of rows checked or raise ValueError at the first broken link."""
    prev = _GENESIS
    count = 0
    for row in conn.execute(
        "SELECT id, actor, action, subject, details, prev_hash, hash FROM ticketpilot.audit_log ORDER BY id"
    ):
        r = row if isinstance(row, dict) else dict(zip(("id", "actor", "action", "subject", "details",
                                                        "prev_hash", "hash"), row, strict=True))
        expected = _digest(prev, r["actor"], r["action"], r["subject"], r["details"])
        if r["prev_hash"] != prev or r["hash"] != expected:
            raise ValueError(f"audit chain broken at row {r['id']}")
        prev = r["hash"]
        count += 1
    return count


def _value(row: Any, key: str) -> Any:
    return row[key] if isinstance(row, dict) else row[0]
