"""A tenant's policy bundle: one Rego module that can only tighten the platform's rules.

The module is `package ticketpilot.tenant` and may define `door_floors` (a set or array of `{"risk", "why"}`,
computed from the door's input: lower-cased `text`, `tags`, `work_item_type`), `path_rules` (`{"glob",
"risk", "why"}` against lower-cased repository paths), `deny_tools` / `deny_programs` (names the
tool-using loop may not use, computed from the tool decision's input: `tool`, `program`, `repo`), and
`max_lines`, `max_files`, `deny_paths` (what a change may hold before it is pushed). The
platform's decisions take the highest class any rule asks for and refuse whatever any rule refuses, so a
tenant's rules tighten and never loosen. A module in any other package, one that does not compile, or one whose
path rules lack a glob, a class or a reason is refused when it is set, not when a ticket arrives; a floor naming
a class other than R0–R3 counts as R3.

The newest version applies. Each process keeps the engine for a tenant's bundle and looks for a newer version
at most every `REFRESH_S` seconds.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time

import psycopg

from include.policies.engine import PolicyEngine, PolicyError, platform_engine, platform_modules
from include.settings import Settings
from include.store import audit
from include.store.db import connect

PACKAGE = "ticketpilot.tenant"
REFRESH_S = 30.0
_PACKAGE_LINE = re.compile(r"^\s*package\s+([\w.]+)\s*$", re.MULTILINE)
_RISKS = {"R0", "R1", "R2", "R3"}
_PROBES = (
    {"door": {"planned": "R0", "text": "probe", "tags": [], "work_item_type": "task"}},
    {"diff": {"planned": "R0", "files": ["probe.txt"], "lines_changed": 1, "repos": 1, "kind": ""}},
    {"tool": {"tool": "run_command", "program": "python", "repo": "probe"}},
    {"push": {"files": ["probe.txt"], "lines_changed": 1, "repo": "probe"}},
)

_cache: dict[str, tuple[float, PolicyEngine]] = {}
_cache_lock = threading.Lock()


def validate_bundle(source: str) -> PolicyEngine:
    """The engine with the bundle, or PolicyError saying why the bundle is refused."""
    packages = _PACKAGE_LINE.findall(source)
    if packages != [PACKAGE]:
        raise PolicyError(f"a tenant bundle is one module in `package {PACKAGE}`; this one declares "
                          f"{', '.join(packages) or 'no package'}")
    engine = PolicyEngine({**platform_modules(), "tenant.rego": source})
    for probe in _PROBES:
        for decision, payload in probe.items():
            engine.decide(decision, payload)
    for rule in engine.evaluate(f"data.{PACKAGE}.path_rules") or []:
        if not isinstance(rule, dict) or rule.get("risk") not in _RISKS or not all(
                isinstance(rule.get(k), str) and rule[k].strip() for k in ("glob", "why")):
            raise PolicyError(f"path_rules: every rule needs a glob, a risk (R0–R3) and a why; got {rule!r}")
    return engine


def set_bundle(conn: psycopg.Connection, tenant: str, source: str, *, actor: str) -> int:
    """Store a validated bundle as the tenant's newest version (the same source again: no new version)."""
    validate_bundle(source)
    digest = hashlib.sha256(source.encode()).hexdigest()
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 1))", (f"policy:{tenant}",))
        latest = conn.execute("SELECT version, sha256 FROM ticketpilot.policy_bundles WHERE tenant_id = %s "
                              "ORDER BY version DESC LIMIT 1", (tenant,)).fetchone()
        if latest is not None and latest["sha256"] == digest:
            return int(latest["version"])
        version = (latest["version"] if latest else 0) + 1
        conn.execute("INSERT INTO ticketpilot.policy_bundles (tenant_id, version, source, sha256, set_by) "
                     "VALUES (%s, %s, %s, %s, %s)", (tenant, version, source, digest, actor))
        audit.append(conn, actor=actor, action="policy.bundle.set", subject=tenant, tenant=tenant,
                     details={"version": version, "sha256": digest})
    with _cache_lock:
        _cache.pop(tenant, None)  # this process at once; the others within REFRESH_S
    return version


def latest_bundle(conn: psycopg.Connection, tenant: str) -> dict | None:
    return conn.execute("SELECT version, source, sha256, set_by, set_at FROM ticketpilot.policy_bundles "
                        "WHERE tenant_id = %s ORDER BY version DESC LIMIT 1", (tenant,)).fetchone()


def engine_for(tenant: str | None) -> PolicyEngine:
    """The platform's engine, with the tenant's newest bundle where it has one. Without a database (a unit test,
    a tool run outside the platform) only the platform's rules apply; a database that fails is an error, never
    a silent fall back to the looser rules."""
    db_url = Settings.from_env().db_url if tenant else None
    if not tenant or not db_url:
        return platform_engine()
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(tenant)
    if cached is not None and now - cached[0] < REFRESH_S:
        return cached[1]
    with connect(db_url) as conn:
        bundle = latest_bundle(conn, tenant)
    engine = platform_engine() if bundle is None else (
        cached[1] if cached is not None and cached[1].bundle_sha256 == bundle["sha256"]
        else PolicyEngine({**platform_modules(), "tenant.rego": bundle["source"]}, bundle_sha256=bundle["sha256"]))
    with _cache_lock:
        _cache[tenant] = (now, engine)
    return engine
