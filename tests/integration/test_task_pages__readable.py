"""Task and clue pages as their people read them (issue 11, defects 1–4).

Each test failed on the pages before this change: the unit list was empty, earlier steps
were escaped JSON, a send-back left the unit a blank form with no reason, and a checkbox
field was a text box that refused 是.
"""
from __future__ import annotations

import re
from pathlib import Path

from flask import Flask, render_template_string
from flask.testing import FlaskClient

from engine import Engine
from engine.forms import WIDGETS, FormRegistry, check_ui
from engine.notifications import list_notifications

from ..factories import ClueDriver
from .conftest import AuthActions

FORMS = Path(__file__).resolve().parents[2] / "forms"


def _options(html: str, select_name: str) -> list[tuple[str, str]]:
    block = re.search(rf'<select[^>]*name="{select_name}"[^>]*>(.*?)</select>', html, re.S)
    assert block is not None, f"no <select name={select_name}>"
    return re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', block.group(1))


def test_assignment_lists_units_by_name_lead_units_first(client: FlaskClient, auth: AuthActions,
                                                         web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()  # arrears_public: lead units 市经信局, 市财政局
    auth.login("group")
    html = client.get(f"/tasks/{clue.task_id('Task_assign')}").get_data(as_text=True)
    options = _options(html, "responsible_unit")
    assert options[:2] == [("city_econ", "市经信局"), ("city_finance", "市财政局")]
    assert ("zengdu", "曾都区人民政府") in options and len(options) >= 14
    assert '<optgroup label="牵头单位">' in html


def test_assignment_refuses_a_unit_not_in_the_directory(client: FlaskClient, auth: AuthActions,
                                                        web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    auth.login("group")
    task = clue.task_id("Task_assign")
    response = client.post(f"/tasks/{task}", data={"responsible_unit": "nowhere", "deadline": "2023-11-20"})
    assert response.status_code == 422
    assert "不在可选范围内" in response.get_data(as_text=True)
    assert clue.ready() == ["Task_assign"]


def test_earlier_steps_are_label_value_lists_in_chinese(client: FlaskClient, auth: AuthActions,
                                                        web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage(key=True)
    auth.login("group")
    html = client.get(f"/tasks/{clue.task_id('Task_assign')}").get_data(as_text=True)
    assert "\\u" not in html and "&#34;" not in html and '"accepted"' not in html
    text = re.sub(r"<[^>]+>", " ", html)
    assert re.search(r"是否受理\s+受理", text) and re.search(r"重点问题\s+是", text)
    assert re.search(r"问题类别\s+机关事业单位拖欠账款", text)
    assert re.search(r"拖欠金额（元）\s+1,280,000.00 元", text)
    assert "综合办公室" in text  # who triaged, by name and role, not `office (office)`


def test_clue_history_is_readable(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    clue.assign()
    auth.login("office")
    html = client.get(f"/clues/{clue.clue_id}").get_data(as_text=True)
    text = re.sub(r"<[^>]+>", " ", html)
    assert "instance_started" not in text and "\\u" not in html and "zengdu" not in text
    assert re.search(r"责任单位\s+曾都区人民政府", text) and "线索登记" in text


def test_review_shows_the_units_report_above_the_form(client: FlaskClient, auth: AuthActions,
                                                      web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    clue.assign()
    clue.plan()
    clue.report()
    auth.login("office")
    html = client.get(f"/tasks/{clue.task_id('Task_review')}").get_data(as_text=True)
    top, form = html.index('data-testid="shown-step"'), html.index('data-testid="task-form"')
    assert top < form
    report = re.sub(r"<[^>]+>", " ", html[top:form])
    assert "整改情况" in report and "已支付金额（元）" in report and "完成日期" in report


def test_send_back_reason_prefill_and_notice(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    clue.assign()
    clue.plan()
    clue.report()
    clue.do("Task_review", "office", {"approved": False, "opinion": "付款凭证不全，请补充银行回单",
                                      "new_deadline": "2023-11-30"})
    auth.login("unit")
    html = client.get(f"/tasks/{clue.task_id('Task_report')}").get_data(as_text=True)
    banner = html[html.index('data-testid="sent-back"'):html.index('data-testid="task-form"')]
    assert "付款凭证不全，请补充银行回单" in banner and "2023-11-30" in banner
    feedback = re.search(r'<textarea[^>]*name="feedback"[^>]*>([^<]*)</textarea>', html)
    assert feedback is not None and feedback.group(1).strip() != ""  # what the unit wrote last time
    notices = web_engine.run(list_notifications, "unit")["items"]
    assert [n["kind"] for n in notices].count("sent_back") == 1
    sent_back = next(n for n in notices if n["kind"] == "sent_back")
    assert "付款凭证不全" in sent_back["body"] and sent_back["link"] == f"/tasks/{clue.task_id('Task_report')}"
    assert "办理时限 2023-11-30" in sent_back["title"]  # the due day itself, not the moment after it
    assert any(n["kind"] == "task_assigned" for n in notices)  # the assignment itself


def test_a_checkbox_is_a_checkbox_and_unticked_means_no(client: FlaskClient, auth: AuthActions,
                                                        web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    auth.login("office")
    task = clue.task_id("Task_triage")
    html = client.get(f"/tasks/{task}").get_data(as_text=True)
    assert re.search(r'<input[^>]*type="checkbox"[^>]*name="key_problem"', html)
    response = client.post(f"/tasks/{task}", data={"accepted": "true", "category": "arrears_public", "level": "city"})
    assert response.status_code == 302
    assert web_engine.show_clue(clue.clue_id)["key_problem"] is False


def test_every_widget_a_form_names_is_one_the_renderer_has(app: Flask) -> None:
    FormRegistry(FORMS)  # refuses an unknown widget at load
    try:
        check_ui("bad", {"fields": {"x": {"widget": "slider"}}})
    except ValueError as exc:
        assert "slider" in str(exc)
    else:
        raise AssertionError("an unknown widget was accepted")
    # and the renderer draws each of them as its own kind of control
    expected = {"text": 'type="text"', "textarea": "<textarea", "number": 'inputmode="decimal"',
                "date": 'type="date"', "select": "<select", "radio": 'type="radio"',
                "checkbox": 'type="checkbox"', "table": "<table"}
    assert set(expected) == WIDGETS
    for widget, marker in expected.items():
        prop = {"type": "boolean"} if widget in ("radio", "checkbox") else \
            {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string", "title": "A"}}}} \
            if widget == "table" else {"type": "string", "enum": ["a"]} if widget == "select" else {"type": "string"}
        with app.test_request_context():
            html = render_template_string(
                '{% import "_form.html" as forms %}{{ forms.field("x", prop, ui, none, none) }}',
                prop={"title": "X", **prop}, ui={"widget": widget})
        assert marker in html, f"widget {widget} did not render ({marker} missing)"
