"""Serving the ADO emulator to tests (see tests/emulators/common/server.py), with the admin calls that seed
repositories, work items, service hook subscriptions, pipelines and graph users."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.emulators.ado.app import create_app
from tests.emulators.ado.state import EmulatorState
from tests.emulators.common.server import ThreadedServer


class EmulatorServer(ThreadedServer[EmulatorState]):
    label = "ADO"

    def new_state(self, root: Path) -> EmulatorState:
        return EmulatorState(root)

    def create_app(self, state: EmulatorState) -> Any:
        return create_app(state)

    def retire(self, state: EmulatorState) -> None:
        state.service_hooks.close()

    @property
    def org_url(self) -> str:
        return f"{self.url}/{self.state.org}"

    def seed_repo(self, name: str, files: dict[str, str], project: str | None = None) -> str:
        """Create a repository whose `main` holds `files` in `project` (name or id; the default project when
        None); returns main's commit id."""
        return self.admin("POST", "repos", {"name": name, "files": files, "project": project})["head"]

    def seed_work_item(self, fields: dict[str, Any], project: str | None = None) -> dict[str, Any]:
        """Create a work item (announced as workitem.created) in `project` (name or id; the default when None)."""
        return self.admin("POST", "workitems", {"fields": fields, "project": project})

    def subscribe(self, url: str, event_types: list[str], **inputs: Any) -> str:
        """Register a Web Hooks subscription (see service_hooks.Subscription for `inputs`); returns its id."""
        return self.admin("POST", "subscriptions", {"url": url, "event_types": event_types, **inputs})["id"]

    def deliveries(self) -> list[dict[str, Any]]:
        return self.admin("GET", "deliveries")

    def define_pipeline(self, pipeline_id: int, repository: str, result: str = "succeeded",
                        seconds: float = 1.0) -> None:
        """A pipeline building `repository` whose runs finish on their own with `result` after `seconds`."""
        self.admin("PUT", f"pipelines/{pipeline_id}", {"repository": repository, "result": result,
                                                        "seconds": seconds})

    def seed_user(self, principal_name: str, display_name: str | None = None,
                  mail_address: str | None = None) -> dict[str, Any]:
        """A user of the organisation (Entra ID, descriptor `aad.`...), as the graph API shows it: the GraphUser
        JSON. Seeding a principalName again returns the user it already names."""
        return self.admin("POST", "users", {"principalName": principal_name, "displayName": display_name,
                                            "mailAddress": mail_address})
