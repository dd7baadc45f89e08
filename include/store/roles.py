"""Roles people hold in a tenant (the Team Directory's grants) and the one check the gate store makes with them."""

from __future__ import annotations

import psycopg

from include.contracts.directory import GATE_ROLES, Role


def grants(conn: psycopg.Connection, tenant_id: str) -> set[tuple[str, Role]]:
    rows = conn.execute("SELECT person, role FROM ticketpilot.tenant_roles WHERE tenant_id = %s",
                        (tenant_id,)).fetchall()
    return {(r["person"], Role(r["role"])) for r in rows}


def grant(conn: psycopg.Connection, tenant_id: str, person: str, role: Role) -> None:
    conn.execute("INSERT INTO ticketpilot.tenant_roles (tenant_id, person, role) VALUES (%s, %s, %s) "
                 "ON CONFLICT DO NOTHING", (tenant_id, person, role.value))


def revoke(conn: psycopg.Connection, tenant_id: str, person: str, role: Role) -> None:
    conn.execute("DELETE FROM ticketpilot.tenant_roles WHERE tenant_id = %s AND person = %s AND role = %s",
                 (tenant_id, person, role.value))


def set_directory_managed(conn: psycopg.Connection, tenant_id: str, managed: bool) -> bool:
    """Whether the flag changed."""
    return conn.execute("UPDATE ticketpilot.tenants SET directory_managed = %s WHERE tenant_id = %s "
                        "AND directory_managed IS DISTINCT FROM %s", (managed, tenant_id, managed)).rowcount > 0


def managed_tenants(conn: psycopg.Connection) -> list[str]:
    return [r["tenant_id"] for r in conn.execute(
        "SELECT tenant_id FROM ticketpilot.tenants WHERE directory_managed ORDER BY tenant_id").fetchall()]


def gate_refusal(conn: psycopg.Connection, ticket_key: str, person: str) -> str | None:
    """Why `person` may not decide the ticket's gate, or None when they may. Only tenants the Team Directory
    manages are checked: there a decision needs the approver or r3_approver role."""
    row = conn.execute(
        "SELECT te.tenant_id, te.directory_managed, ARRAY(SELECT r.role FROM ticketpilot.tenant_roles r "
        "WHERE r.tenant_id = te.tenant_id AND r.person = %s) AS roles FROM ticketpilot.tickets t "
        "JOIN ticketpilot.tenants te USING (tenant_id) WHERE t.ticket_key = %s", (person, ticket_key)).fetchone()
    if row is None or not row["directory_managed"] or {Role(r) for r in row["roles"]} & GATE_ROLES:
        return None
    held = ", ".join(sorted(row["roles"])) or "no role"
    return (f"{person} may not decide gates of tenant {row['tenant_id']}: the Team Directory grants them {held}; "
            f"a decision needs the {Role.APPROVER.value} or {Role.R3_APPROVER.value} role")
