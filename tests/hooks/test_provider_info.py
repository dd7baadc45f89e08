"""The project's distribution registers the `azure_devops` connection type with Airflow's providers manager,
so the Airflow UI offers it (and `test_connection`) like any provider's type."""

from __future__ import annotations

import warnings
from importlib.metadata import entry_points

from airflow.providers_manager import ProvidersManager

from hooks.provider_info import PACKAGE, get_provider_info


def test_the_entry_point_is_installed_and_points_here() -> None:
    (found,) = [ep for ep in entry_points(group="apache_airflow_provider") if ep.dist.name == PACKAGE]
    assert found.value == "hooks.provider_info:get_provider_info", "run `make install` after changing pyproject"
    assert found.load() is get_provider_info


def test_airflow_registers_the_azure_devops_connection_type() -> None:
    manager = ProvidersManager()
    assert manager.providers[PACKAGE].data["package-name"] == PACKAGE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hook = manager.hooks["azure_devops"]
    assert (hook.hook_class_name, hook.package_name, hook.hook_name, hook.connection_testable) == (
        "hooks.ado.AzureDevOpsHook", PACKAGE, "Azure DevOps", True)
