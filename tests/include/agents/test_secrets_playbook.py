"""The secret playbook: real detect-secrets on a repository with secrets in every file type it edits, the
repository's own tests run with the variables unset, and the rewriters alone (no scanner) for their cases."""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from include.agents import tools
from include.agents.errors import AgentError
from include.agents.playbooks import secrets
from include.agents.playbooks.secret_values import Flagged
from include.agents.playbooks.secrets_config import rewrite_config
from include.agents.playbooks.secrets_python import rewrite_module
from include.contracts import Ticket
from tests.include.agents.conftest import write_files

SECRET = 103  # the demo's secret-remediation ticket
# Assembled at runtime so this file holds no secret-shaped literal for scanners to trip over.
STRIPE = "".join(("sk_", "live_", "51Hx7Qm2", "LkZp9Vw3", "Tb8RnC4d"))
GITHUB = "".join(("ghp_", "Xq7Lm2Pz9Rt4Vw8Kb3", "Nc6Hd1Fg5Js0Yu2Ae4"))
PASSWORD = "".join(("Sup3r", "S3cret", "Pw"))

REPO = {
    "pyproject.toml": '[project]\nname = "billing"\nversion = "1.0"\n\n[tool.pytest.ini_options]\npythonpath = ["."]\n',
    "billing/__init__.py": "",
    "billing/config.py": f'"""Provider settings."""\n\nBASE_URL = "https://api.example.com"\nAPI_KEY = "{STRIPE}"\n',
    "billing/client.py": (
        '"""Calls the provider."""\n\nimport logging\n\nfrom billing import config\n\n'
        "log = logging.getLogger(__name__)\n"
        f'DEFAULTS = dict(token="{GITHUB}")\n\n\n'
        "def headers() -> dict[str, str]:\n"
        f'    token = "{GITHUB}"\n'
        '    return {"Authorization": f"Bearer {token}", "X-Key": config.API_KEY}\n'
    ),
    "tests/test_billing.py": (
        "from billing import client, config\n\n\n"
        "def test_base_url():\n    assert config.BASE_URL.startswith('https://')\n\n\n"
        f"def test_fake_key_fixture():\n    assert '{STRIPE}'.startswith('sk_')\n"
    ),
    "deploy/values.yaml": f"stripe:\n  api_key: {STRIPE}  # live\n  mode: live\ndb_url: postgres://app:{PASSWORD}@db/app\n",
    "deploy/settings.json": json.dumps({"service": "billing", "github_token": GITHUB}) + "\n",
    "deploy/app.ini": f"[stripe]\nurl = https://api.example.com\napi_key = {STRIPE}\n",
    "deploy/extra.toml": f'[stripe]\nmode = "live"\napi_key = "{STRIPE}"\n',
    ".env": f"# local settings\nexport STRIPE_KEY={STRIPE}  # do not share\nDEBUG=1\n",
    "docs/notes.txt": f"The old key was {STRIPE}, rotated in May.\n",
}


def run_python(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The repository's code as its users run it: none of the moved variables set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BILLING_", "DEPLOY_", "STRIPE_"))}
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.fixture(scope="module")
def remediated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, secrets.Remediation]:
    """One remediation (two detect-secrets runs) shared by the assertions on its outcome."""
    workdir = write_files(tmp_path_factory.mktemp("secrets") / "billing", REPO)
    return workdir, secrets.remediate(workdir)


def test_every_editable_file_type_is_fixed_and_the_rest_reported(remediated: tuple[Path, secrets.Remediation]) -> None:
    workdir, done = remediated
    assert [c.path for c in done.changes] == [".env", ".env.example", "billing/client.py", "billing/config.py",
                                              "deploy/app.ini", "deploy/extra.toml", "deploy/settings.json",
                                              "deploy/values.yaml"]
    left = {(item.path, item.line): item.reason for item in done.left_for_people}
    assert set(left) == {("billing/client.py", 8), ("docs/notes.txt", 1), ("tests/test_billing.py", 9)}
    assert "evaluated when the module is imported" in left[("billing/client.py", 8)]
    assert "cannot edit safely" in left[("docs/notes.txt", 1)]
    assert "a test file" in left[("tests/test_billing.py", 9)]
    assert done.variables == {
        "BILLING_API_KEY": "billing/config.py", "BILLING_TOKEN": "billing/client.py",
        "DEPLOY_API_KEY": "deploy/app.ini", "DEPLOY_DB_URL": "deploy/values.yaml",
        "DEPLOY_GITHUB_TOKEN": "deploy/settings.json", "STRIPE_KEY": ".env",
    }
    found = tools.secret_findings(workdir, [c.path for c in done.changes])
    assert {f["filename"] for f in found} <= {"billing/client.py"}, "only the value left for a person may remain"
    assert (workdir / "billing/client.py").read_text().count(GITHUB) == 1, "the import-time literal is kept"


