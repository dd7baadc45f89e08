"""What the GitHub emulator remembers: real git repositories on disk and in-memory pull requests, comments and
commit statuses, plus the tokens it accepts and the requests it saw. Handlers run one at a time on the event
loop, so no locks. Records are internal; shapes.py renders them in GitHub's documented JSON."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include.scm.base import FileChange
from tests.emulators.common.faults import FaultBook
from tests.emulators.github.errors import not_found
from tests.emulators.github.repos import EmulatedRepo

TOKEN = "ghp_emulator-token"
BOT = "ticketpilot-bot"
RATE_LIMIT = 5000


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class GitHubState:
    """One GitHub host; `owner` is the account seeded repositories belong to unless told otherwise."""

    def __init__(self, root: Path, owner: str = "acme") -> None:
        self.root = root
        self.owner = owner
        self.base_url = ""
        self.tokens = {TOKEN}
        self.read_only_tokens: set[str] = set()
        self.faults = FaultBook()
        self.repos: dict[str, EmulatedRepo] = {}
        self.pulls: dict[str, dict[int, dict[str, Any]]] = {}
        self.issue_comments: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.review_comments: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.statuses: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.auth_headers: list[str] = []
        self.api_versions: list[str] = []
        self.writes: list[str] = []  # "METHOD /path" of each write that changed something, to count effects
        self.max_per_page = 100
        self.rate_used = 0
        self.rate_reset = int(time.time()) + 3600
        self._ids = itertools.count(1001)
        self._repo_ids = itertools.count(700_001)

    def next_id(self) -> int:
        return next(self._ids)

    def api(self, tail: str) -> str:
        return f"{self.base_url}/{tail}"

    def html(self, tail: str) -> str:
        return f"{self.base_url}/{tail}"

    def rate_headers(self) -> dict[str, str]:
        return {"x-ratelimit-limit": str(RATE_LIMIT), "x-ratelimit-remaining": str(max(0, RATE_LIMIT - self.rate_used)),
                "x-ratelimit-used": str(self.rate_used), "x-ratelimit-reset": str(self.rate_reset),
                "x-ratelimit-resource": "core"}

    # --- seeding (admin API) ------------------------------------------------------------------------

    def create_repo(self, name: str, files: dict[str, str], owner: str | None = None) -> EmulatedRepo:
        repo = EmulatedRepo(self.root, owner or self.owner, name, next(self._repo_ids))
        changes = [FileChange(path=p, content=c) for p, c in sorted(files.items())]
        tip = repo.git.commit(repo.git.write_tree(None, changes), [], "Initial commit\n")
        repo.swap_ref("refs/heads/main", tip, None)
        self.repos[repo.full_name] = repo
        self.pulls[repo.full_name] = {}
        return repo

    # --- lookups ------------------------------------------------------------------------------------

    def repo(self, owner: str, name: str) -> EmulatedRepo:
        found = self.repos.get(f"{owner}/{name}")
        if found is None:
            raise not_found()
        return found

    def repo_by_id(self, repo_id: int) -> EmulatedRepo:
        for repo in self.repos.values():
            if repo.id == repo_id:
                return repo
        raise not_found()

    def pull(self, repo: EmulatedRepo, number: int) -> dict[str, Any]:
        pr = self.pulls[repo.full_name].get(number)
        if pr is None:
            raise not_found()
        return pr

    def pull_by_node(self, node_id: str) -> tuple[EmulatedRepo, dict[str, Any]] | None:
        for full_name, pulls in self.pulls.items():
            for pr in pulls.values():
                if pr["node_id"] == node_id:
                    return self.repos[full_name], pr
        return None

    def head_sha(self, repo: EmulatedRepo, pr: dict[str, Any]) -> str:
        """The head commit: the branch tip while open (GitHub follows pushes), the last one seen once closed."""
        if pr["state"] == "open":
            pr["head_sha"] = repo.tip(pr["head_ref"]) or pr["head_sha"]
        return str(pr["head_sha"])

    def base_sha(self, repo: EmulatedRepo, pr: dict[str, Any]) -> str:
        if pr["state"] == "open":
            pr["base_sha"] = repo.tip(pr["base_ref"]) or pr["base_sha"]
        return str(pr["base_sha"])
