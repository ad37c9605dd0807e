"""The bell, the notifications page and the office's supervision buttons on the clue page."""
from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import Engine
from engine.ladder import advance_ladder
from engine.notifications import list_notifications, notify, unread_count

from ..factories import ClueDriver
from .conftest import AuthActions


@pytest.fixture
def app(app: Flask) -> Flask:
    """The app with this issue's blueprints, whether or not webui/__init__.py registers them yet."""
    for name in ("notifications", "supervision"):
        if name not in app.blueprints:
            module = importlib.import_module(f"webui.{name}")
            app.register_blueprint(module.bp)
    return app


def test_bell_shows_the_unread_count_and_is_loaded_by_every_page(client: FlaskClient, auth: AuthActions,
                                                                  web_engine: Engine) -> None:
    auth.login("unit")
    page = client.get("/inbox/").get_data(as_text=True)
    assert 'data-testid="bell"' in page and 'hx-get="/notifications/bell"' in page
    assert 'hx-trigger="load, every 60s"' in page
    assert 'data-unread="0"' in client.get("/notifications/bell").get_data(as_text=True)
    for n in range(3):
        web_engine.run(notify, ["unit:zengdu"], "test", f"通知{n}")
    web_engine.run(notify, ["role:office"], "test", "给办公室")
    bell = client.get("/notifications/bell")
    assert bell.status_code == 200 and 'data-unread="3"' in bell.get_data(as_text=True)
    assert ">3</span>" in bell.get_data(as_text=True)


def test_polling_the_bell_does_not_keep_an_idle_session_alive(client: FlaskClient, auth: AuthActions,
                                                              web_engine: Engine) -> None:
    auth.login("unit")
    assert client.get("/inbox/").status_code == 200
    for _ in range(4):  # 40 minutes of polling, no real activity
        web_engine.clock.advance(minutes=10)  # type: ignore[attr-defined]
        client.get("/notifications/bell")
    response = client.get("/inbox/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_notifications_page_lists_only_mine_and_marks_read(client: FlaskClient, auth: AuthActions,
                                                           web_engine: Engine) -> None:
    for n in range(3):
        web_engine.run(notify, ["unit:zengdu"], "test", f"单位通知{n}", "正文", None, "/inbox/")
    web_engine.run(notify, ["role:office"], "test", "办公室通知")
    auth.login("unit")
    page = client.get("/notifications/").get_data(as_text=True)
    assert "单位通知0" in page and "单位通知2" in page and "办公室通知" not in page
    ids = [i["id"] for i in web_engine.run(list_notifications, "unit")["items"]]
    office_id = web_engine.run(list_notifications, "office")["items"][0]["id"]
    assert client.post("/notifications/read", data={"ids": [str(ids[0]), str(office_id)]}).status_code == 302
    assert web_engine.run(unread_count, "unit") == 2 and web_engine.run(unread_count, "office") == 1
    followed = client.get(f"/notifications/{ids[1]}")
    assert followed.status_code == 302 and followed.headers["Location"] == "/inbox/"
    assert web_engine.run(unread_count, "unit") == 1
    assert client.get(f"/notifications/{office_id}").status_code == 404  # not mine
    client.post("/notifications/read", data={"all": "1"})
    assert web_engine.run(unread_count, "unit") == 0
    assert web_engine.run(unread_count, "unit_zengdu") == 3  # a colleague's own copies


def test_ladder_notifications_reach_the_unit_in_the_browser(client: FlaskClient, auth: AuthActions,
                                                            web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    clue.assign(deadline="2023-11-20")
    clue.plan()
    clue.at("2023-11-18T08:00:00")
    web_engine.run(advance_ladder)
    auth.login("unit")
    page = client.get("/notifications/").get_data(as_text=True)
    assert "【到期提醒】" in page and f"线索 #{clue.clue_id}" in page
    reminder = web_engine.run(list_notifications, "unit")["items"][0]
    followed = client.get(f"/notifications/{reminder['id']}")
    assert followed.headers["Location"] == f"/tasks/{clue.task_id('Task_report')}"
    assert client.get(followed.headers["Location"]).status_code == 200


def test_office_issues_a_supervision_notice_and_lists_the_clue(client: FlaskClient, auth: AuthActions,
                                                              web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    clue.assign(deadline="2023-11-20")
    auth.login("office")
    shown = client.get(f"/clues/{clue.clue_id}").get_data(as_text=True)
    assert f'hx-get="/supervision/clue/{clue.clue_id}/panel"' in shown
    panel = client.get(f"/supervision/clue/{clue.clue_id}/panel").get_data(as_text=True)
    assert 'data-testid="supervision-notice-form"' in panel and 'data-testid="supervision-listing-form"' in panel
    deadline = (web_engine.clock.now() + timedelta(days=10)).date().isoformat()
    response = client.post(f"/supervision/clue/{clue.clue_id}/notice",
                           data={"text": "请于十日内完成付款并报送凭证。", "deadline": deadline})
    assert response.status_code == 302 and response.headers["Location"] == f"/clues/{clue.clue_id}"
    client.post(f"/supervision/clue/{clue.clue_id}/listing", data={"listed": "1", "reason": "金额大、时间长"})
    shown = client.get(f"/clues/{clue.clue_id}").get_data(as_text=True)
    assert "督办单" in shown and "挂牌督办" in shown  # in the history
    panel = client.get(f"/supervision/clue/{clue.clue_id}/panel").get_data(as_text=True)
    assert 'data-testid="listed"' in panel and "请于十日内完成付款并报送凭证。" in panel
    refused = client.post(f"/supervision/clue/{clue.clue_id}/notice", data={"text": " "}, follow_redirects=True)
    assert "请填写督办内容" in refused.get_data(as_text=True)
    # the unit: its assignment, then the notice and the listing
    assert web_engine.run(unread_count, "unit") == 3 and web_engine.run(unread_count, "group") == 2
    assert web_engine.verify_history()["intact"] is True


def test_others_see_the_supervision_but_may_not_issue(client: FlaskClient, auth: AuthActions,
                                                       web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    clue.assign(deadline="2023-11-20")
    auth.login("unit")
    panel = client.get(f"/supervision/clue/{clue.clue_id}/panel").get_data(as_text=True)
    assert "supervision-notice-form" not in panel and "supervision-listing-form" not in panel
    assert client.post(f"/supervision/clue/{clue.clue_id}/notice", data={"text": "自己督办自己"}).status_code == 403
    assert client.post(f"/supervision/clue/{clue.clue_id}/listing",
                       data={"listed": "1", "reason": "x"}).status_code == 403
    auth.logout()
    auth.login("unit_suixian")
    assert client.get(f"/supervision/clue/{clue.clue_id}/panel").status_code == 403
    assert client.get(f"/supervision/clue/{clue.clue_id}").status_code == 403
