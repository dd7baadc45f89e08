"""One DAG per open ticket (`ticket__<tenant>__<workitem>`), plus the factory's permanent anchor DAG.

All logic lives in include/dagfactory.py; this file only publishes what it builds.
"""

from __future__ import annotations

from airflow.sdk import get_parsing_context

from include.dagfactory import build_all

globals().update(build_all(only_dag_id=get_parsing_context().dag_id))
