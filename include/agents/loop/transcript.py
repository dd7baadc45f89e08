"""A loop's transcript: each model turn (model, tokens, cost, cache hit) and each tool call with its result.

Written as JSON lines while the loop runs, so a step that dies leaves what it did; every text is redacted
first (the router's PII and secret rules), because transcripts outlive the run and are read by people. Each
entry is logged too, so the Airflow task log shows the loop as it happens; the file's path goes into the
step's result and the PR description.
"""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from include.settings import get_settings
from model_serving.router.redaction import Redactor

log = logging.getLogger(__name__)

ENTRY_CHARS = 2000
"""A tool result or argument kept in the transcript: the start and the end of longer ones."""


class TranscriptEntry(BaseModel):
    at: float = Field(default_factory=time.time)
    kind: Literal["model", "tool", "stop"]
    name: str
    """The model's spec for a turn, the tool's name for a call, the reason's kind for a stop."""
    args: str = ""
    result: str = ""
    ok: bool = True
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal = Decimal(0)
    cache_hit: bool = False
    duration_s: float = 0.0


class Transcript:
    """Appends redacted entries to `path` and keeps the running totals the loop's bounds read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.entries: list[TranscriptEntry] = []
        self._redactor = Redactor()

    @classmethod
    def for_step(cls, tenant: str, ticket_key: str, step: str) -> Transcript:
        """The step's transcript; a retried step appends to what its earlier attempts wrote."""
        return cls(path_for(tenant, ticket_key, step))

    @property
    def tokens(self) -> int:
        return sum(e.tokens_in + e.tokens_out for e in self.entries)

    @property
    def cost_usd(self) -> Decimal:
        return sum((e.cost_usd for e in self.entries), Decimal(0))

    @property
    def model_turns(self) -> int:
        return sum(e.kind == "model" for e in self.entries)

    def add(self, kind: Literal["model", "tool", "stop"], name: str, **fields: Any) -> TranscriptEntry:
        for text_field in ("args", "result"):
            if text_field in fields:
                fields[text_field] = self._redactor.redact(_clip(str(fields[text_field])))
        entry = TranscriptEntry(kind=kind, name=name, **fields)
        self.entries.append(entry)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(entry.model_dump_json() + "\n")
        if kind == "model":
            log.info("loop: %s answered (%d in, %d out tokens, $%s%s)", name, entry.tokens_in, entry.tokens_out,
                     entry.cost_usd, ", cached" if entry.cache_hit else "")
        else:
            log.info("loop: %s %s(%s) -> %s", "stop" if kind == "stop" else "tool", name, entry.args[:200],
                     " ".join(entry.result.split())[:300])
        return entry

    @staticmethod
    def read(path: Path) -> list[TranscriptEntry]:
        return [TranscriptEntry.model_validate(json.loads(line))
                for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def path_for(tenant: str, ticket_key: str, step: str) -> Path:
    return get_settings().home / "transcripts" / tenant / ticket_key / f"{step}.jsonl"


def _clip(text: str) -> str:
    if len(text) <= ENTRY_CHARS:
        return text
    half = ENTRY_CHARS // 2
    return f"{text[:half]} ... [{len(text) - ENTRY_CHARS} characters cut] ... {text[-half:]}"
