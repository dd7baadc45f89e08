"""`ticketpilot outbox dead|replay`: the deliveries whose run never started, after the dead-letter DAG's replays
(include/maintenance/dead_letters.py), and a person's replay once the cause is fixed."""

from __future__ import annotations

from include.cli.commands import CliError, _actor
from include.maintenance.dead_letters import abandoned, replay_now
from include.store.db import connect


def outbox_dead() -> str:
    with connect(autocommit=True) as conn:
        letters = abandoned(conn)
    if not letters:
        return "no dead letters: every accepted delivery has started its run or is still being retried"
    return "\n".join([f"{len(letters)} given up after every replay:", *(f"  {d.line()}" for d in letters),
                      "replay one once its cause is fixed: ticketpilot outbox replay ID"])


def outbox_replay(outbox_id: int) -> str:
    with connect(autocommit=True) as conn:
        letter = replay_now(conn, outbox_id, actor=_actor())
    if letter is None:
        raise CliError(f"outbox {outbox_id} is not waiting (unknown, or its run has started): nothing to replay")
    return f"outbox {outbox_id} ({letter.kind} of {letter.ticket_key}) handed to the spawner again"
