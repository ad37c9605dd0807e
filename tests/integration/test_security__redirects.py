"""Issue 18 item 6: after sign-in (and wherever a page sends the user back) only paths on this site."""
from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.demo import DEMO_PASSWORD

HOSTILE = ["/%09/evil.example/", "//evil.example/", "/\\evil.example/", "/%5Cevil.example/", "%0a//evil.example/",
           "https://evil.example/", "javascript:alert(1)", "/%0d%0a/evil.example", " //evil.example", "/%E3%80%80/evil.example",
           "\t/\t/evil.example"]


@pytest.mark.parametrize("target", HOSTILE)
def test_login_never_sends_the_user_off_site(client: FlaskClient, target: str) -> None:
    answer = client.post(f"/auth/login?next={target}", data={"username": "office", "password": DEMO_PASSWORD})
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/inbox/"


def test_login_keeps_a_path_on_this_site(client: FlaskClient) -> None:
    answer = client.post("/auth/login?next=/ledger/%3Fq%3D1", data={"username": "office", "password": DEMO_PASSWORD})
    assert answer.status_code == 302 and answer.headers["Location"] == "/ledger/?q=1"


@pytest.mark.parametrize(("referrer", "expected"), [
    ("https://evil.example/inbox/", "/inbox/"), ("http://localhost/tasks/7?x=1", "/tasks/7?x=1"),
    ("http://localhost//evil.example/", "/inbox/"), (None, "/inbox/")])
def test_going_back_follows_the_referrer_only_on_this_site(app: Flask, referrer: str | None, expected: str) -> None:
    from webui.redirects import back_to_referrer
    headers = {"Referer": referrer} if referrer else {}
    with app.test_request_context("/inbox/x/claim", method="POST", headers=headers):
        assert back_to_referrer() == expected
