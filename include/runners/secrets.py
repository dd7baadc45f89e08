"""Credentials an agent step hands its process (the tenant's model key, a forge token) are registered with
Airflow's secrets masker before the process starts, so a value the agent or a tool prints is `***` in the task
log, in the task process and in the supervisor alike. The model router's redaction (model_serving/router/
redaction.py) is the other half: what goes to a cloud model."""

from __future__ import annotations

import re
from collections.abc import Mapping

SECRET_NAME = re.compile(r"(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|PAT|CREDENTIALS?)$|(?:_KEY_|_TOKEN_|PASSWORD)",
                         re.IGNORECASE)
_MIN_LENGTH = 6  # shorter values would mask ordinary words everywhere


def mask_secrets(env: Mapping[str, str]) -> list[str]:
    """Register every secret-named variable's value with the masker; returns the names registered."""
    from airflow.sdk.log import mask_secret

    masked = []
    for name, value in env.items():
        if value and len(value) >= _MIN_LENGTH and SECRET_NAME.search(name):
            mask_secret(value)  # no name: Airflow would skip a name it does not itself consider sensitive (PAT)
            masked.append(name)
    return sorted(masked)
