"""Builder of the ingress FastAPI app: routes relative to the mount point `URL_PREFIX`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from include.telemetry import metrics
from plugins.ingress.ops_routes import router as ops_router
from plugins.ingress.ratelimit import DEFAULT_BURST, DEFAULT_RATE_PER_S, RateLimiter
from plugins.ingress.routes import router
from plugins.ingress.state import DEFAULT_MAX_IN_FLIGHT, IngressState
from plugins.ingress.tracker_routes import router as tracker_router

URL_PREFIX = "/ticketpilot"
HOOK_SOURCES = ("ado", "github", "gitlab")


def create_app(db_url: str | None = None, *, hook_rate_per_s: float = DEFAULT_RATE_PER_S,
               hook_burst: int = DEFAULT_BURST, hook_max_in_flight: int = DEFAULT_MAX_IN_FLIGHT) -> FastAPI:
    """The ingress app, routes relative to its mount point `URL_PREFIX`. `db_url` defaults to settings;
    the hook rate limit applies per tenant, unless the tenant row sets its own; `hook_max_in_flight` caps the
    deliveries this process works on at once, across tenants."""
    state = IngressState(db_url, RateLimiter(hook_rate_per_s, hook_burst), max_in_flight=hook_max_in_flight)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        state.close()

    app = FastAPI(
        title="Ticketpilot ingress",
        description="ADO service hooks and GitHub/GitLab issue hooks in, gate decisions in; everything else "
                    "happens in Airflow.",
        lifespan=lifespan,
    )
    app.state.ingress = state
    app.include_router(router)
    app.include_router(tracker_router)
    app.include_router(ops_router)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.middleware("http")(_hook_metrics)
    return app


async def _hook_metrics(request: Request, call_next: Any) -> Any:
    """Every hook delivery's time to its answer, by tenant, source and status: the hook → 202 SLO."""
    started = time.monotonic()
    response = await call_next(request)
    parts = request.url.path.split("/hooks/", 1)
    if len(parts) == 2 and parts[1].count("/") == 1 and parts[1].split("/")[0] in HOOK_SOURCES:
        source, tenant = parts[1].split("/")
        # a refused delivery's tenant is whatever the caller typed: labelling by it would let anyone grow the
        # metric's series without bound
        metrics.record_hook((time.monotonic() - started) * 1000, tenant=tenant if response.status_code < 400 else "-",
                            source=source, status=response.status_code)
    return response


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """422 with where and why, without echoing the input: FastAPI's default handler puts each error's input in
    the answer, which fails with a 500 on a non-finite number (`Infinity` is valid to Python's JSON parser, not
    to its encoder) and would reflect whatever a caller sent."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in errors]
    return JSONResponse({"detail": detail}, status_code=422)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503, not 500: ADO retries 503 within minutes, while a 500 puts the subscription on probation."""
    return JSONResponse({"detail": "database unavailable, retry later"}, status_code=503,
                        headers={"Retry-After": "5"})
