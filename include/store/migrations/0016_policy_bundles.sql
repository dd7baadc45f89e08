-- A tenant's own policy bundle (a Rego module, `package ticketpilot.tenant`) that can only tighten the
-- platform's rules. Versioned like routing policies: a new version is a new row, the newest one applies.
CREATE TABLE ticketpilot.policy_bundles (
    tenant_id       text NOT NULL,
    version         integer NOT NULL,
    source          text NOT NULL,
    sha256          text NOT NULL,
    set_by          text NOT NULL,
    set_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, version)
);
