"""Error pages speak plain Chinese; the English detail goes to the log (and to API clients as `detail`)."""
from __future__ import annotations

import logging
import re

import pytest
from flask.testing import FlaskClient

from engine import Engine

from ..factories import ClueDriver
from .conftest import AuthActions

PLAN = {"measures": "分期支付", "plan_deadline": "2023-11-15", "responsible_leader": "局长",
        "responsible_person": "张伟", "contact_phone": "13800000001"}


def message_of(html: str) -> str:
    found = re.search(r'data-testid="error".*?</div>', html, re.S)
    assert found, html[:500]
    return re.sub(r"<[^>]+>", " ", found.group(0))


def no_english_sentence(text: str) -> None:
    """No run of four or more English words: the page's own words are Chinese."""
    assert not re.search(r"[A-Za-z']+(?:\s+[A-Za-z'.…]+){3,}", text), text


def test_another_groups_clue_is_refused_in_chinese(client: FlaskClient, auth: AuthActions, web_engine: Engine,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    clue = ClueDriver(web_engine)
    clue.triage(category="policy")
    auth.login("group")  # the arrears group: a policy clue is not theirs
    with caplog.at_level(logging.INFO):
        refused = client.get(f"/clues/{clue.clue_id}")
    assert refused.status_code == 403
    text = message_of(refused.get_data(as_text=True))
    assert "may not" not in text and "'group'" not in text and "权限" in text
    no_english_sentence(text)
    assert any("may not" in r.getMessage() for r in caplog.records)  # the detail is in the log


def test_not_found_pages_have_no_werkzeug_text(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("office")
    for path in ("/no-such-page", "/clues/999999"):
        response = client.get(path)
        assert response.status_code == 404, path
        text = message_of(response.get_data(as_text=True))
        assert "requested URL" not in text and "does not exist" not in text, path
        no_english_sentence(text)


def test_submitting_my_own_task_twice_says_so(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    clue.assign()
    auth.login("unit")
    task_id = clue.task_id("Task_plan")
    assert client.post(f"/tasks/{task_id}", data=PLAN).status_code == 302
    again = client.post(f"/tasks/{task_id}", data=PLAN, follow_redirects=True)
    html = again.get_data(as_text=True)
    assert "您已提交过此任务" in html and "他人" not in html and "Someone else" not in html
    assert "+00:00" not in html and "no longer ready" not in html
    assert re.search(r"2023-\d\d-\d\d \d\d:\d\d", html)  # the time, in Beijing time


def test_someone_elses_submit_names_them(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    auth.login("office")
    task_id = clue.task_id("Task_assign")
    clue.assign()  # done by the work group meanwhile
    page = client.get(f"/tasks/{task_id}")
    # an old link to the task leads to its clue, saying who did it
    assert page.status_code == 302 and page.headers["Location"] == f"/clues/{clue.clue_id}"
    html = client.get(page.headers["Location"]).get_data(as_text=True)
    text = re.sub(r"<[^>]+>", " ", html[html.index('role="alert"'):])[:300]
    assert "已办理完毕" in text and "completed by" not in text
    no_english_sentence(text)


def test_api_errors_have_a_chinese_message_and_a_detail(client: FlaskClient, auth: AuthActions,
                                                        web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage(category="policy")
    auth.login("group")
    refused = client.get(f"/api/clues/{clue.clue_id}")
    assert refused.status_code == 403 and refused.json["error"] == "forbidden"
    assert "may not" in refused.json["detail"] and re.search(r"[\u4e00-\u9fff]", refused.json["message"])
