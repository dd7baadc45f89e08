"""Break-glass: a platform admin's override of one tenant's gates, for at most an hour, confirmed with a TOTP code.

For the emergency where a gate must open and its approvers cannot be reached. The admin enrolls once (a TOTP
secret, Fernet-encrypted with Airflow's key, shown once as an otpauth:// URI for an authenticator app), then opens
a window with a current code and a reason. While it is open, that admin's approval alone decides the tenant's
gates, past the approval count, the named approver and the Team Directory's roles; never past four eyes (an admin
still may not approve their own request). The window ends by itself at `expires_at` (a database constraint keeps
it within an hour), or earlier when closed. Each step is in the tenant's audit chain, and every gate decided
under it is audited as `gate.override` with the window's id and reason.

A code is accepted once: the time step it belongs to is remembered, so a code seen over a shoulder cannot open a
second window.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
import pyotp
from pydantic import BaseModel, Field

from include.store import audit
from include.store.tenants import encrypt_secret

MAX_MINUTES = 60
ISSUER = "Ticketpilot"


class BreakGlassRefused(Exception):
    """A window that may not open: unknown admin, wrong or reused code, too long, no reason."""


class Window(BaseModel):
    id: int
    admin: str
    tenant_id: str
    reason: str
    opened_at: datetime
    expires_at: datetime
    closed_at: datetime | None = None


class Enrollment(BaseModel):
    admin: str
    secret: str = Field(repr=False, description="Shown once: the base32 secret for an authenticator app.")
    uri: str = Field(repr=False, description="The otpauth:// URI (a QR code of it enrolls an app).")


def enroll(conn: psycopg.Connection, admin: str, *, actor: str) -> Enrollment:
    """A new TOTP secret for `admin` (re-enrolling replaces the old one)."""
    secret = pyotp.random_base32()
    with conn.transaction():
        conn.execute("INSERT INTO ticketpilot.admin_totp (admin, secret_fernet, enrolled_by) VALUES (%s, %s, %s) "
                     "ON CONFLICT (admin) DO UPDATE SET secret_fernet = EXCLUDED.secret_fernet, last_step = NULL, "
                     "enrolled_by = EXCLUDED.enrolled_by, enrolled_at = now()",
                     (admin, encrypt_secret(secret, "break-glass TOTP secret"), actor))
        audit.append(conn, actor=actor, action="break_glass.enrolled", subject=admin, details={})
    return Enrollment(admin=admin, secret=secret,
                      uri=pyotp.TOTP(secret).provisioning_uri(name=admin, issuer_name=ISSUER))


def open_window(conn: psycopg.Connection, admin: str, tenant: str, code: str, reason: str, *,
                minutes: int = MAX_MINUTES) -> Window:
    if not 1 <= minutes <= MAX_MINUTES:
        raise BreakGlassRefused(f"a break-glass window lasts 1 to {MAX_MINUTES} minutes, not {minutes}")
    if not reason.strip():
        raise BreakGlassRefused("a break-glass window needs a reason: it goes to the audit log")
    with conn.transaction():
        row = conn.execute("SELECT secret_fernet, last_step FROM ticketpilot.admin_totp WHERE admin = %s FOR UPDATE",
                           (admin,)).fetchone()
        if row is None:
            raise BreakGlassRefused(f"{admin} is not enrolled for break-glass (ticketpilot breakglass enroll)")
        step = _verified_step(_decrypt(row["secret_fernet"]), code)
        if step is None:
            _refused(conn, admin, tenant, "wrong code")
            raise BreakGlassRefused("the code is not valid now: use the current one from the authenticator app")
        if row["last_step"] is not None and step <= row["last_step"]:
            _refused(conn, admin, tenant, "code reused")
            raise BreakGlassRefused("this code was used already: wait for the next one")
        conn.execute("UPDATE ticketpilot.admin_totp SET last_step = %s WHERE admin = %s", (step, admin))
        window = conn.execute(
            "INSERT INTO ticketpilot.break_glass (admin, tenant_id, reason, expires_at) "
            "VALUES (%s, %s, %s, now() + make_interval(mins => %s)) RETURNING *",
            (admin, tenant, reason.strip(), minutes)).fetchone()
        audit.append(conn, actor=admin, action="break_glass.opened", subject=tenant, tenant=tenant,
                     details={"window": window["id"], "reason": window["reason"], "minutes": minutes,
                              "expires_at": window["expires_at"].isoformat()})
    return Window.model_validate(window)


def close_window(conn: psycopg.Connection, window_id: int, *, actor: str) -> Window | None:
    """End a window now; None when it is unknown or over already."""
    with conn.transaction():
        row = conn.execute("UPDATE ticketpilot.break_glass SET closed_at = now(), closed_by = %s WHERE id = %s "
                           "AND closed_at IS NULL AND expires_at > now() RETURNING *", (actor, window_id)).fetchone()
        if row is None:
            return None
        audit.append(conn, actor=actor, action="break_glass.closed", subject=row["tenant_id"],
                     tenant=row["tenant_id"], details={"window": window_id})
    return Window.model_validate(row)


def active_window(conn: psycopg.Connection, admin: str, tenant: str) -> Window | None:
    """The admin's open window on the tenant, if one is open now."""
    row = conn.execute("SELECT * FROM ticketpilot.break_glass WHERE admin = %s AND tenant_id = %s AND closed_at "
                       "IS NULL AND expires_at > now() ORDER BY expires_at DESC LIMIT 1", (admin, tenant)).fetchone()
    return Window.model_validate(row) if row else None


def windows(conn: psycopg.Connection, *, open_only: bool = False) -> list[Window]:
    rows = conn.execute("SELECT * FROM ticketpilot.break_glass WHERE NOT %s OR (closed_at IS NULL AND expires_at > "
                        "now()) ORDER BY opened_at DESC LIMIT 100", (open_only,)).fetchall()
    return [Window.model_validate(r) for r in rows]


def _verified_step(secret: str, code: str) -> int | None:
    """The time step the code belongs to (now, or one step either side for clock skew), or None."""
    totp = pyotp.TOTP(secret)
    now = datetime.now().timestamp()
    for offset in (0, -1, 1):
        at = now + offset * totp.interval
        if code.strip() and pyotp.utils.strings_equal(totp.at(at), code.strip()):
            return int(at // totp.interval)
    return None


def _decrypt(secret_fernet: str) -> str:
    from airflow.models.crypto import get_fernet

    return get_fernet().decrypt(secret_fernet.encode()).decode()


def _refused(conn: psycopg.Connection, admin: str, tenant: str, why: str) -> None:
    """A refused attempt is audited in its own transaction: the caller's rolls back with the refusal."""
    from include.store.db import connect

    with connect() as other, other.transaction():
        audit.append(other, actor=admin, action="break_glass.refused", subject=tenant, tenant=tenant,
                     details={"why": why})
