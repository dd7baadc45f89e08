"""Walking the audit chains: the first altered, inserted or deleted row of each, by row id.

Along one chain, `seq` counts 1, 2, 3 … and ids (one sequence for the whole table) grow with it. A row whose hash
does not match its fields was altered; a gap in `seq` is a deleted row; a row that claims an earlier place than
its id allows, repeats a `seq`, or does not link to the row before it was inserted. Deleting the newest rows
leaves a shorter but consistent chain: only an anchor written outside the database (anchors.py) shows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import psycopg
from pydantic import BaseModel

from include.store.audit.anchors import Anchor
from include.store.audit.chain import chain_of
from include.store.audit.digest import GENESIS, digest_v1, digest_v2

_BATCH = 5_000


class Finding(BaseModel):
    chain: str
    kind: Literal["altered", "inserted", "deleted"]
    row_id: int | None
    seq: int
    detail: str

    def __str__(self) -> str:
        where = f"row id {self.row_id}" if self.row_id is not None else "no row"
        return f"{self.chain}: {self.kind} at seq {self.seq} ({where}): {self.detail}"


class Verification(BaseModel):
    rows: dict[str, int]
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def verify(conn: psycopg.Connection, tenant: str | None = None,
           anchors: dict[str, Anchor] | None = None) -> Verification:
    """Every chain (or the tenant's alone), checked row by row and against its newest anchor when given one."""
    if tenant is not None:
        chains = [chain_of(tenant)]
    else:
        chains = [_get(r, "chain") for r in conn.execute(
            "SELECT DISTINCT chain FROM ticketpilot.audit_log ORDER BY chain").fetchall()]
        chains += sorted(set(anchors or {}) - set(chains))  # a chain deleted outright still has its anchor
    rows: dict[str, int] = {}
    findings: list[Finding] = []
    for chain in chains:
        count, finding, by_seq = _walk(conn, chain, anchors.get(chain) if anchors else None)
        rows[chain] = count
        if finding is None and anchors and chain in anchors:
            finding = _against_anchor(chain, anchors[chain], by_seq, count)
        if finding is not None:
            findings.append(finding)
    return Verification(rows=rows, findings=findings)


def _walk(conn: psycopg.Connection, chain: str,
          anchor: Anchor | None) -> tuple[int, Finding | None, tuple[int, str, int] | None]:
    """(rows, the first finding, (id, hash, seq) of the anchored row if reached)."""
    count, prev, finding, anchored = 0, None, None, None
    for row in _rows(conn, chain):
        count += 1
        if finding is None:
            finding = _check(chain, prev, row)
        if anchor is not None and row["seq"] == anchor.seq:
            anchored = (row["id"], row["hash"], row["seq"])
        prev = row
    return count, finding, anchored


def _check(chain: str, prev: dict[str, Any] | None, row: dict[str, Any]) -> Finding | None:
    prev_seq, prev_hash, prev_id = (prev["seq"], prev["hash"], prev["id"]) if prev else (0, GENESIS, 0)
    if row["seq"] <= prev_seq:
        return Finding(chain=chain, kind="inserted", row_id=row["id"], seq=row["seq"],
                       detail=f"a second row at seq {row['seq']} (the first is id {prev_id})")
    if row["id"] < prev_id:
        return Finding(chain=chain, kind="inserted", row_id=prev_id, seq=prev_seq,
                       detail=f"id {prev_id} sits before id {row['id']}, which was written earlier")
    if row["seq"] > prev_seq + 1:
        missing = f"seq {prev_seq + 1}" if row["seq"] == prev_seq + 2 else f"seq {prev_seq + 1}..{row['seq'] - 1}"
        after = f"after id {prev_id}, " if prev else ""
        return Finding(chain=chain, kind="deleted", row_id=row["id"], seq=prev_seq + 1,
                       detail=f"{missing} missing: {after}before id {row['id']}")
    if row["prev_hash"] != prev_hash:
        return Finding(chain=chain, kind="inserted", row_id=row["id"], seq=row["seq"],
                       detail=f"does not link to the row before it (id {prev_id})" if prev else
                       "the chain's first row does not start from the genesis hash")
    if _digest(row) != row["hash"]:
        return Finding(chain=chain, kind="altered", row_id=row["id"], seq=row["seq"],
                       detail="its fields no longer match its hash")
    return None


def _against_anchor(chain: str, anchor: Anchor, anchored: tuple[int, str, int] | None, count: int) -> Finding | None:
    if anchored is None:
        return Finding(chain=chain, kind="deleted", row_id=anchor.row_id, seq=anchor.seq,
                       detail=f"the anchor of {anchor.written_at:%Y-%m-%d %H:%M}Z holds the chain to seq "
                              f"{anchor.seq} (id {anchor.row_id}); the table holds {count} row(s)")
    row_id, row_hash, seq = anchored
    if row_hash != anchor.hash:
        return Finding(chain=chain, kind="altered", row_id=row_id, seq=seq,
                       detail=f"the chain was rewritten: its hash differs from the anchor of "
                              f"{anchor.written_at:%Y-%m-%d %H:%M}Z")
    return None


def _digest(row: dict[str, Any]) -> str:
    if row["fmt"] == 1:
        return digest_v1(row["prev_hash"], row["actor"], row["action"], row["subject"], row["details"])
    return digest_v2(chain=row["chain"], seq=row["seq"], at=row["at"], actor=row["actor"], action=row["action"],
                     subject=row["subject"], details_text=row["details_text"], prev_hash=row["prev_hash"])


def _rows(conn: psycopg.Connection, chain: str) -> Iterator[dict[str, Any]]:
    """The chain in (seq, id) order, a batch at a time (keyset), so a long log does not sit in memory."""
    after = (0, 0)
    columns = ("id", "seq", "at", "actor", "action", "subject", "details", "details_text", "prev_hash", "hash",
               "fmt", "chain")
    while True:
        batch = conn.execute(
            "SELECT id, seq, at, actor, action, subject, details, details::text AS details_text, prev_hash, hash, "
            "fmt, chain FROM ticketpilot.audit_log WHERE chain = %s AND (seq, id) > (%s, %s) "
            "ORDER BY seq, id LIMIT %s", (chain, *after, _BATCH)).fetchall()
        for raw in batch:
            yield raw if isinstance(raw, dict) else dict(zip(columns, raw, strict=True))
        if len(batch) < _BATCH:
            return
        last = batch[-1]
        after = (_get(last, "seq", 1), _get(last, "id", 0))


def _get(row: Any, key: str, index: int = 0) -> Any:
    return row[key] if isinstance(row, dict) else row[index]
