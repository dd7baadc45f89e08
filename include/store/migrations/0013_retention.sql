-- Retention per data class (include/maintenance/retention.py): a tenant's own number of days for the classes
-- that belong to it, where it differs from the platform's default (set from the Team Directory).
CREATE TABLE ticketpilot.retention_overrides (
    tenant_id   text NOT NULL REFERENCES ticketpilot.tenants (tenant_id) ON DELETE CASCADE,
    data_class  text NOT NULL CHECK (data_class IN ('transcripts', 'model_responses', 'deliveries')),
    days        integer NOT NULL CHECK (days BETWEEN 1 AND 3650),
    PRIMARY KEY (tenant_id, data_class)
);
