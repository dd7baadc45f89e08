-- Budget threshold alerts sent (80/90/100 %, recorded once per budget and period in each tenant's ledger
-- `events` by the router): one row per event once a notifier has delivered it, so the alert DAG sends each
-- alert once and retries only what was not delivered.
CREATE TABLE ticketpilot.budget_alerts_sent (
    tenant_id   text NOT NULL,  -- a ledger's tenant: the evals tenant has a ledger and no hook
    event_id    bigint NOT NULL,
    channel     text NOT NULL,
    sent_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id)
);
