"""The Ticketpilot ingress: a FastAPI app the AirflowPlugin mounts on the Airflow API server.

Import it as `plugins.ingress` (the repo root is on PYTHONPATH). Airflow itself must not import these
files one by one as top-level modules (`app`, `routes`, ...): `plugins/.airflowignore` keeps its plugin
loader out of this folder, and only `plugins/ticketpilot_plugin.py` is loaded as a plugin.
"""
