"""The Airflow plugin that mounts the Ticketpilot ingress on the Airflow API server at /ticketpilot.

Airflow imports this file as the top-level module `ticketpilot_plugin`; the app lives in the package
`plugins.ingress`, importable because the repo root is on PYTHONPATH (DESIGN.md §7).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from plugins.ingress.app import URL_PREFIX, create_app


class TicketpilotPlugin(AirflowPlugin):
    name = "ticketpilot"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Ticketpilot ingress"}]
