"""The row hashes of the audit chain, recomputed outside the database that wrote them.

Format 2 (every row since migration 0014) is `ticketpilot.audit_digest` in SQL: SHA-256 over the fields, each
length-prefixed, the time in UTC to the microsecond and the details as jsonb's own text. Format 1 is the
pre-chain rows' JSON digest, kept so that they still verify.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def digest_v2(*, chain: str, seq: int, at: datetime, actor: str, action: str, subject: str, details_text: str,
              prev_hash: str) -> str:
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    fields = (chain, str(seq), stamp, actor, action, subject, details_text, prev_hash)
    return hashlib.sha256("".join(f"{len(f)}:{f}" for f in fields).encode()).hexdigest()


def digest_v1(prev_hash: str, actor: str, action: str, subject: str, details: dict[str, Any]) -> str:
    body = json.dumps([prev_hash, actor, action, subject, details], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()
