"""`ticketpilot` as a newcomer runs it: against the platform database the environment names, or the one a
running `make up` left in its connection file; tenants listed and shown, a real repository mirrored with its
history and the command safe to repeat, and every mistake answered with exit 2 and the fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from include.launcher import connection_file
from include.settings import get_settings
from include.store.tenants import create_tenant
from tests.include.cli.helpers import run


@pytest.fixture
def tenants(db: psycopg.Connection, forge_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETPILOT_AIRFLOW_URL", "http://tp.example:28080")
    get_settings.cache_clear()
    create_tenant(db, "acme", "acme-hook", "s3cret", "shop", ["alice", "bob"])
    create_tenant(db, "contoso", "contoso-hook", "s3cret", "web", [], scm_kind="ado", ado_org="contoso",
                  ado_project="Web")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "shop-src"
    src.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.org",
           "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.org"}
    for step in (["init", "--quiet", "--initial-branch=main"], ["commit", "--quiet", "--allow-empty", "-m", "one"],
                 ["commit", "--quiet", "--allow-empty", "-m", "two"]):
        subprocess.run(["git", *step], cwd=src, env=env, check=True)
    return src


def test_tenant_list_and_show(tenants: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "tenant", "list")
    assert code == 0
    assert out.splitlines()[1].split() == ["acme", "active", "local", "shop", "alice,", "bob"]
    assert out.splitlines()[2].split() == ["contoso", "active", "ado", "web", "-"]

    code, out, _ = run(capsys, "tenant", "show", "contoso")
    assert code == 0
    assert "ado:           contoso / Web" in out
    assert "URL:       http://tp.example:28080/ticketpilot/hooks/ado/contoso" in out
    assert "s3cret" not in out, "a secret is never printed"


def test_repo_add_mirrors_history_once_and_show_lists_it(tenants: None, source: Path, forge_dir: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "repo", "add", "acme", "shop", str(source))
    assert code == 0, out
    assert out.splitlines()[0] == "acme/shop: added"
    assert "2 commit(s), 1 branch(es), 0 tag(s)" in out
    assert "`repo:shop` (it is the tenant's default repository)" in out
    assert (forge_dir / "acme" / "shop.git" / "HEAD").is_file()

    code, out, _ = run(capsys, "repo", "add", "acme", "shop", str(source))
    assert code == 0 and out.startswith("acme/shop: unchanged")

    _, out, _ = run(capsys, "tenant", "show", "acme")
    assert "repositories:  shop" in out


@pytest.mark.parametrize(("argv", "reason"), [
    (("tenant", "show", "nobody"), "no tenant 'nobody'; `ticketpilot tenant list` shows the tenants"),
    (("repo", "add", "contoso", "web", "/nowhere"), "keeps its repositories on ado"),
    (("repo", "add", "acme", "shop", "/nowhere"), "could not add 'shop'"),
    (("repo", "add", "acme", "../up", "/nowhere"), "could not add '../up'"),
])
def test_mistakes_exit_2_with_the_fix(tenants: None, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...],
                                      reason: str, forge_dir: Path) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("ticketpilot: ") and reason in err and err.count("\n") == 1
    assert not (forge_dir / "up.git").exists()


def test_without_a_database_it_uses_the_running_platforms_connection_file(
        tenants: None, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("TICKETPILOT_DB_URL")
    monkeypatch.setenv("TICKETPILOT_HOME", str(tmp_path))
    get_settings.cache_clear()
    code, _, err = run(capsys, "tenant", "list")
    assert code == 2 and f"no running platform at {tmp_path / 'up'}" in err

    (tmp_path / "up").mkdir()
    written = connection_file.write(tmp_path / "up", {"TICKETPILOT_DB_URL": db_url, "TICKETPILOT_HOME": str(tmp_path),
                                                      "UNRELATED": "x"})
    assert oct(written.stat().st_mode & 0o777) == "0o600", "it holds the admin password: owner only"
    assert json.loads(written.read_text()) == {"TICKETPILOT_DB_URL": db_url, "TICKETPILOT_HOME": str(tmp_path)}
    code, out, _ = run(capsys, "tenant", "list")
    assert code == 0 and "acme" in out

    connection_file.remove(tmp_path / "up")
    monkeypatch.delenv("TICKETPILOT_DB_URL")
    assert run(capsys, "tenant", "list")[0] == 2


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "ticketpilot"
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, cwd="/", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "tenant" in proc.stdout and "repo" in proc.stdout and "hook" in proc.stdout


@pytest.fixture
def no_airflow(monkeypatch: pytest.MonkeyPatch) -> str:
    """An Airflow URL where nothing listens: the tenant's row is written, the pool step fails and says so."""
    from include.launcher.platform import free_port

    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("TICKETPILOT_AIRFLOW_URL", url)
    get_settings.cache_clear()
    return url


