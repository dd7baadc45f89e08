"""A small client for Airflow's public REST API (v2), used by the spawner, the launcher, the demo and
the merge step. It authenticates like any API user: a JWT from `POST /auth/token`, renewed on 401."""

from __future__ import annotations

from typing import Any

import httpx

from include.settings import get_settings

TRIGGER_ATTEMPTS = 3


class AirflowApiError(RuntimeError):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.request.method} {response.request.url.path} → {response.status_code}: "
                         f"{response.text[:500]}")
        self.status_code = response.status_code


class AirflowClient:
    def __init__(self, base_url: str, username: str, password: str, timeout: float = 10.0) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)
        self._username = username
        self._password = password
        self._token: str | None = None

    @classmethod
    def with_token(cls, base_url: str, token: str, timeout: float = 10.0) -> AirflowClient:
        """A client acting as the person whose JWT this is (the ops routes forward the caller's own token, so
        Airflow checks that person's rights and records their name); a 401 is not retried with a login."""
        client = cls(base_url, "", "", timeout)
        client._token = token
        return client

    @classmethod
    def from_settings(cls) -> AirflowClient:
        s = get_settings()
        return cls(s.airflow_api_url, s.airflow_user, s.airflow_password)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AirflowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------
    def token(self) -> str:
        if self._token is None:
            response = self._http.post("/auth/token", json={"username": self._username, "password": self._password})
            if response.status_code not in (200, 201):
                raise AirflowApiError(response)
            self._token = response.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> httpx.Response:
        extra_headers = kwargs.pop("headers", {})
        for attempt in range(2):
            headers = {**extra_headers, "Authorization": f"Bearer {self.token()}"}
            response = self._http.request(method, path, headers=headers, **kwargs)
            if response.status_code == 401 and attempt == 0 and self._username:
                self._token = None
                continue
            break
        if response.status_code not in ok:
            raise AirflowApiError(response)
        return response

    # -- DAGs -----------------------------------------------------------------------------------
    def dag_exists(self, dag_id: str) -> bool:
        return self.request("GET", f"/api/v2/dags/{dag_id}", ok=(200, 404)).status_code == 200

    def file_token(self, dag_id: str) -> str:
        return self.request("GET", f"/api/v2/dags/{dag_id}/details").json()["file_token"]

    def reparse_file(self, file_token: str) -> None:
        self.request("PUT", f"/api/v2/parseDagFile/{file_token}", ok=(200, 201, 409))

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any] | None = None) -> tuple[dict[str, Any], bool]:
        """Trigger `run_id`; (run, created). An existing run with that id is returned, not duplicated. A call
        that timed out is made again (up to `TRIGGER_ATTEMPTS` in all): the run id makes it idempotent, and a run
        the lost answer had created comes back as existing."""
        for attempt in range(1, TRIGGER_ATTEMPTS + 1):
            try:
                response = self.request(
                    "POST", f"/api/v2/dags/{dag_id}/dagRuns", ok=(200, 409),
                    json={"dag_run_id": run_id, "logical_date": None, "conf": conf or {}},
                )
                break
            except (httpx.TimeoutException, httpx.ConnectError):
                if attempt == TRIGGER_ATTEMPTS:
                    raise
        if response.status_code == 409:
            return self.dag_run(dag_id, run_id), False
        return response.json(), True

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json()

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100}).json()["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.request(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100}
        ).json()["task_instances"]

    def mark_success(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        """What the UI's "Mark success" does: the task clearance path for approving a gate."""
        return self.request(
            "PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}",
            json={"new_state": "success"},
        ).json()

    def event_logs(self, dag_id: str, task_id: str, run_id: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"dag_id": dag_id, "task_id": task_id, "limit": 100, "order_by": "-when"}
        if run_id:
            params["run_id"] = run_id
        return self.request("GET", "/api/v2/eventLogs", params=params).json()["event_logs"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """A task's XCom value (the agent's result for agent steps), None when it has none."""
        response = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/"
                                f"{key}", ok=(200, 404), params={"deserialize": "true"})
        return response.json().get("value") if response.status_code == 200 else None

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """The task's log as text (structured lines joined), for people and tests to read."""
        response = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/"
                                f"{try_number}", params={"full_content": "true"},
                                headers={"Accept": "application/json"})
        content = response.json().get("content", [])
        return "\n".join(_log_line(line) for line in content)

    # -- pools ----------------------------------------------------------------------------------
    def ensure_pool(self, name: str, slots: int, description: str = "") -> None:
        response = self.request("GET", f"/api/v2/pools/{name}", ok=(200, 404))
        if response.status_code == 200:
            return
        self.request("POST", "/api/v2/pools", ok=(200, 201, 409),
                     json={"name": name, "slots": slots, "description": description, "include_deferred": False})


def _log_line(line: object) -> str:
    """A structured log line as text; a failure's exceptions (Airflow keeps them in `error_detail`, which the
    event text alone leaves out) follow as `ExcType: message`, so the reason a task failed reads in the text."""
    if not isinstance(line, dict):
        return str(line)
    text = str(line.get("event", line))
    for detail in line.get("error_detail") or []:
        if isinstance(detail, dict) and detail.get("exc_type"):
            text += f"\n{detail['exc_type']}: {detail.get('exc_value', '')}"
    return text
