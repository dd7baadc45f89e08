-- Roles people hold in a tenant, reconciled from the Team Directory (include/directory). A tenant the
-- directory manages admits gate decisions only from people holding a gate role (approver, r3_approver), on
-- every channel, since every decision is recorded through include/store/gates.record_decision. A vote on an
-- Azure DevOps pull request names its voter by sign-in e-mail; `email` maps it back to the person.
ALTER TABLE ticketpilot.tenants ADD COLUMN directory_managed boolean NOT NULL DEFAULT false;

CREATE TABLE ticketpilot.tenant_roles (
    tenant_id   text NOT NULL REFERENCES ticketpilot.tenants (tenant_id),
    person      text NOT NULL CHECK (person <> ''),
    role        text NOT NULL CHECK (role IN ('approver', 'r3_approver', 'ops', 'viewer')),
    -- the person's sign-in e-mail from the directory: how an ado tenant's PR votes name them
    email       text CHECK (email = lower(email)),
    granted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, person, role)
);