def test_config_files_keep_their_layout_and_parse(remediated: tuple[Path, secrets.Remediation]) -> None:
    workdir, _ = remediated
    values = (workdir / "deploy/values.yaml").read_text()
    assert values == ('stripe:\n  api_key: "${DEPLOY_API_KEY}"  # live\n  mode: live\n'
                      'db_url: "${DEPLOY_DB_URL}"\n')
    assert yaml.safe_load(values)["stripe"]["api_key"] == "${DEPLOY_API_KEY}"
    assert json.loads((workdir / "deploy/settings.json").read_text()) == {
        "service": "billing", "github_token": "${DEPLOY_GITHUB_TOKEN}"}
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(workdir / "deploy/app.ini")
    assert (ini["stripe"]["url"], ini["stripe"]["api_key"]) == ("https://api.example.com", "${DEPLOY_API_KEY}")
    assert tomllib.loads((workdir / "deploy/extra.toml").read_text())["stripe"]["api_key"] == "${DEPLOY_API_KEY}"
    assert (workdir / ".env").read_text() == "# local settings\nexport STRIPE_KEY=  # do not share\nDEBUG=1\n"
    example = (workdir / ".env.example").read_text()
    assert "# read by billing/config.py; required when used, not at import\nBILLING_API_KEY=\n" in example
    assert "# read by deploy/values.yaml as ${DEPLOY_DB_URL}; its loader must expand" in example
    assert "\nSTRIPE_KEY=\n" in example and STRIPE not in example


