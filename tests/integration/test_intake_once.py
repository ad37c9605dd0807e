"""登记 registers a clue once per form instance (issue 11, defect 8): a double click, Back and submit
again, two threads at once, or an API client retrying with its Idempotency-Key make one clue,
and the second submitter lands on the clue already made with a Chinese notice."""
from __future__ import annotations

import re
import threading
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine import Engine
from engine.db.models import Clue

from .conftest import AuthActions
from .test_api import INTAKE, ApiClient, token_for

FORM = {"source": "leadership", "enterprise_name": "随州市恒达建材有限公司", "debtor": "曾都区某街道办事处",
        "summary": "工程款逾期未付", "amount_owed": "50000"}
NOTICE = "该线索已登记，未重复提交"


def clue_count(engine: Engine) -> int:
    with engine.transaction() as ctx:
        return ctx.session.scalar(select(func.count()).select_from(Clue)) or 0


def token_on(html: str) -> str:
    found = re.search(r'name="submission_token" value="([^"]+)"', html)
    assert found, "the intake form carries no submission token"
    return found.group(1)


def test_the_form_carries_a_new_token_each_time(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("office")
    first, second = (token_on(client.get("/clues/new").get_data(as_text=True)) for _ in range(2))
    assert first != second and len(first) >= 32


def test_double_click_registers_one_clue(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    auth.login("office")
    data = {**FORM, "submission_token": token_on(client.get("/clues/new").get_data(as_text=True))}
    first = client.post("/clues/new", data=data)
    second = client.post("/clues/new", data=data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert clue_count(web_engine) == 1
    page = client.get(second.headers["Location"]).get_data(as_text=True)
    assert NOTICE in page and "duplicate" not in page.lower()


def test_back_and_resubmit_lands_on_the_clue_already_registered(client: FlaskClient, auth: AuthActions,
                                                                 web_engine: Engine) -> None:
    auth.login("office")
    token = token_on(client.get("/clues/new").get_data(as_text=True))
    registered = client.post("/clues/new", data={**FORM, "submission_token": token}, follow_redirects=True)
    assert "已登记" in registered.get_data(as_text=True)
    # Back shows the same page (same token); the user edits a word and submits again.
    again = client.post("/clues/new", data={**FORM, "summary": "工程款逾期未付（补充）", "submission_token": token},
                        follow_redirects=True)
    assert again.status_code == 200 and NOTICE in again.get_data(as_text=True)
    assert clue_count(web_engine) == 1
    # Back may also re-fetch the page (a new token) while the browser refills the typed fields:
    # the very same data from the same user soon after is that registration again.
    refetched = client.post("/clues/new", data={**FORM, "submission_token": token_on(
        client.get("/clues/new").get_data(as_text=True))}, follow_redirects=True)
    assert NOTICE in refetched.get_data(as_text=True) and clue_count(web_engine) == 1
    assert client.post("/clues/new", data={**FORM, "enterprise_name": "湖北随星汽车零部件有限公司",
                                           "submission_token": token_on(client.get("/clues/new").get_data(
                                               as_text=True))}).status_code == 302
    assert clue_count(web_engine) == 2  # a new form with other data is a new clue


def test_a_refused_form_keeps_its_token_so_the_corrected_one_still_counts_once(
        client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    auth.login("office")
    token = token_on(client.get("/clues/new").get_data(as_text=True))
    refused = client.post("/clues/new", data={**FORM, "summary": "", "submission_token": token})
    assert refused.status_code == 422 and token_on(refused.get_data(as_text=True)) == token
    assert client.post("/clues/new", data={**FORM, "submission_token": token}).status_code == 302
    assert client.post("/clues/new", data={**FORM, "submission_token": token}).status_code == 302
    assert clue_count(web_engine) == 1


def test_two_posts_at_the_same_moment_register_one_clue(app: Flask, auth: AuthActions, client: FlaskClient,
                                                         web_engine: Engine) -> None:
    auth.login("office")
    data = {**FORM, "submission_token": token_on(client.get("/clues/new").get_data(as_text=True))}
    cookie = client.get_cookie("session")
    assert cookie is not None
    start = threading.Barrier(2)
    answers: list[Any] = []

    def post() -> None:
        own = app.test_client()  # one client per thread, sharing the signed-in session cookie
        own.set_cookie("session", cookie.value)
        start.wait(timeout=10)
        answers.append(own.post("/clues/new", data=data))

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a.status_code for a in answers] == [302, 302]
    assert len({a.headers["Location"] for a in answers}) == 1
    assert clue_count(web_engine) == 1


def test_api_idempotency_key(app: Flask, client: FlaskClient, web_engine: Engine) -> None:
    api = ApiClient(app, client, token_for(web_engine, "office"))
    first = api.post("/api/clues", json=INTAKE, headers={"Idempotency-Key": "7d0c9e1a-retry"})
    retry = api.post("/api/clues", json=INTAKE, headers={"Idempotency-Key": "7d0c9e1a-retry"})
    assert first.status_code == 201 and retry.status_code == 200
    assert retry.json["clue_id"] == first.json["clue_id"] and retry.json["replayed"] is True
    assert retry.headers["Idempotent-Replayed"] == "true" and retry.headers["Location"] == first.headers["Location"]
    other = api.post("/api/clues", json={**INTAKE, "summary": "另一件事"}, headers={"Idempotency-Key": "7d0c9e1a-retry"})
    assert other.status_code == 422 and "Idempotency-Key" in other.json["fields"]
    assert api.post("/api/clues", json=INTAKE, headers={"Idempotency-Key": "含 空格"}).status_code == 422
    assert clue_count(web_engine) == 1
    assert api.post("/api/clues", json=INTAKE).status_code == 201  # no key: registered again, as before
    assert clue_count(web_engine) == 2
    doc = client.get("/api/openapi.json").get_json()
    assert any(p["name"] == "Idempotency-Key" for p in doc["paths"]["/api/clues"]["post"]["parameters"])
