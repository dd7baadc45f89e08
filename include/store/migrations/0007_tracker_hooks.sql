-- GitHub and GitLab issue hooks: where a tenant's issues may come from, and what their deliveries present.

-- The owner (or owner/repo) and the GitLab namespace (group, subgroup or project path) a tenant's issues must
-- come from; the GitHub webhook secret encrypted with Airflow's Fernet key (GitHub signs with the secret, so a
-- digest cannot verify); the SHA-256 of the GitLab hook token, like the other hook secrets. A hook secret is
-- only stored together with the scope it is checked against.
ALTER TABLE ticketpilot.tenants
    ADD COLUMN github_owner text CHECK (github_owner ~ '^[A-Za-z0-9][A-Za-z0-9-]{0,38}(/[A-Za-z0-9._-]{1,100})?$'),
    ADD COLUMN github_secret_fernet text CHECK (github_secret_fernet <> ''),
    ADD COLUMN gitlab_namespace text
        CHECK (gitlab_namespace ~ '^[A-Za-z0-9_.][A-Za-z0-9_.-]*(/[A-Za-z0-9_.][A-Za-z0-9_.-]*)*$'),
    ADD COLUMN gitlab_token_sha256 text CHECK (gitlab_token_sha256 ~ '^[0-9a-f]{64}$'),
    ADD CONSTRAINT tenants_github_secret_needs_owner
        CHECK (github_secret_fernet IS NULL OR github_owner IS NOT NULL),
    ADD CONSTRAINT tenants_gitlab_token_needs_namespace
        CHECK (gitlab_token_sha256 IS NULL OR gitlab_namespace IS NOT NULL);

-- Where a ticket's item lives when its number is only unique there: 'github:<repository id>' or
-- 'gitlab:<project id>'; NULL for ADO work items (unique in their organisation). A delivery whose item comes
-- from elsewhere than the ticket's origin is refused instead of overwriting another item's ticket.
ALTER TABLE ticketpilot.tickets ADD COLUMN origin text;

-- GitHub and GitLab revisions are `updated_at` in epoch seconds, which outgrow integer in January 2038.
ALTER TABLE ticketpilot.tickets ALTER COLUMN rev TYPE bigint;
ALTER TABLE ticketpilot.deliveries ALTER COLUMN rev TYPE bigint;
ALTER TABLE ticketpilot.outbox ALTER COLUMN rev TYPE bigint;
