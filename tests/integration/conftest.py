"""Web fixtures in the flaskr style: `app`, `client`, and `auth` to sign in as a demo role.

The app runs on the same per-test database as the engine fixtures, with demo accounts that
have the README's password and the clock fixed in the 2023 campaign.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import Engine, FixedClock
from engine.demo import DEMO_PASSWORD
from webui import create_app

from ..factories import prepare_engine


@pytest.fixture
def app(database_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({
        "TESTING": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False, "DATABASE_URL": database_url,
        "EVIDENCE_DIR": str(tmp_path / "evidence"), "CLOCK": clock,
    })
    prepare_engine(app.extensions["chengxin_engine"], password=DEMO_PASSWORD)
    yield app
    app.extensions["chengxin_engine"].dispose()


@pytest.fixture
def web_engine(app: Flask) -> Engine:
    return app.extensions["chengxin_engine"]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class AuthActions:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, username: str = "office", password: str = DEMO_PASSWORD) -> Any:
        return self.client.post("/auth/login", data={"username": username, "password": password})

    def logout(self) -> Any:
        return self.client.post("/auth/logout")


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)
