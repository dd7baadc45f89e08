"""Roles people hold in a tenant (the Team Directory's grants) and the one check the gate store makes with them."""

from __future__ import annotations

import psycopg

from include.contracts.directory import GATE_ROLES, Role


def grants(conn: psycopg.Connection, tenant_id: str) -> set[tuple[str, Role]]:
    rows = conn.execute("SELECT person, role FROM ticketpilot.tenant_roles WHERE tenant_id = %s",
                        (tenant_id,)).fetchall()
    return {(r["person"], Role(r["role"])) for r in rows}


def grant(conn: psycopg.Connection, tenant_id: str, person: str, role: Role, email: str | None = None) -> None:
    conn.execute("INSERT INTO ticketpilot.tenant_roles (tenant_id, person, role, email) VALUES (%s, %s, %s, %s) "
                 "ON CONFLICT DO NOTHING", (tenant_id, person, role.value, email and email.lower()))


def emails(conn: psycopg.Connection, tenant_id: str) -> dict[str, str | None]:
    """Each person holding a role in the tenant -> the sign-in e-mail recorded with their grants."""
    rows = conn.execute("SELECT DISTINCT person, email FROM ticketpilot.tenant_roles WHERE tenant_id = %s",
                        (tenant_id,)).fetchall()
    return {r["person"]: r["email"] for r in rows}


def set_email(conn: psycopg.Connection, tenant_id: str, person: str, email: str | None) -> None:
    conn.execute("UPDATE ticketpilot.tenant_roles SET email = %s WHERE tenant_id = %s AND person = %s",
                 (email and email.lower(), tenant_id, person))


def vote_identities(conn: psycopg.Connection, tenant_id: str | None, approvers: list[str]) -> dict[str, str]:
    """Whose Azure DevOps PR votes decide the tenant's gates: voter sign-in name (case-folded) -> the person
    the decision is recorded for.

    A tenant the Team Directory manages maps the e-mail of everyone holding a gate role to their person id,
    the id its UI and REST decisions and its R3 named approvers use, so one person deciding on two channels
    stays one person for the four-eyes rule. Any other tenant lists its approvers by sign-in name itself.
    """
    managed = conn.execute("SELECT directory_managed FROM ticketpilot.tenants WHERE tenant_id = %s",
                           (tenant_id,)).fetchone()
    if managed is None or not managed["directory_managed"]:
        return {approver.casefold(): approver for approver in approvers}
    rows = conn.execute("SELECT DISTINCT person, email FROM ticketpilot.tenant_roles WHERE tenant_id = %s "
                        "AND role = ANY(%s) AND email IS NOT NULL",
                        (tenant_id, [r.value for r in GATE_ROLES])).fetchall()
    return {r["email"].casefold(): r["person"] for r in rows}


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
