-- ADO events beyond work-item snapshots, per-tenant hook hardening, and what the spawner did per outbox row.

-- An optional second hook secret sent as a custom header (ADO subscriptions allow `httpHeaders`), kept as a
-- SHA-256 like the Basic secret; and the tenant's own hook rate limit (NULL: the ingress defaults).
ALTER TABLE ticketpilot.tenants
    ADD COLUMN hook_header_sha256 text CHECK (hook_header_sha256 ~ '^[0-9a-f]{64}$'),
    ADD COLUMN hook_rate_per_s double precision CHECK (hook_rate_per_s > 0),
    ADD COLUMN hook_burst integer CHECK (hook_burst >= 1);

-- workitem.commented: a ticket's comment history. Comments never decide gates.
CREATE TABLE ticketpilot.ticket_comments (
    tenant_id       text NOT NULL REFERENCES ticketpilot.tenants (tenant_id),
    event_id        text NOT NULL,
    ticket_key      text NOT NULL,
    rev             integer NOT NULL,
    author          text NOT NULL,
    body            text NOT NULL,
    commented_at    timestamptz,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX ticket_comments_ticket_idx ON ticketpilot.ticket_comments (ticket_key, rev);

-- build.complete for a ticket's branch (refs/heads/tp/<work item>-...): the pipeline result of its PR.
CREATE TABLE ticketpilot.ticket_builds (
    tenant_id       text NOT NULL REFERENCES ticketpilot.tenants (tenant_id),
    build_id        integer NOT NULL,
    ticket_key      text NOT NULL,
    branch          text NOT NULL,
    pull_request_id integer,
    result          text NOT NULL,
    build_number    text NOT NULL DEFAULT '',
    definition      text NOT NULL DEFAULT '',
    url             text NOT NULL DEFAULT '',
    finished_at     timestamptz,
    event_id        text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, build_id)
);
CREATE INDEX ticket_builds_ticket_idx ON ticketpilot.ticket_builds (ticket_key, finished_at);

-- Outbox rows may be done without a run (a replan with nothing to replace, a cancel): say what was done.
ALTER TABLE ticketpilot.outbox ADD COLUMN outcome text;
