-- A tenant's model routing policy (model_serving.router.RoutingPolicy as JSON), versioned: a change adds a
-- version, nothing is updated in place, so what routed a past call can always be read back. The latest
-- version is the tenant's policy.
CREATE TABLE ticketpilot.routing_policies (
    tenant_id   text NOT NULL REFERENCES ticketpilot.tenants (tenant_id),
    version     integer NOT NULL CHECK (version >= 1),
    policy      jsonb NOT NULL,
    set_by      text NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, version)
);
