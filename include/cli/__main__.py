"""Ticketpilot from a shell: a team's tenants, its repositories and the hook its tracker calls.

    ticketpilot tenant add TENANT --default-repo REPO [--approver NAME]... [--pool-slots N]
    ticketpilot tenant list
    ticketpilot tenant show TENANT
    ticketpilot tenant pause TENANT --reason TEXT
    ticketpilot tenant resume TENANT
    ticketpilot repo add TENANT NAME SOURCE [--default-branch BRANCH]
    ticketpilot directory check FILE
    ticketpilot directory apply FILE [--dry-run]
    ticketpilot hook show TENANT
    ticketpilot backup take|list [--dir DIR]
    ticketpilot backup drill MANIFEST
    ticketpilot backup restore MANIFEST --into DATABASE
    ticketpilot outbox dead
    ticketpilot outbox replay ID
    ticketpilot router issue-token TENANT [--label TEXT]
    ticketpilot router tokens [--tenant TENANT]
    ticketpilot router revoke-token TOKEN_ID
    ticketpilot policy set TENANT FILE
    ticketpilot policy show TENANT
    ticketpilot breakglass enroll ADMIN
    ticketpilot breakglass open TENANT --code CODE --reason TEXT [--admin ADMIN] [--minutes N]
    ticketpilot breakglass close ID
    ticketpilot breakglass list

It talks to the platform the environment names (`TICKETPILOT_DB_URL`, ...), else to the one `make up` is
running (its `connection.json`, include/launcher/connection_file.py). Every subcommand is idempotent and says
what it changed. Exit 0 on success, 2 with one line on stderr for anything a person must fix.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from include.cli import (
    backup_commands,
    breakglass_commands,
    commands,
    outbox_commands,
    policy_commands,
    router_commands,
)
from include.cli.commands import CliError
from include.launcher import connection_file
from include.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ticketpilot", description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", type=Path, default=None,
                        help="the state folder of a running `make up` (default: $TICKETPILOT_HOME/up)")
    nouns = parser.add_subparsers(dest="noun", required=True)

    tenant = nouns.add_parser("tenant", help="tenants").add_subparsers(dest="verb", required=True)
    tenant.add_parser("list", help="every tenant, its forge and default repository")
    tenant.add_parser("show", help="one tenant in full").add_argument("tenant")
    tenant_add = tenant.add_parser("add", help="a tenant on the embedded forge, with its Airflow pool (hook secret: "
                                               "generated and shown once, or $TICKETPILOT_HOOK_SECRET)")
    tenant_add.add_argument("tenant")
    tenant_add.add_argument("--default-repo", required=True, help="the repository a ticket without `repo:` works on")
    tenant_add.add_argument("--approver", action="append", default=[], help="an Airflow user who may approve gates "
                                                                             "(repeat for more)")
    tenant_add.add_argument("--pool-slots", type=int, default=4, help="agent steps of this tenant at once")

    tenant_pause = tenant.add_parser("pause", help="stop the tenant's agent work: deliveries are stored and held, "
                                                   "its ticket DAGs paused")
    tenant_pause.add_argument("tenant")
    tenant_pause.add_argument("--reason", required=True, help="why, for the audit log and `tenant show`")
    tenant.add_parser("resume", help="undo a pause and start what it held").add_argument("tenant")

    repo = nouns.add_parser("repo", help="repositories").add_subparsers(dest="verb", required=True)
    add = repo.add_parser("add", help="mirror a repository (a path or git URL) with its whole history into the "
                                      "tenant's embedded forge")
    add.add_argument("tenant")
    add.add_argument("name", help="the repository's name in the forge (what a ticket's `repo:` tag names)")
    add.add_argument("source", help="a path to a git repository, or a file://, https:// or ssh URL")
    add.add_argument("--default-branch", help="the branch tickets start from (default: the source's HEAD)")

    directory = nouns.add_parser("directory", help="the Team Directory (people, teams, tenants, roles, repositories)"
                                 ).add_subparsers(dest="verb", required=True)
    directory.add_parser("check", help="validate a directory file; touches nothing").add_argument("file", type=Path)
    apply = directory.add_parser("apply", help="bring tenants, roles, pools, budgets, repositories and CODEOWNERS to "
                                               "what the file says")
    apply.add_argument("file", type=Path)
    apply.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")

    hook = nouns.add_parser("hook", help="service hooks").add_subparsers(dest="verb", required=True)
    hook.add_parser("show", help="what to paste into the tracker's service-hook subscription").add_argument("tenant")

    backup = nouns.add_parser("backup", help="backups of the platform database and the restore drill"
                              ).add_subparsers(dest="verb", required=True)
    for verb, text in (("take", "pg_dump the platform database now (the nightly DAG does this at 03:15 UTC)"),
                       ("list", "the backups kept, newest first")):
        backup.add_parser(verb, help=text).add_argument(
            "--dir", type=Path, default=None, help="default: $TICKETPILOT_BACKUP_DIR or $TICKETPILOT_HOME/backups")
    backup.add_parser("drill", help="restore a backup into a scratch database, verify it, drop it").add_argument(
        "manifest", type=Path)
    restore = backup.add_parser("restore", help="restore a backup into a new database, verified, and keep it")
    restore.add_argument("manifest", type=Path)
    restore.add_argument("--into", required=True, help="the new database's name (never an existing one)")

    outbox = nouns.add_parser("outbox", help="accepted deliveries whose run never started (dead letters)"
                              ).add_subparsers(dest="verb", required=True)
    outbox.add_parser("dead", help="the rows given up on after every replay, with their last error")
    outbox.add_parser("replay", help="hand a given-up row to the spawner again (after fixing the cause)"
                      ).add_argument("id", type=int)

    router = nouns.add_parser("router", help="credentials of the model router's HTTP face"
                              ).add_subparsers(dest="verb", required=True)
    issue = router.add_parser("issue-token", help="a new token for a tenant, shown once")
    issue.add_argument("tenant")
    issue.add_argument("--label", default="", help="what it is for, e.g. the tool that calls")
    router.add_parser("tokens", help="every token, live or revoked (never the secret)").add_argument("--tenant")
    router.add_parser("revoke-token", help="refuse a token from its next request on").add_argument("token_id")

    policy = nouns.add_parser("policy", help="a tenant's own Rego bundle (it can only tighten the platform's)"
                              ).add_subparsers(dest="verb", required=True)
    policy_set = policy.add_parser("set", help="check a bundle and put it in force as the tenant's newest version")
    policy_set.add_argument("tenant")
    policy_set.add_argument("file", type=Path, help="a Rego module in `package ticketpilot.tenant`")
    policy.add_parser("show", help="the tenant's bundle in force").add_argument("tenant")

    glass = nouns.add_parser("breakglass", help="a platform admin's TOTP-confirmed override of a tenant's gates, "
                                               "at most an hour").add_subparsers(dest="verb", required=True)
    glass.add_parser("enroll", help="a TOTP secret for an admin (shown once)").add_argument("admin")
    glass_open = glass.add_parser("open", help="open a window: the admin alone decides the tenant's gates")
    glass_open.add_argument("tenant")
    glass_open.add_argument("--code", required=True, help="the current code of the admin's authenticator app")
    glass_open.add_argument("--reason", required=True, help="why, for the audit log")
    glass_open.add_argument("--admin", default=None, help="default: $USER")
    glass_open.add_argument("--minutes", type=int, default=60, help="1 to 60 (default 60)")
    glass.add_parser("close", help="end a window now").add_argument("id", type=int)
    glass.add_parser("list", help="recent windows, open, expired and closed")

    args = parser.parse_args(argv)
    try:
        if (args.noun, args.verb) == ("directory", "check"):  # a file check needs no platform (CI of the file)
            print(commands.directory_check(args.file))
            return 0
        _adopt_platform(args.platform)
        handler = {("tenant", "list"): lambda: commands.tenant_list(),
                   ("tenant", "show"): lambda: commands.tenant_show(args.tenant),
                   ("tenant", "add"): lambda: commands.tenant_add(args.tenant, args.default_repo, args.approver,
                                                                  args.pool_slots),
                   ("tenant", "pause"): lambda: commands.tenant_pause(args.tenant, args.reason),
                   ("tenant", "resume"): lambda: commands.tenant_resume(args.tenant),
                   ("repo", "add"): lambda: commands.repo_add(args.tenant, args.name, args.source,
                                                              args.default_branch),
                   ("directory", "apply"): lambda: commands.directory_apply(args.file, args.dry_run),
                   ("hook", "show"): lambda: commands.hook_show(args.tenant),
                   ("backup", "take"): lambda: backup_commands.backup_take(args.dir),
                   ("backup", "list"): lambda: backup_commands.backup_list(args.dir),
                   ("backup", "drill"): lambda: backup_commands.backup_drill(args.manifest),
                   ("backup", "restore"): lambda: backup_commands.backup_restore(args.manifest, args.into),
                   ("outbox", "dead"): lambda: outbox_commands.outbox_dead(),
                   ("outbox", "replay"): lambda: outbox_commands.outbox_replay(args.id),
                   ("router", "issue-token"): lambda: router_commands.router_issue_token(args.tenant, args.label),
                   ("router", "tokens"): lambda: router_commands.router_tokens(args.tenant),
                   ("router", "revoke-token"): lambda: router_commands.router_revoke_token(args.token_id),
                   ("policy", "set"): lambda: policy_commands.policy_set(args.tenant, args.file),
                   ("policy", "show"): lambda: policy_commands.policy_show(args.tenant),
                   ("breakglass", "enroll"): lambda: breakglass_commands.breakglass_enroll(args.admin),
                   ("breakglass", "open"): lambda: breakglass_commands.breakglass_open(
                       args.tenant, args.admin, args.code, args.reason, args.minutes),
                   ("breakglass", "close"): lambda: breakglass_commands.breakglass_close(args.id),
                   ("breakglass", "list"): lambda: breakglass_commands.breakglass_list(),
                   }[(args.noun, args.verb)]
        print(handler())
    except CliError as exc:
        if exc.output:
            print(exc.output)
        print(f"ticketpilot: {exc}", file=sys.stderr)
        return 2
    return 0


def _adopt_platform(home: Path | None) -> None:
    """Take the running platform's settings, unless the environment already names a database."""
    if os.environ.get("TICKETPILOT_DB_URL") and home is None:
        return
    home = home or get_settings().home / "up"
    found = connection_file.read(home)
    if found is None:
        raise CliError(f"no running platform at {home} (start one with `make up`, pass --platform, or set "
                       "TICKETPILOT_DB_URL)")
    os.environ.update(found)
    get_settings.cache_clear()


if __name__ == "__main__":
    sys.exit(main())
