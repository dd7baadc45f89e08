"""Brings the embedded platform up on one machine: PostgreSQL in a wheel, Airflow's four components,
the spawner. Used by `make up`, `make demo` and the end-to-end tests, so all three run the same thing."""
