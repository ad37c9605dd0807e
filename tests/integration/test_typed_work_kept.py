"""A form submitted after its session ended keeps what was typed (issue 11, defect 5): signed out in
another tab, idle timeout, or a CSRF token from a replaced session. Nothing is submitted, the
user is told in Chinese, and after signing in the same form shows the same text."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine import Engine, FixedClock
from engine.db.intake_models import KeptForm
from engine.db.models import Clue
from engine.demo import DEMO_PASSWORD
from webui import create_app

from ..factories import ClueDriver, prepare_engine

KEPT = "请重新登录后再提交，您填写的内容已保留"
RESTORED = "已恢复您重新登录前填写的内容"
SUMMARY = "道路工程款自2022年起逾期未付，企业多次催要无果，涉及金额较大，请尽快核实。"
FORM = {"source": "leadership", "enterprise_name": "随州市恒达建材有限公司", "debtor": "曾都区某街道办事处",
        "summary": SUMMARY, "amount_owed": "50000"}


@pytest.fixture
def csrf_app(database_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": True, "DATABASE_URL": database_url,
                      "EVIDENCE_DIR": str(tmp_path / "evidence"), "CLOCK": clock})
    prepare_engine(app.extensions["chengxin_engine"], password=DEMO_PASSWORD)
    yield app
    app.extensions["chengxin_engine"].dispose()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html)[1]  # type: ignore[index]


def sign_in(client: FlaskClient, username: str = "office", next_url: str | None = None) -> str:
    """Signs in through the login page; returns the page it lands on."""
    token = csrf_of(client.get("/auth/login").get_data(as_text=True))
    url = "/auth/login" + (f"?next={next_url}" if next_url else "")
    answer = client.post(url, data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token},
                         follow_redirects=True)
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def clue_count(engine: Engine) -> int:
    with engine.transaction() as ctx:
        return ctx.session.scalar(select(func.count()).select_from(Clue)) or 0


def kept_rows(engine: Engine) -> int:
    with engine.transaction() as ctx:
        return ctx.session.scalar(select(func.count()).select_from(KeptForm)) or 0


def sign_out_elsewhere(client: FlaskClient) -> None:
    """Another tab of the same browser signs out (it shares the session cookie)."""
    token = csrf_of(client.get("/inbox/").get_data(as_text=True))
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 302


def test_signed_out_in_another_tab_the_intake_form_comes_back_filled(csrf_app: Flask) -> None:
    engine = csrf_app.extensions["chengxin_engine"]
    client = csrf_app.test_client()
    sign_in(client)
    form = client.get("/clues/new").get_data(as_text=True)
    data = {**FORM, "csrf_token": csrf_of(form), "submission_token": re.search(
        r'name="submission_token" value="([^"]+)"', form)[1]}  # type: ignore[index]
    sign_out_elsewhere(client)

    answer = client.post("/clues/new", data=data)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/auth/login?next=/clues/new")
    login = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert KEPT in login and "Bad Request" not in login and "The CSRF" not in login
    assert clue_count(engine) == 0 and kept_rows(engine) == 1

    page = sign_in(client, next_url="/clues/new")
    assert RESTORED in page and SUMMARY in page and "随州市恒达建材有限公司" in page
    assert 'value="50000"' in page  # as typed, not 50000.0
    assert data["submission_token"] in page  # the same form instance: submitting it still counts once
    assert kept_rows(engine) == 0  # taken once
    again = client.get("/clues/new").get_data(as_text=True)
    assert SUMMARY not in again and RESTORED not in again


def test_idle_timeout_keeps_a_task_form(csrf_app: Flask, clock: FixedClock) -> None:
    engine = csrf_app.extensions["chengxin_engine"]
    clue = ClueDriver(engine)
    clue.triage()
    clue.assign(unit="zengdu")
    task = clue.task_id("Task_plan")
    client = csrf_app.test_client()
    sign_in(client, "unit")
    token = csrf_of(client.get(f"/tasks/{task}").get_data(as_text=True))
    clock.advance(minutes=31)
    plan = {"measures": "分三期支付，首期十一月底前到账", "plan_deadline": "2023-11-15", "responsible_leader": "局长",
            "responsible_person": "张伟", "contact_phone": "13800000001", "csrf_token": token}
    answer = client.post(f"/tasks/{task}", data=plan)
    assert answer.status_code == 302 and f"next=/tasks/{task}" in answer.headers["Location"]
    assert KEPT in client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Task_plan" in clue.ready()  # nothing was submitted

    page = sign_in(client, "unit", next_url=f"/tasks/{task}")
    assert RESTORED in page and "分三期支付，首期十一月底前到账" in page and "张伟" in page


def test_a_kept_form_never_reaches_another_user(csrf_app: Flask, clock: FixedClock) -> None:
    engine = csrf_app.extensions["chengxin_engine"]
    engine.create_users([("office2", "综合办公室二", "office", None, None)], password=DEMO_PASSWORD)
    client = csrf_app.test_client()
    sign_in(client)
    token = csrf_of(client.get("/clues/new").get_data(as_text=True))
    clock.advance(minutes=31)  # the idle timeout knows who was signed in
    assert client.post("/clues/new", data={**FORM, "csrf_token": token}).status_code == 302
    assert kept_rows(engine) == 1
    page = sign_in(client, "office2", next_url="/clues/new")  # someone else at the same browser
    assert SUMMARY not in page and RESTORED not in page
    assert kept_rows(engine) == 0  # dropped, not left for later


def test_a_replaced_session_token_while_signed_in_goes_straight_back_to_the_filled_form(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    sign_in(client)
    stale = csrf_of(client.get("/clues/new").get_data(as_text=True))
    sign_out_elsewhere(client)
    sign_in(client)  # signed in again in the other tab: a new session, a new CSRF token
    answer = client.post("/clues/new", data={**FORM, "csrf_token": stale})
    assert answer.status_code == 302 and answer.headers["Location"] == "/clues/new"
    page = client.get("/clues/new").get_data(as_text=True)
    assert KEPT in page and RESTORED in page and SUMMARY in page


def test_other_expired_posts_say_so_in_chinese(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    sign_in(client)
    answer = client.post("/auth/password", data={"old_password": "x"})  # no CSRF token at all
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "页面已过期" in html and "The CSRF" not in html
