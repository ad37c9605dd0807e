"""Issue 18 item 5: a copied session cookie dies at sign-out, password change, reset and disabling;
API tokens die at reset and disabling; no header keeps an idle session alive."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import Engine, accounts
from engine.db.models import SecurityEvent
from engine.demo import DEMO_PASSWORD

from .conftest import AuthActions

NEW_PASSWORD = "Changed#2023pw"


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding the same session cookie (what a thief would do with it)."""
    thief = app.test_client()
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief.set_cookie("session", cookie.value)
    return thief


def signed_in(answer: Any) -> bool:
    return answer.status_code == 200


def ended(web_engine: Engine, username: str) -> list[dict[str, Any]]:
    def read(ctx: Any) -> list[dict[str, Any]]:
        rows = ctx.session.scalars(select(SecurityEvent).where(SecurityEvent.kind == "sessions_ended",
                                                               SecurityEvent.target == username))
        return [{"actor": e.actor, **(e.detail or {})} for e in rows]
    return web_engine.run(read)


def test_a_copied_cookie_dies_at_sign_out(app: Flask, client: FlaskClient, auth: AuthActions,
                                          web_engine: Engine) -> None:
    auth.login("office")
    thief = copy_of(app, client)
    assert signed_in(thief.get("/inbox/"))
    auth.logout()
    assert thief.get("/inbox/").status_code == 302 and "/auth/login" in thief.get("/inbox/").location
    assert thief.get("/api/clues").status_code == 401
    assert ended(web_engine, "office") == [{"actor": "office", "reason": "logout", "tokens_revoked": 0}]
    assert auth.login("office").status_code == 302 and signed_in(client.get("/inbox/"))  # signing in again works


def test_a_copied_cookie_dies_at_a_password_change_and_the_changer_stays(app: Flask, client: FlaskClient,
                                                                         auth: AuthActions, web_engine: Engine) -> None:
    auth.login("office")
    thief = copy_of(app, client)
    assert signed_in(thief.get("/inbox/"))
    changed = client.post("/auth/password", data={"old_password": DEMO_PASSWORD, "new_password": NEW_PASSWORD,
                                                  "confirm_password": NEW_PASSWORD})
    assert changed.status_code == 302
    assert signed_in(client.get("/inbox/"))
    assert thief.get("/inbox/").status_code == 302
    assert ended(web_engine, "office")[-1]["reason"] == "password changed"


def test_a_copied_cookie_and_tokens_die_at_an_admin_reset(app: Flask, client: FlaskClient, web_engine: Engine) -> None:
    AuthActions(client).login("unit")
    thief = copy_of(app, client)
    token = web_engine.run(accounts.create_token, "unit", "宏")["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/clues", headers=bearer).status_code == 200
    admin = app.test_client()
    AuthActions(admin).login("admin")
    assert admin.post("/admin/users/unit/password", data={"password": "Reset#2023pw"}).status_code == 302
    assert client.get("/inbox/").status_code == 302 and thief.get("/inbox/").status_code == 302
    assert app.test_client().get("/api/clues", headers=bearer).status_code == 401
    assert ended(web_engine, "unit") == [{"actor": "admin", "reason": "password reset", "tokens_revoked": 1}]


def test_disabling_ends_sessions_and_tokens(app: Flask, client: FlaskClient, web_engine: Engine) -> None:
    AuthActions(client).login("unit")
    token = web_engine.run(accounts.create_token, "unit", "宏")["token"]
    admin = app.test_client()
    AuthActions(admin).login("admin")
    assert admin.post("/admin/users/unit/active", data={"active": "0"}).status_code == 302
    assert admin.post("/admin/users/unit/active", data={"active": "1"}).status_code == 302
    assert client.get("/inbox/").status_code == 302  # enabling again does not bring the session back
    assert app.test_client().get("/api/clues", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert ended(web_engine, "unit")[-1]["reason"] == "account disabled"


def test_an_authorization_header_does_not_keep_an_idle_session_alive(app: Flask, client: FlaskClient,
                                                                     auth: AuthActions, clock: Any) -> None:
    auth.login("office")
    idle = timedelta(minutes=app.config["IDLE_TIMEOUT_MINUTES"] + 1)
    clock.set(clock.now() + idle)
    assert client.get("/inbox/", headers={"Authorization": "Basic x"}).status_code == 302
    assert client.get("/inbox/").status_code == 302  # and the session is gone for good
    auth.login("office")
    clock.set(clock.now() + idle)
    assert client.get("/api/clues", headers={"Authorization": "Bearer not-a-token"}).status_code == 401


def test_activity_within_the_timeout_keeps_the_session(app: Flask, client: FlaskClient, auth: AuthActions,
                                                       clock: Any) -> None:
    auth.login("office")
    for _ in range(3):
        clock.set(clock.now() + timedelta(minutes=app.config["IDLE_TIMEOUT_MINUTES"] - 1))
        assert client.get("/inbox/", headers={"Authorization": "Basic x"}).status_code == 200
