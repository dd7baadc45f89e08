"""Anchors: each chain's head, written where the database's roles cannot rewrite it.

Deleting the newest rows of a chain leaves a shorter chain that still verifies; an anchor taken before the
deletion does not. `TICKETPILOT_AUDIT_ANCHORS` names the place: an object-store URL (`s3://bucket/audit`, with
versioning or object lock on the bucket, through Airflow's ObjectStoragePath and its connections) in production,
by default the directory `$TICKETPILOT_HOME/audit-anchors` on the embedded platform, where each anchor file is
created exclusively and left read-only. One file per chain and head: `<chain>/<seq, 12 digits>.json`.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from pydantic import BaseModel

from include.settings import get_settings

ANCHORS_ENV = "TICKETPILOT_AUDIT_ANCHORS"


class Anchor(BaseModel):
    chain: str
    seq: int
    hash: str
    row_id: int
    written_at: datetime


def anchor_root(location: str | None = None) -> Any:
    """A pathlib-like root: ObjectStoragePath for a URL, Path for a directory."""
    location = location or os.environ.get(ANCHORS_ENV) or str(get_settings().home / "audit-anchors")
    if "://" in location:
        from airflow.sdk import ObjectStoragePath  # only where an object store is configured

        return ObjectStoragePath(location)
    return Path(location)


def write_anchors(conn: psycopg.Connection, location: str | None = None) -> list[Anchor]:
    """Anchor every chain's head; a head already anchored is left as it is. Returns the anchors written now."""
    root = anchor_root(location)
    written = []
    now = datetime.now(UTC)
    for head in conn.execute("SELECT DISTINCT ON (chain) chain, seq, hash, id FROM ticketpilot.audit_log "
                             "ORDER BY chain, seq DESC").fetchall():
        anchor = Anchor(chain=head["chain"], seq=head["seq"], hash=head["hash"], row_id=head["id"], written_at=now)
        if _write_once(root / anchor.chain, f"{anchor.seq:012d}.json", anchor.model_dump_json()):
            written.append(anchor)
    return written


def latest_anchors(location: str | None = None) -> dict[str, Anchor]:
    """The newest anchor of each chain found at the location."""
    root = anchor_root(location)
    if not root.exists():
        return {}
    latest: dict[str, Anchor] = {}
    for folder in root.iterdir():
        names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".json")) if folder.is_dir() else []
        if names:
            latest[folder.name] = Anchor.model_validate_json((folder / names[-1]).read_text())
    return latest


def _write_once(folder: Any, name: str, body: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if isinstance(target, Path):
        try:
            with target.open("x") as out:
                out.write(body)
        except FileExistsError:
            return False
        target.chmod(0o444)
        return True
    if target.exists():  # an object store: the bucket's versioning or object lock keeps what was there
        return False
    target.write_text(body)
    return True
