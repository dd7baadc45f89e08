"""State the ingress routes share: a lazily opened database pool, an in-process tenant cache and the
per-tenant hook rate limiter.

The app is built when Airflow imports the plugin, in every Airflow component that loads plugins, so
building it must cost nothing: the pool opens on the first request that needs it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from psycopg_pool import ConnectionPool

from include.store.pool import new_pool
from include.store.tenants import Tenant, get_tenant
from plugins.ingress.ratelimit import RateLimiter

TENANT_CACHE_SECONDS = 30.0
POOL_WAIT_SECONDS = 5.0
"""How long a request waits for a pooled connection before answering 503 (which ADO retries)."""


class TenantCache:
    """Tenant rows (and misses) kept in-process for `ttl` seconds, so an authenticated delivery usually
    costs no lookup. A rotated secret is picked up at once: the routes re-read on a failed check."""

    def __init__(self, ttl: float = TENANT_CACHE_SECONDS) -> None:
        self._ttl = ttl
        self._entries: dict[str, tuple[float, Tenant | None]] = {}
        self._lock = threading.Lock()

    def get(self, tenant_id: str, load: Callable[[str], Tenant | None], *, fresh: bool = False) -> Tenant | None:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(tenant_id)
        if entry is not None and not fresh and entry[0] > now:
            return entry[1]
        tenant = load(tenant_id)
        with self._lock:
            self._entries[tenant_id] = (now + self._ttl, tenant)
        return tenant


DEFAULT_MAX_IN_FLIGHT = 64
"""Deliveries one API-server process works on at once. Past it a delivery is shed with 503 + Retry-After
(ADO retries it) instead of queueing for seconds: one worker saturates near 280 deliveries/s on 2 cores
(bench/RESULTS.md), and a growing queue only turns into ADO timeouts and more retries."""


class IngressState:
    """The app's database pool (opened lazily, closed with the app), its tenant cache, rate limiter and the
    count of deliveries in flight (read and changed on the event loop only, so it needs no lock)."""

    def __init__(self, db_url: str | None = None, rate_limiter: RateLimiter | None = None, *,
                 max_in_flight: int = DEFAULT_MAX_IN_FLIGHT) -> None:
        self._db_url = db_url
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()
        self.tenants = TenantCache()
        self.rate_limiter = rate_limiter or RateLimiter()
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    # Sized by TICKETPILOT_DB_POOL_MAX; connects in the background, a dead database retries.
                    self._pool = new_pool("ticketpilot-ingress", self._db_url, timeout=POOL_WAIT_SECONDS)
        return self._pool

    def tenant(self, tenant_id: str, *, fresh: bool = False) -> Tenant | None:
        return self.tenants.get(tenant_id, self._load_tenant, fresh=fresh)

    def _load_tenant(self, tenant_id: str) -> Tenant | None:
        with self.pool.connection() as conn:
            return get_tenant(conn, tenant_id)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
