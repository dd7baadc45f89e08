"""PostgreSQL access for the platform schema (psycopg 3)."""
