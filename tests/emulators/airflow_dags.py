"""Airflow 3's REST API for listing, reading and (un)pausing DAGs, as far as tenant pause/resume uses it:
`GET /api/v2/dags` (`dag_id_pattern` is a LIKE pattern where `_` matches any character, `paused`, `limit`,
`offset`), `GET /api/v2/dags/{dag_id}`, `PATCH /api/v2/dags/{dag_id}` with `{"is_paused": ...}`, and a token
from `POST /auth/token`. The real API server is exercised end to end in tests/e2e/test_own_repository.py."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


class DagsApi(BaseHTTPRequestHandler):
    dags: dict[str, bool] = {}  # dag_id -> is_paused
    patches: list[tuple[str, bool]] = []
    tokens: list[str] = []  # the bearer token of every PATCH

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path != "/auth/token":
            return self._answer(404, {"detail": f"{self.path} is not served here"})
        self._answer(201, {"access_token": "t"})

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/api/v2/dags":
            like = re.compile("^" + re.escape(query["dag_id_pattern"]).replace("_", ".").replace("%", ".*"),
                              re.IGNORECASE)
            names = sorted(d for d, p in self.dags.items() if like.search(d)
                           and ("paused" not in query or str(p).lower() == query["paused"]))
            offset, limit = int(query["offset"]), int(query["limit"])
            return self._answer(200, {"dags": [{"dag_id": d, "is_paused": self.dags[d]}
                                               for d in names[offset:offset + limit]]})
        if not url.path.startswith("/api/v2/dags/"):
            return self._answer(404, {"detail": f"{url.path} is not served here"})
        dag_id = url.path.removeprefix("/api/v2/dags/")
        if dag_id not in self.dags:
            return self._answer(404, {"detail": "not found"})
        return self._answer(200, {"dag_id": dag_id, "is_paused": self.dags[dag_id]})

    def do_PATCH(self) -> None:  # noqa: N802
        type(self).tokens.append(self.headers.get("Authorization", "").removeprefix("Bearer "))
        dag_id = self.path.removeprefix("/api/v2/dags/")
        paused = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["is_paused"]
        type(self).dags[dag_id] = paused
        type(self).patches.append((dag_id, paused))
        self._answer(200, {"dag_id": dag_id, "is_paused": paused})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def dags_api(dags: dict[str, bool]) -> Iterator[str]:
    """Serve `dags` (dag_id -> is_paused) on a free port; yields the base URL. DagsApi.dags/patches/tokens show
    the state and what was asked."""
    DagsApi.dags = dict(dags)
    DagsApi.patches = []
    DagsApi.tokens = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), DagsApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
