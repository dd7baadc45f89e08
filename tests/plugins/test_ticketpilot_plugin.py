from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi import FastAPI

PLUGINS_DIR = Path(__file__).resolve().parents[2] / "plugins"


def test_plugin_mounts_the_ingress_under_its_prefix() -> None:
    from plugins.ticketpilot_plugin import TicketpilotPlugin

    assert TicketpilotPlugin.name == "ticketpilot"
    [spec] = TicketpilotPlugin.fastapi_apps
    assert spec["url_prefix"] == "/ticketpilot" and spec["name"] == "Ticketpilot ingress"
    assert isinstance(spec["app"], FastAPI)
    paths = {route.path for route in spec["app"].routes}
    assert {"/health", "/hooks/ado/{tenant}", "/gates/{ticket_key}", "/gates/{ticket_key}/approve",
            "/gates/{ticket_key}/reject"} <= paths


def test_airflow_loads_only_the_plugin_file_from_the_plugins_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow imports every .py under plugins/ as a top-level module; ingress/ must stay out of that."""
    from airflow._shared.module_loading.file_discovery import find_path_from_directory
    from airflow._shared.plugins_manager.plugins_manager import _load_plugins_from_plugin_directory

    found = {Path(p).relative_to(PLUGINS_DIR).as_posix()
             for p in find_path_from_directory(PLUGINS_DIR, ".airflowignore") if p.endswith(".py")}
    assert found == {"ticketpilot_plugin.py"}

    monkeypatch.setitem(sys.modules, "ticketpilot_plugin", None)  # the loader's module goes away afterwards
    plugins, errors = _load_plugins_from_plugin_directory(str(PLUGINS_DIR))
    assert errors == {}
    assert [p.name for p in plugins] == ["ticketpilot"]
    assert plugins[0].fastapi_apps[0]["url_prefix"] == "/ticketpilot"
