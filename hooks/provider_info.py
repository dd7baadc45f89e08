"""Ticketpilot as an Airflow provider distribution, so the UI's connection form knows the `azure_devops` type.

Airflow 3 learns connection types only from installed distributions' `apache_airflow_provider` entry points
(not from the DAG folder or plugins). `pyproject.toml` declares this function as that entry point and the
Makefile installs the project's metadata (`pip install --no-deps .`; the code itself is imported from the
repository, which is on PYTHONPATH in every Airflow process). Only our own connection type is declared:
GitHub, GitLab and model connections use the types of their official providers (`github`, `gitlab`,
`pydanticai`), which must not be shadowed.
"""

from __future__ import annotations

from typing import Any

PACKAGE = "ticketpilot"


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": PACKAGE,
        "name": "Ticketpilot",
        "description": "AI agents work tickets on Airflow: Azure DevOps hook, sensors and triggers.",
        "connection-types": [
            {"hook-class-name": "hooks.ado.AzureDevOpsHook", "connection-type": "azure_devops"},
        ],
        "hooks": [{"integration-name": "Azure DevOps", "python-modules": ["hooks.ado"]}],
        "triggers": [{"integration-name": "Azure DevOps", "python-modules": ["triggers.ado"]}],
        "sensors": [{"integration-name": "Azure DevOps", "python-modules": ["sensors.ado"]}],
        "integrations": [{"integration-name": "Azure DevOps", "external-doc-url":
                          "https://learn.microsoft.com/en-us/rest/api/azure/devops/?view=azure-devops-rest-7.1"}],
    }
