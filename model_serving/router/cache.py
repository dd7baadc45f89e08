"""Response cache in the tenant's schema, keyed by the sha256 of the normalised request.

Per tenant, not shared: a shared cache would let one tenant learn, by hit or timing, what another asked.
The key covers the chosen model and every parameter that changes the answer, and the original (unredacted)
messages, since the cached answer is the restored one the caller saw.
"""

from __future__ import annotations

import hashlib
import json

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from model_serving.router.ledger import rows, table
from model_serving.router.models import ChatRequest, Usage


def cache_key(spec: str, request: ChatRequest) -> str:
    normalised = {
        "model": spec,
        "messages": [[m.role, m.content.strip()] for m in request.messages],
        "max_tokens": request.max_tokens,
        "temperature": round(request.temperature, 4),
        "response_format": request.response_format,
        "json_schema": request.json_schema,
    }
    return hashlib.sha256(json.dumps(normalised, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def lookup(conn: psycopg.Connection, tenant: str, key: str, spec: str) -> dict | None:
    """The cached answer ({content, provider, model, usage}) or None; counts the hit or miss against `spec`."""
    found = rows(conn, sql.SQL("UPDATE {} SET hits = hits + 1 WHERE key = %s RETURNING response").format(
        table(tenant, "response_cache")), (key,))
    column = sql.Identifier("hits" if found else "misses")
    conn.execute(sql.SQL("INSERT INTO {} (model, {}) VALUES (%s, 1) ON CONFLICT (model) DO UPDATE SET {} = {}.{} + 1")
                 .format(table(tenant, "cache_stats"), column, column, table(tenant, "cache_stats"), column), (spec,))
    return found[0]["response"] if found else None


def store(conn: psycopg.Connection, tenant: str, key: str, spec: str, content: str, provider: str, model: str,
          usage: Usage) -> None:
    response = {"content": content, "provider": provider, "model": model, "usage": usage.model_dump()}
    conn.execute(sql.SQL("INSERT INTO {} (key, model, response) VALUES (%s, %s, %s) ON CONFLICT (key) DO NOTHING")
                 .format(table(tenant, "response_cache")), (key, spec, Jsonb(response)))


def stats(conn: psycopg.Connection, tenant: str) -> dict[str, dict[str, int]]:
    """Per model: {"hits": n, "misses": n}."""
    return {r["model"]: {"hits": r["hits"], "misses": r["misses"]}
            for r in rows(conn, sql.SQL("SELECT model, hits, misses FROM {}").format(table(tenant, "cache_stats")))}
