-- Model router: versioned model prices (platform-wide) and the per-tenant ledger schema.
--
-- Prices are public list prices, the same for every tenant, so they live in the platform schema.
-- Calls, budgets, cache and router events are tenant data: one schema per tenant (DESIGN §5), created by
-- ticketpilot.ensure_tenant_ledger(tenant). A later migration that changes those tables redefines the
-- function and loops over ticketpilot.tenant_schemas to upgrade the schemas that already exist.

CREATE TABLE ticketpilot.model_prices (
    model               text NOT NULL,           -- "provider:model", as in routing policies
    valid_from          timestamptz NOT NULL,
    input_usd_per_mtok  numeric(12, 6) NOT NULL CHECK (input_usd_per_mtok >= 0),
    output_usd_per_mtok numeric(12, 6) NOT NULL CHECK (output_usd_per_mtok >= 0),
    PRIMARY KEY (model, valid_from)
);

CREATE TABLE ticketpilot.tenant_schemas (
    tenant_id       text PRIMARY KEY,
    schema_name     text NOT NULL UNIQUE,
    ledger_version  integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION ticketpilot.ensure_tenant_ledger(tenant text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s text := 'tenant_' || replace(tenant, '-', '_');  -- tenant ids never contain '_', so this is injective
BEGIN
    IF tenant !~ '^[a-z][a-z0-9-]{0,30}[a-z0-9]$' THEN
        RAISE EXCEPTION 'invalid tenant id %: lower-case letters, digits and dashes only', tenant;
    END IF;
    -- Concurrent first calls of one tenant would race on CREATE ... IF NOT EXISTS: serialise them.
    PERFORM pg_advisory_xact_lock(727003, hashtext(tenant));
    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', s);
    EXECUTE format($t$
        CREATE TABLE IF NOT EXISTS %I.calls (
            id                 bigserial PRIMARY KEY,
            idempotency_key    text UNIQUE,          -- NULL for failed attempts: each is its own event
            tenant             text NOT NULL,
            repo               text NOT NULL DEFAULT '',
            ticket_key         text NOT NULL DEFAULT '',
            step               text NOT NULL DEFAULT '',
            prompt_version     text NOT NULL DEFAULT '',
            provider           text NOT NULL,
            model              text NOT NULL,
            status             text NOT NULL CHECK (status IN ('ok', 'error')),
            error              text NOT NULL DEFAULT '',
            tokens_in          integer NOT NULL DEFAULT 0,
            tokens_out         integer NOT NULL DEFAULT 0,
            cost_usd           numeric(14, 8) NOT NULL DEFAULT 0,
            latency_ms         integer NOT NULL DEFAULT 0,
            cache_hit          boolean NOT NULL DEFAULT false,
            injection_findings jsonb NOT NULL DEFAULT '[]',
            created_at         timestamptz NOT NULL DEFAULT now()
        )$t$, s);
    EXECUTE format('CREATE INDEX IF NOT EXISTS calls_model_idx ON %I.calls (model, id)', s);
    EXECUTE format('CREATE INDEX IF NOT EXISTS calls_ticket_idx ON %I.calls (ticket_key, created_at)', s);
    EXECUTE format('CREATE INDEX IF NOT EXISTS calls_repo_idx ON %I.calls (repo, created_at)', s);
    EXECUTE format($t$
        CREATE TABLE IF NOT EXISTS %I.budgets (
            scope       text NOT NULL CHECK (scope IN ('tenant', 'repo', 'ticket')),
            scope_key   text NOT NULL,            -- tenant id, repo name or ticket key
            limit_usd   numeric(14, 6) NOT NULL CHECK (limit_usd > 0),
            period      text NOT NULL DEFAULT 'total' CHECK (period IN ('total', 'month')),
            updated_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (scope, scope_key)
        )$t$, s);
    EXECUTE format($t$
        CREATE TABLE IF NOT EXISTS %I.events (
            id          bigserial PRIMARY KEY,
            kind        text NOT NULL,            -- budget.threshold, canary.rollback
            subject     text NOT NULL,
            details     jsonb NOT NULL DEFAULT '{}',
            dedupe_key  text UNIQUE,              -- "recorded once": a second insert is a no-op
            created_at  timestamptz NOT NULL DEFAULT now()
        )$t$, s);
    EXECUTE format($t$
        CREATE TABLE IF NOT EXISTS %I.canary_state (
            model       text PRIMARY KEY,
            disabled_at timestamptz NOT NULL DEFAULT now(),
            reason      text NOT NULL
        )$t$, s);
    EXECUTE format($t$
        CREATE TABLE IF NOT EXISTS %I.response_cache (
            key         text PRIMARY KEY,         -- sha256 of the normalised request
            model       text NOT NULL,
            response    jsonb NOT NULL,
            hits        bigint NOT NULL DEFAULT 0,
            created_at  timestamptz NOT NULL DEFAULT now()
        )$t$, s);
    EXECUTE format($t$
        CREATE TABLE IF NOT EXISTS %I.cache_stats (
            model       text PRIMARY KEY,
            hits        bigint NOT NULL DEFAULT 0,
            misses      bigint NOT NULL DEFAULT 0
        )$t$, s);
    INSERT INTO ticketpilot.tenant_schemas (tenant_id, schema_name, ledger_version) VALUES (tenant, s, 2)
        ON CONFLICT (tenant_id) DO NOTHING;
    RETURN s;
END $$;
