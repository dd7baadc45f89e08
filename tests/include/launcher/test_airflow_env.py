"""The embedded platform's generated secrets: made once per state folder, kept across restarts, and a folder
from before a secret existed gains it without losing the others (sessions, tokens and encrypted values stay
valid)."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.fernet import Fernet

from include.launcher.airflow_env import PlatformPaths, _secrets


def test_secrets_are_made_once_and_the_fernet_key_works(tmp_path: Path) -> None:
    paths = PlatformPaths(tmp_path)
    first = _secrets(paths)
    assert _secrets(paths) == first, "a restart keeps every secret"
    assert paths.secrets_file.stat().st_mode & 0o777 == 0o600
    token = Fernet(first["fernet_key"].encode()).encrypt(b"webhook secret")
    assert Fernet(_secrets(paths)["fernet_key"].encode()).decrypt(token) == b"webhook secret"


def test_an_older_state_folder_gains_the_fernet_key_and_keeps_its_secrets(tmp_path: Path) -> None:
    paths = PlatformPaths(tmp_path)
    paths.secrets_file.parent.mkdir(parents=True, exist_ok=True)
    paths.secrets_file.write_text(json.dumps({"jwt_secret": "old-jwt", "api_secret_key": "old-api"}))
    values = _secrets(paths)
    assert (values["jwt_secret"], values["api_secret_key"]) == ("old-jwt", "old-api")
    assert Fernet(values["fernet_key"].encode())
    assert json.loads(paths.secrets_file.read_text()) == values
