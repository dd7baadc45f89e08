"""`ticketpilot breakglass enroll|open|close|list`: a platform admin's TOTP-confirmed, time-boxed override of a
tenant's gates (include/tenancy/break_glass.py). Every step is in the tenant's audit chain."""

from __future__ import annotations

from datetime import UTC, datetime

from include.cli.commands import CliError, _actor
from include.store.db import connect
from include.tenancy.break_glass import BreakGlassRefused, close_window, enroll, open_window, windows


def breakglass_enroll(admin: str) -> str:
    try:
        with connect(autocommit=True) as conn:
            enrolled = enroll(conn, admin, actor=_actor())
    except ValueError as exc:  # no Fernet key: the secret is never stored in clear
        raise CliError(str(exc)) from None
    return (f"{admin} enrolled for break-glass. Add this to an authenticator app now; it is not shown again:\n"
            f"  secret {enrolled.secret}\n  {enrolled.uri}")


def breakglass_open(tenant: str, admin: str | None, code: str, reason: str, minutes: int) -> str:
    admin = admin or _actor()
    try:
        with connect(autocommit=True) as conn:
            window = open_window(conn, admin, tenant, code, reason, minutes=minutes)
    except BreakGlassRefused as exc:
        raise CliError(f"break-glass refused: {exc}") from None
    return (f"break-glass window {window.id} open: {admin} alone decides tenant {tenant}'s gates until "
            f"{window.expires_at:%Y-%m-%d %H:%M:%S} UTC (ticketpilot breakglass close {window.id} to end it sooner)")


def breakglass_close(window_id: int) -> str:
    with connect(autocommit=True) as conn:
        window = close_window(conn, window_id, actor=_actor())
    if window is None:
        raise CliError(f"no open break-glass window {window_id} (unknown, closed, or expired)")
    return f"break-glass window {window_id} on tenant {window.tenant_id} closed"


def breakglass_list() -> str:
    with connect(autocommit=True) as conn:
        found = windows(conn)
    if not found:
        return "no break-glass windows"
    lines = [f"{'ID':>5}  {'TENANT':<20}{'ADMIN':<14}{'OPENED (UTC)':<18}{'ENDS (UTC)':<18}STATE   REASON"]
    for w in found:
        ended = w.closed_at or w.expires_at
        state = "closed" if w.closed_at else ("open" if w.expires_at > datetime.now(UTC) else "expired")
        lines.append(f"{w.id:>5}  {w.tenant_id:<20}{w.admin:<14}{w.opened_at:%Y-%m-%d %H:%M}  "
                     f"{ended:%Y-%m-%d %H:%M}  {state:<8}{w.reason}")
    return "\n".join(lines)
