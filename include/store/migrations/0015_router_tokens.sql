-- Credentials of the model router's HTTP face: one or more tokens per tenant, the tenant taken from the token,
-- never from a header. Only the SHA-256 of a token's secret is kept; a token is shown once, when issued.
CREATE TABLE ticketpilot.router_tokens (
    token_id        text PRIMARY KEY,
    tenant_id       text NOT NULL,
    secret_sha256   text NOT NULL,
    label           text NOT NULL DEFAULT '',
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    revoked_by      text
);
CREATE INDEX router_tokens_tenant_idx ON ticketpilot.router_tokens (tenant_id);
