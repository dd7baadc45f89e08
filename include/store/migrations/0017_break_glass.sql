-- Break-glass: a platform admin's time-boxed override of a tenant's gates, confirmed with a TOTP code. The one-
-- hour bound is a constraint, not only a check in code; an override ends by itself at expires_at.
CREATE TABLE ticketpilot.admin_totp (
    admin           text PRIMARY KEY,
    secret_fernet   text NOT NULL,
    last_step       bigint,
    enrolled_by     text NOT NULL,
    enrolled_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ticketpilot.break_glass (
    id              bigserial PRIMARY KEY,
    admin           text NOT NULL REFERENCES ticketpilot.admin_totp (admin),
    tenant_id       text NOT NULL,
    reason          text NOT NULL CHECK (length(trim(reason)) > 0),
    opened_at       timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    closed_at       timestamptz,
    closed_by       text,
    CHECK (expires_at > opened_at AND expires_at <= opened_at + interval '1 hour')
);
CREATE INDEX break_glass_open_idx ON ticketpilot.break_glass (tenant_id, admin) WHERE closed_at IS NULL;
