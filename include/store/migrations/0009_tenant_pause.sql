-- A paused tenant: its hook deliveries are still accepted and stored (nothing is lost), but the spawner takes
-- none of its outbox rows, and its ticket DAGs are paused in Airflow. `paused_dags` are the DAGs the pause
-- itself paused, so a resume unpauses exactly those and leaves alone a DAG someone had paused on purpose.
ALTER TABLE ticketpilot.tenants
    ADD COLUMN paused_at     timestamptz,
    ADD COLUMN paused_by     text,
    ADD COLUMN paused_reason text,
    ADD COLUMN paused_dags   text[] NOT NULL DEFAULT '{}';