def test_tenant_add_stores_the_tenant_with_a_generated_secret_and_names_the_missing_pool(
        db: psycopg.Connection, forge_dir: Path, no_airflow: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from include.store.tenants import authenticate, get_tenant

    monkeypatch.delenv("TICKETPILOT_HOOK_SECRET", raising=False)
    code, out, err = run(capsys, "tenant", "add", "team", "--default-repo", "app", "--approver", "alice")
    assert code == 2 and out.startswith("team: added (pool tenant_team)\n  hook secret: "), \
        "the generated secret is shown even though the pool step failed: it is shown only once"
    secret = out.split("hook secret: ")[1].split()[0]
    assert f"tenant 'team' is stored, but its Airflow pool could not be made at {no_airflow}" in err
    tenant = get_tenant(db, "team")
    assert tenant is not None and (tenant.default_repo, tenant.approvers, tenant.hook_username) == \
        ("app", ["alice"], "team")
    assert authenticate(tenant, "team", secret) and len(secret) >= 32
    audit = db.execute("SELECT actor, details FROM ticketpilot.audit_log WHERE action = 'tenant.add'").fetchall()
    assert [a["details"]["changes"] for a in audit] == [["created"]]

    digest = tenant.hook_secret_sha256
    run(capsys, "tenant", "add", "team", "--default-repo", "app", "--approver", "alice", "--approver", "bob")
    again = get_tenant(db, "team")
    assert again is not None and again.approvers == ["alice", "bob"]
    assert again.hook_secret_sha256 == digest, "a rerun keeps the secret the tracker already has"
    monkeypatch.setenv("TICKETPILOT_HOOK_SECRET", "rotated-secret")
    run(capsys, "tenant", "add", "team", "--default-repo", "app", "--approver", "alice", "--approver", "bob")
    rotated = get_tenant(db, "team")
    assert rotated is not None and authenticate(rotated, "team", "rotated-secret")
    audit = db.execute("SELECT details FROM ticketpilot.audit_log WHERE action = 'tenant.add' ORDER BY id").fetchall()
    assert [a["details"]["changes"] for a in audit] == [
        ["created"], ["approvers ['alice'] -> ['alice', 'bob']"], ["hook secret rotated"]]


@pytest.mark.parametrize(("argv", "reason"), [
    (("tenant", "add", "contoso", "--default-repo", "web"), "tenant 'contoso' uses ado; its deployment provisions it"),
    (("tenant", "add", "Bad Name", "--default-repo", "web"), "tenant 'Bad Name': tenant_id:"),
    (("tenant", "add", "team", "--default-repo", "no/slash"), "tenant 'team': default_repo:"),
])
def test_tenant_add_refuses_what_it_cannot_store(tenants: None, no_airflow: str, capsys: pytest.CaptureFixture[str],
                                                 argv: tuple[str, ...], reason: str, db: psycopg.Connection) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and reason in err, err
    assert db.execute("SELECT count(*) AS n FROM ticketpilot.tenants").fetchone()["n"] == 2, "nothing stored"


def test_a_pause_without_airflow_is_kept_in_the_database_and_says_to_run_it_again(
        tenants: None, no_airflow: str, db: psycopg.Connection, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "tenant", "pause", "acme", "--reason", "release freeze")
    assert code == 2 and out == ""
    assert f"could not pause through Airflow at {no_airflow}" in err and "run the command again" in err
    _, out, _ = run(capsys, "tenant", "list")
    assert out.splitlines()[1].split()[:2] == ["acme", "paused"], "the spawner already holds the tenant's work"
    _, out, _ = run(capsys, "tenant", "show", "acme")
    assert "by " in out and ": release freeze; 0 delivery(ies) held, 0 DAG(s) paused" in out
    with pytest.raises(SystemExit, match="2"):
        run(capsys, "tenant", "pause", "acme")  # --reason is required: argparse's usage error
    assert "the following arguments are required: --reason" in capsys.readouterr().err


EXAMPLE = Path(__file__).parents[3] / "docs" / "examples" / "team-directory.yaml"


def test_directory_check_needs_no_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("TICKETPILOT_DB_URL", raising=False)
    monkeypatch.setenv("TICKETPILOT_HOME", str(tmp_path))
    get_settings.cache_clear()
    code, out, _ = run(capsys, "directory", "check", str(EXAMPLE))
    assert code == 0 and out == f"{EXAMPLE}: valid: 3 people, 1 team(s), 1 tenant(s), 7 role grant(s)\n"
    bad = tmp_path / "d.yaml"
    bad.write_text("version: 1\npeople: [{id: ann}]\n")
    code, out, err = run(capsys, "directory", "check", str(bad))
    assert code == 2 and f"ticketpilot: {bad}: people.0.name: Field required" in err


def test_directory_apply_shows_the_new_secret_even_when_airflow_is_away(
        db: psycopg.Connection, no_ledger: None, forge_dir: Path, no_airflow: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    from include.store.tenants import authenticate, get_tenant

    code, out, err = run(capsys, "directory", "apply", str(EXAMPLE))
    assert code == 2 and "2 thing(s) not done, listed above with the fix; what was done is kept" in err
    assert "not done: team-own/invoicing: not in the embedded forge and no `source` to mirror it from" in out
    assert "team-own: created on the embedded forge" in out and "team-own: grant r3_approver to alice" in out
    assert "not done: team-own: pool tenant_team-own not sized, Airflow did not answer" in out
    secret = out.split("team-own hook secret: ")[1].split()[0]
    tenant = get_tenant(db, "team-own")
    assert tenant is not None and authenticate(tenant, "team-own", secret)
    code, out, _ = run(capsys, "directory", "apply", str(EXAMPLE), "--dry-run")
    assert out.startswith(f"{EXAMPLE}: nothing to change") and "hook secret" not in out
