-- The Azure Pipelines pipeline (definition) a tenant's ticket branches run in, for tenants on the `ado` SCM.
-- NULL: the tenant uses no ADO pipeline and the Test step's local run is the check.
ALTER TABLE ticketpilot.tenants
    ADD COLUMN ado_pipeline_id integer CHECK (ado_pipeline_id > 0);
