"""Dead letters of the outbox: rows the spawner gave up on, replayed with backoff, then handed to a person.

The spawner retries a row up to `MAX_ATTEMPTS` times (an Airflow that does not answer, a DAG not parsed in
time), then leaves it. Such a row is a ticket accepted with 202 that never started, so it is not dropped: the
dead-letter DAG replays it by resetting its attempts and waking the spawner, at once the first time, then after
`FIRST_BACKOFF` × 4ⁿ (30 min, 2 h), `REPLAY_LIMIT` times in all. A row still failing after that gets
`gave_up_at` and is reported once, loudly; `replay_now` (the `ticketpilot outbox replay` command) starts it over
once a person has fixed the cause. Replays are safe to repeat: every spawner call is idempotent (deterministic
run ids), so a replayed row that had in fact half-succeeded converges to one run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from pydantic import BaseModel, ConfigDict

from include.spawner.service import CHANNEL, MAX_ATTEMPTS
from include.store import audit

REPLAY_LIMIT = 3
FIRST_BACKOFF = timedelta(minutes=30)
BATCH = 50


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    ticket_key: str
    dag_id: str
    kind: str
    rev: int
    replays: int
    last_error: str | None
    accepted_at: datetime

    def line(self) -> str:
        return (f"outbox {self.id} ({self.kind} of {self.ticket_key} rev {self.rev}, accepted "
                f"{self.accepted_at:%Y-%m-%d %H:%M} UTC, {self.replays} replay(s)): {self.last_error or 'no error'}")


class ReplayReport(BaseModel):
    replayed: list[DeadLetter]
    gave_up: list[DeadLetter]
    """Given up in this run: each is reported once."""
    waiting: int
    """Dead rows whose next replay is not due yet."""
    abandoned: int
    """Rows given up in earlier runs, still waiting for a person."""


def next_replay_due(replays: int, replayed_at: datetime | None) -> datetime | None:
    """When a dead row may be replayed again: at once the first time, then after 30 min, 2 h, ..."""
    if replays == 0 or replayed_at is None:
        return None
    return replayed_at + FIRST_BACKOFF * 4 ** (replays - 1)


def replay(conn: psycopg.Connection, *, actor: str, now: datetime | None = None, batch: int = BATCH,
           limit: int = REPLAY_LIMIT) -> ReplayReport:
    """One round: replay the due dead rows (at most `batch`), give up on those past `limit`, wake the spawner."""
    now = now or datetime.now(UTC)
    replayed: list[DeadLetter] = []
    gave_up: list[DeadLetter] = []
    waiting = 0
    with conn.transaction():
        rows = conn.execute(
            "SELECT id, ticket_key, dag_id, kind, rev, replays, replayed_at, last_error, accepted_at "
            "FROM ticketpilot.outbox WHERE processed_at IS NULL AND gave_up_at IS NULL AND attempts >= %s "
            "ORDER BY id FOR UPDATE SKIP LOCKED", (MAX_ATTEMPTS,)).fetchall()
        for row in rows:
            letter = DeadLetter.model_validate(row)
            if row["replays"] >= limit:
                conn.execute("UPDATE ticketpilot.outbox SET gave_up_at = %s WHERE id = %s", (now, row["id"]))
                gave_up.append(letter)
                continue
            due = next_replay_due(row["replays"], row["replayed_at"])
            if (due is not None and due > now) or len(replayed) >= batch:
                waiting += 1
                continue
            conn.execute("UPDATE ticketpilot.outbox SET attempts = 0, replays = replays + 1, replayed_at = %s "
                         "WHERE id = %s", (now, row["id"]))
            replayed.append(letter)
        if replayed:
            conn.execute(f"NOTIFY {CHANNEL}")  # delivered at commit: the spawner takes the rows at once
        if replayed or gave_up:
            audit.append(conn, actor=actor, action="outbox.dead_letters", subject="outbox",
                         details={"replayed": [d.id for d in replayed], "gave_up": [d.id for d in gave_up]})
        abandoned = conn.execute("SELECT count(*) AS n FROM ticketpilot.outbox WHERE processed_at IS NULL AND "
                                 "gave_up_at IS NOT NULL").fetchone()["n"] - len(gave_up)
    return ReplayReport(replayed=replayed, gave_up=gave_up, waiting=waiting, abandoned=abandoned)


def abandoned(conn: psycopg.Connection) -> list[DeadLetter]:
    """Rows given up on and not replayed by a person since."""
    rows = conn.execute("SELECT id, ticket_key, dag_id, kind, rev, replays, last_error, accepted_at "
                        "FROM ticketpilot.outbox WHERE processed_at IS NULL AND gave_up_at IS NOT NULL "
                        "ORDER BY id").fetchall()
    return [DeadLetter.model_validate(r) for r in rows]


def replay_now(conn: psycopg.Connection, outbox_id: int, *, actor: str) -> DeadLetter | None:
    """A person's replay of one row (after fixing the cause): its count starts over. None when the row is not
    waiting (unknown, or already processed)."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE ticketpilot.outbox SET attempts = 0, replays = 0, replayed_at = NULL, gave_up_at = NULL "
            "WHERE id = %s AND processed_at IS NULL RETURNING id, ticket_key, dag_id, kind, rev, replays, "
            "last_error, accepted_at", (outbox_id,)).fetchone()
        if row is None:
            return None
        conn.execute(f"NOTIFY {CHANNEL}")
        audit.append(conn, actor=actor, action="outbox.replay", subject=str(outbox_id),
                     details={"ticket_key": row["ticket_key"], "kind": row["kind"]})
    return DeadLetter.model_validate(row)