def test_the_package_imports_and_its_tests_pass_without_the_variables(
    remediated: tuple[Path, secrets.Remediation],
) -> None:
    workdir, _ = remediated
    tests = run_python(workdir, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert tests.returncode == 0, tests.stdout + tests.stderr
    used = run_python(workdir, "-c", "from billing import client; client.headers()")
    assert "RuntimeError: environment variable BILLING_TOKEN is not set" in used.stderr
    attribute = run_python(workdir, "-c", "from billing import config; config.API_KEY")
    assert "RuntimeError: environment variable BILLING_API_KEY is not set" in attribute.stderr
    assert secrets.env_vars_in(workdir, ["billing/config.py", "deploy/values.yaml", ".env.example"]) == {
        "BILLING_API_KEY": "billing/config.py", "DEPLOY_API_KEY": "deploy/values.yaml",
        "DEPLOY_DB_URL": "deploy/values.yaml",
    }


def test_nothing_movable_fails_with_the_list_for_a_person(tmp_path: Path, demo_ticket: Callable[..., Ticket]) -> None:
    workdir = write_files(tmp_path, {"notes.txt": f"key {STRIPE}\n", "README.md": "# x\n"})
    with pytest.raises(AgentError, match=r"move them by hand: notes.txt:1: a .txt file"):
        secrets.apply(demo_ticket(SECRET), workdir)


def flagged(*values: str, lines: tuple[int, ...] = ()) -> Flagged:
    hashes = frozenset(hashlib.sha1(v.encode(), usedforsecurity=False).hexdigest() for v in values)
    return Flagged({line: ["Secret Keyword"] for line in lines}, hashes)


def test_module_constants_become_lazy_only_when_nothing_reads_them_at_import() -> None:
    source = f'import os\n\nKEY = "{STRIPE}"\n\n\ndef auth():\n    return KEY\n'
    moved = rewrite_module("svc/keys.py", source, flagged(STRIPE, lines=(3,)), lambda name: None)
    assert moved.left == [] and moved.variables == {"SVC_KEY": "svc/keys.py"}
    assert "    return _required_env(\"SVC_KEY\")\n" in moved.text and STRIPE not in moved.text
    assert 'if name == "KEY":\n        return _required_env("SVC_KEY")' in moved.text
    assert moved.text.count("import os") == 1

    for text, imported_by, why in ((source + "HEADER = KEY\n", None, "read at import time (line 8)"),
                                   (source, "svc/app.py:2", "imported by name in svc/app.py:2")):
        kept = rewrite_module("svc/keys.py", text, flagged(STRIPE), lambda name, where=imported_by: where)
        assert kept.text == text and why in kept.left[0].reason


def test_literals_that_cannot_be_named_or_replaced_are_left() -> None:
    source = f'def f(x):\n    print("{STRIPE}")\n    return f"{GITHUB}{{x}}"\n\n\nclass C:\n    token = "{PASSWORD}"\n'
    result = rewrite_module("m.py", source, flagged(STRIPE, GITHUB, PASSWORD, lines=(2, 3, 7)), lambda name: None)
    assert result.text == source
    reasons = [(item.line, item.reason.split(":")[0]) for item in result.left]
    assert reasons == [(2, "the flagged value is not assigned to a name, keyword or dict key, so its environment "
                           "variable cannot be named safely"),
                       (3, "the flagged value is part of an f-string"),
                       (7, "the literal bound to `token` is evaluated when the module is imported (module level, "
                           "class body or default argument)")]


def test_a_value_repeated_in_a_file_is_moved_everywhere() -> None:
    text = f"a:\n  token: '{GITHUB}'\nb:\n  token: '{GITHUB}'\n"
    result = rewrite_config("conf/app.yml", text, flagged(GITHUB, lines=(2,)), "config")
    assert result.text == "a:\n  token: '${CONF_TOKEN}'\nb:\n  token: '${CONF_TOKEN}'\n" and result.left == []
    unplaceable = rewrite_config("conf/app.yml", f"keys:\n  - {GITHUB}\n", flagged(GITHUB, lines=(2,)), "config")
    assert unplaceable.left[0].line == 2 and "not the value of a key" in unplaceable.left[0].reason


def test_call_time_literals_are_named_by_keyword_dict_key_and_attribute() -> None:
    source = ("import logging\n\n\ndef connect_all(self):\n    client = connect(password='hunter2hunter2')\n"
              "    headers = {'X-Api-Token': 'abcdefabcdef'}\n    self.token = 'zzzzzzzzzzzz'\n")
    result = rewrite_module("svc/settings.py", source, flagged("hunter2hunter2", "abcdefabcdef", "zzzzzzzzzzzz"),
                            lambda name: None)
    assert result.text.startswith("import os\nimport logging\n\n\ndef _required_env(name: str) -> str:\n")
    assert "connect(password=_required_env(\"SVC_PASSWORD\"))" in result.text
    assert "{'X-Api-Token': _required_env(\"SVC_X_API_TOKEN\")}" in result.text
    assert 'self.token = _required_env("SVC_TOKEN")' in result.text
    assert sorted(secrets.env_vars_read(result.text)) == ["SVC_PASSWORD", "SVC_TOKEN", "SVC_X_API_TOKEN"]


def test_a_module_with_its_own_getattr_keeps_it_when_no_other_module_reads_the_constant() -> None:
    """Measured on prettytable: its module defines __getattr__ (deprecations), so none can be added beside it."""
    own = '\n\ndef __getattr__(name):\n    raise AttributeError(name)\n'
    source = f'import os\n\nKEY = "{STRIPE}"\n\n\ndef auth():\n    return KEY\n{own}'
    moved = rewrite_module("svc/keys.py", source, flagged(STRIPE, lines=(3,)), lambda name: None)
    assert moved.left == [] and STRIPE not in moved.text
    assert moved.text.count("def __getattr__") == 1 and 'return _required_env("SVC_KEY")' in moved.text
    read = rewrite_module("svc/keys.py", source, flagged(STRIPE, lines=(3,)),
                          lambda name: "svc/app.py:4" if name == ".KEY" else None)
    assert read.text == source and "read as a module attribute in svc/app.py:4" in read.left[0].reason

