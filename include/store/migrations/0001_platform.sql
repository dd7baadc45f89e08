-- Platform schema: tenants, tickets, hook deliveries, outbox, gates, audit, local forge PRs.
CREATE SCHEMA IF NOT EXISTS ticketpilot;

CREATE TABLE ticketpilot.tenants (
    tenant_id       text PRIMARY KEY,
    hook_username   text NOT NULL,
    hook_secret_sha256 text NOT NULL,
    scm_kind        text NOT NULL DEFAULT 'local',
    default_repo    text NOT NULL,
    approvers       text[] NOT NULL DEFAULT '{}',
    ado_org         text,
    ado_project     text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ticketpilot.tickets (
    ticket_key      text PRIMARY KEY,
    tenant_id       text NOT NULL REFERENCES ticketpilot.tenants (tenant_id),
    workitem_id     integer NOT NULL,
    rev             integer NOT NULL,
    dag_id          text NOT NULL UNIQUE,
    state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    ticket          jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    closed_at       timestamptz,
    UNIQUE (tenant_id, workitem_id)
);
CREATE INDEX tickets_open_idx ON ticketpilot.tickets (state, closed_at);

-- One row per accepted delivery: the dedupe key is (tenant, event id, work item rev).
CREATE TABLE ticketpilot.deliveries (
    tenant_id       text NOT NULL,
    event_id        text NOT NULL,
    rev             integer NOT NULL,
    ticket_key      text NOT NULL,
    event_type      text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id, rev)
);

-- Transactional outbox: written with the ticket, consumed by the spawner.
CREATE TABLE ticketpilot.outbox (
    id              bigserial PRIMARY KEY,
    ticket_key      text NOT NULL,
    dag_id          text NOT NULL,
    rev             integer NOT NULL,
    kind            text NOT NULL DEFAULT 'spawn',
    accepted_at     timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz,
    run_id          text,
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    UNIQUE (ticket_key, rev, kind)
);
CREATE INDEX outbox_pending_idx ON ticketpilot.outbox (id) WHERE processed_at IS NULL;

CREATE TABLE ticketpilot.gate_requests (
    ticket_key      text NOT NULL,
    run_id          text NOT NULL,
    risk_class      text NOT NULL,
    required_approvals integer NOT NULL,
    named_approvers text[] NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_at    timestamptz NOT NULL DEFAULT now(),
    decided_at      timestamptz,
    PRIMARY KEY (ticket_key, run_id)
);

CREATE TABLE ticketpilot.gate_decisions (
    id              bigserial PRIMARY KEY,
    ticket_key      text NOT NULL,
    run_id          text NOT NULL,
    approver        text NOT NULL,
    decision        text NOT NULL CHECK (decision IN ('approve', 'reject')),
    comment         text NOT NULL DEFAULT '',
    source          text NOT NULL,
    decided_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ticket_key, run_id, approver)
);

-- Append-only, hash-chained audit log.
CREATE TABLE ticketpilot.audit_log (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    actor           text NOT NULL,
    action          text NOT NULL,
    subject         text NOT NULL,
    details         jsonb NOT NULL DEFAULT '{}',
    prev_hash       text NOT NULL,
    hash            text NOT NULL UNIQUE
);
CREATE FUNCTION ticketpilot.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON ticketpilot.audit_log
    FOR EACH ROW EXECUTE FUNCTION ticketpilot.audit_log_append_only();

-- Pull requests of the local forge (the embedded SCM default).
CREATE TABLE ticketpilot.pull_requests (
    pr_id           bigserial PRIMARY KEY,
    tenant_id       text NOT NULL,
    repo            text NOT NULL,
    source_branch   text NOT NULL,
    target_branch   text NOT NULL,
    title           text NOT NULL,
    description     text NOT NULL DEFAULT '',
    is_draft        boolean NOT NULL DEFAULT true,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'abandoned')),
    workitem_id     integer,
    merge_commit    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz
);
-- At most one active PR per source branch: the idempotency guard for "open PR".
CREATE UNIQUE INDEX pull_requests_one_active ON ticketpilot.pull_requests (tenant_id, repo, source_branch)
    WHERE status = 'active';

CREATE TABLE ticketpilot.pr_comments (
    comment_id      bigserial PRIMARY KEY,
    pr_id           bigint NOT NULL REFERENCES ticketpilot.pull_requests (pr_id),
    author          text NOT NULL,
    body            text NOT NULL,
    path            text,
    line            integer,
    idempotency_key text NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ticketpilot.pr_statuses (
    pr_id           bigint NOT NULL REFERENCES ticketpilot.pull_requests (pr_id),
    context         text NOT NULL,
    state           text NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed', 'error')),
    description     text NOT NULL DEFAULT '',
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pr_id, context)
);
