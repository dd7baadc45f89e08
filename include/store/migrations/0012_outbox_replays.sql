-- Dead letters: an outbox row the spawner gave up on (MAX_ATTEMPTS failed attempts, include/spawner/service.py)
-- is replayed by the dead-letter DAG with backoff (include/maintenance/dead_letters.py), a few times at most;
-- then `gave_up_at` is set and it waits for a person (`ticketpilot outbox replay`).
ALTER TABLE ticketpilot.outbox
    ADD COLUMN replays     integer NOT NULL DEFAULT 0,
    ADD COLUMN replayed_at timestamptz,
    ADD COLUMN gave_up_at  timestamptz;
CREATE INDEX outbox_dead_idx ON ticketpilot.outbox (id) WHERE processed_at IS NULL AND gave_up_at IS NULL;
