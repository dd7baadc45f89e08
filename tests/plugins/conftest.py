"""The ingress app as its hooks' callers reach it: mounted under its URL prefix, served over a test client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from plugins.ingress.app import URL_PREFIX, create_app

JWT_SECRET = "ticketpilot-test-jwt-secret-" + "x" * 64
Token = Callable[..., str]


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def make_client(db_url: str, **limits: Any) -> Iterator[TestClient]:
    """A client of an ingress app with these limits (`hook_rate_per_s`, `hook_max_in_flight`, ...), closed after."""
    app = create_app(db_url, **limits)
    root = FastAPI()
    root.mount(URL_PREFIX, app)
    with TestClient(root) as client:
        yield client
    app.state.ingress.close()


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    yield from make_client(db_url)


@pytest.fixture(scope="module")
def auth_manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Airflow's default auth manager with a known signing secret and a metadata DB for revocations."""
    from airflow import settings
    from airflow.api_fastapi.app import create_auth_manager, purge_cached_app
    from airflow.api_fastapi.auth.managers.base_auth_manager import BaseAuthManager
    from airflow.models.revoked_token import RevokedToken

    def reset() -> None:
        BaseAuthManager._get_token_signer.cache_clear()
        BaseAuthManager._get_token_validator.cache_clear()
        purge_cached_app()
        settings.configure_vars()
        settings.reconfigure_orm()

    metadata = tmp_path_factory.mktemp("airflow") / "airflow.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{metadata}")
        mp.setenv("AIRFLOW__API_AUTH__JWT_SECRET", JWT_SECRET)
        mp.setenv("AIRFLOW__CORE__AUTH_MANAGER",
                  "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager")
        reset()
        RevokedToken.__table__.create(settings.engine)
        yield create_auth_manager()
    reset()


@pytest.fixture
def token(auth_manager: Any) -> Token:
    def make(username: str, role: str = "user") -> str:
        from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

        return auth_manager.generate_jwt(SimpleAuthManagerUser(username=username, role=role))

    return make
