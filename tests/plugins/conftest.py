"""The ingress app as its hooks' callers reach it: mounted under its URL prefix, served over a test client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from plugins.ingress.app import URL_PREFIX, create_app


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
