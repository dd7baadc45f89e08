-- The DAG whose run a gate holds. A run id alone is not unique in Airflow (every ticket DAG's first run is
-- `ticket__r1`); the decision's NOTIFY carries both, so the spawner can ask the scheduler to look at exactly
-- that run next (include/spawner/nudge.py). NULL for gates opened before this column existed.
ALTER TABLE ticketpilot.gate_requests ADD COLUMN dag_id text CHECK (dag_id <> '');
