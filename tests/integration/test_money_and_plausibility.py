"""Exact amounts and implausible values through the pages and the API (issue 11, defects 6 and 7):
the API answers 422 naming the field, amounts travel as exact strings, and a `confirm_warnings`
member (the page's "我已核实" checkbox) lets an unusual value through."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from flask.testing import FlaskClient

from engine import Engine

from ..factories import ClueDriver
from .conftest import AuthActions
from .test_api import INTAKE, ApiClient, api, assigned, token_for  # noqa: F401 - api is a fixture

TOO_BIG = "99999999999999999999"


def raw_post(api: ApiClient, url: str, body: str) -> object:
    return api.post(url, data=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("literal, reason", [(TOO_BIG, "金额过大"), (f'"{TOO_BIG}"', "金额过大"), ("1e3", "科学计数法"),
                                             ("12.345", "两位小数"), ("NaN", "NaN"), ("-0.01", "负数")])
def test_api_intake_refuses_the_amount_by_field(api: ApiClient, literal: str, reason: str) -> None:
    body = json.dumps({**INTAKE, "amount_owed": 0}).replace('"amount_owed": 0', f'"amount_owed": {literal}')
    refused = raw_post(api, "/api/clues", body)
    assert refused.status_code == 422, refused.json  # type: ignore[attr-defined]
    assert refused.json["error"] == "invalid" and reason in refused.json["fields"]["amount_owed"]  # type: ignore[attr-defined]
    assert api.get("/api/clues").json["total"] == 0


def test_api_amounts_are_exact_strings_both_ways(api: ApiClient) -> None:
    created = raw_post(api, "/api/clues", json.dumps({**INTAKE, "amount_owed": 0}).replace(
        '"amount_owed": 0', '"amount_owed": 0.10'))
    assert created.status_code == 201  # type: ignore[attr-defined]
    second = api.post("/api/clues", json={**INTAKE, "enterprise_name": "随州市乙公司", "amount_owed": "0.20"})
    assert second.status_code == 201
    clue = api.get(f"/api/clues/{created.json['clue_id']}").json  # type: ignore[attr-defined]
    assert clue["amount_owed"] == "0.10"
    stats = api.get("/api/stats?by=category").json
    assert stats["owed"] == "0.30" and stats["items"][0]["owed"] == "0.30"


def test_api_asks_to_confirm_paid_above_owed_and_takes_confirm_warnings(api: ApiClient, web_engine: Engine) -> None:
    clue = assigned(web_engine)
    clue.plan()
    unit = api.as_user(token_for(web_engine, "unit"))
    url = f"/api/tasks/{clue.task_id('Task_report')}/complete"
    data = {"amount_paid": "2000000", "feedback": "已全部支付", "completed_on": "2023-10-17"}
    asked = unit.post(url, json={"data": data})
    assert asked.status_code == 422 and asked.json["error"] == "confirmation_required"
    assert set(asked.json["fields"]) == {"amount_paid"} and asked.json["confirm_with"] == "confirm_warnings"
    assert unit.post(url, json={"data": data, "confirm_warnings": "yes"}).status_code == 422
    assert clue.ready() == ["Task_report"]
    done = unit.post(url, json={"data": data, "confirm_warnings": True})
    assert done.status_code == 200 and clue.show()["amount_paid"] == Decimal("2000000.00")


def test_api_refuses_a_completion_date_tomorrow_even_confirmed(api: ApiClient, web_engine: Engine) -> None:
    clue = assigned(web_engine)
    clue.plan()
    unit = api.as_user(token_for(web_engine, "unit"))
    refused = unit.post(f"/api/tasks/{clue.task_id('Task_report')}/complete",
                        json={"data": {"feedback": "已全部支付", "completed_on": "2023-10-18"}, "confirm_warnings": True})
    assert refused.status_code == 422 and refused.json["error"] == "invalid"
    assert refused.json["fields"] == {"completed_on": "不能晚于今天（2023-10-17）"}


def test_api_asks_to_confirm_a_2020_deadline(api: ApiClient, web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    group = api.as_user(token_for(web_engine, "group"))
    url = f"/api/tasks/{clue.task_id('Task_assign')}/complete"
    data = {"responsible_unit": "zengdu", "deadline": "2020-11-20"}
    asked = group.post(url, json={"data": data})
    assert asked.status_code == 422 and "deadline" in asked.json["fields"]
    assert group.post(url, json={"data": data, "confirm_warnings": True}).status_code == 200


def test_openapi_documents_confirm_warnings_and_string_amounts(api: ApiClient) -> None:
    doc = api.doc
    assert doc["components"]["schemas"]["TaskCompletion"]["properties"]["confirm_warnings"]["type"] == "boolean"
    assert "confirm_warnings" in doc["components"]["schemas"]["ClueIntake"]["properties"]
    assert "confirmation_required" in doc["components"]["schemas"]["ValidationError"]["properties"]["error"]["enum"]
    assert doc["components"]["schemas"]["Clue"]["properties"]["amount_owed"]["type"] == ["string", "null"]


# --- the pages ---------------------------------------------------------------------------------

def test_intake_page_refuses_a_20_digit_amount_beside_the_field(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("office")
    form = {k: v for k, v in INTAKE.items() if k != "amount_owed"}
    for typed, reason in ((TOO_BIG, "金额过大"), ("1e3", "科学计数法"), ("12.345", "两位小数")):
        page = client.post("/clues/new", data={**form, "amount_owed": typed})
        html = page.get_data(as_text=True)
        assert page.status_code == 422 and 'data-error="amount_owed"' in html and reason in html
    assert client.post("/clues/new", data={**form, "amount_owed": "1,280,000.50"}).status_code == 302


def test_task_page_warns_beside_the_field_and_the_checkbox_lets_it_through(client: FlaskClient, auth: AuthActions,
                                                                          web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    auth.login("group")
    url = f"/tasks/{clue.task_id('Task_assign')}"
    data = {"responsible_unit": "zengdu", "deadline": "2020-11-20"}
    page = client.post(url, data=data)
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and 'data-warning="deadline"' in html and "早于今天" in html
    assert 'name="confirm_warnings"' in html and "我已核实" in html
    assert 'value="2020-11-20"' in html  # what was typed stays
    assert clue.ready() == ["Task_assign"]
    assert client.post(url, data={**data, "confirm_warnings": "1"}).status_code == 302
    assert clue.ready() == ["Task_plan"]


def test_task_page_refuses_a_completion_date_tomorrow(client: FlaskClient, auth: AuthActions,
                                                      web_engine: Engine) -> None:
    clue = assigned(web_engine)
    clue.plan()
    auth.login("unit")
    page = client.post(f"/tasks/{clue.task_id('Task_report')}",
                       data={"feedback": "已全部支付", "completed_on": "2023-10-18", "confirm_warnings": "1"})
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and 'data-error="completed_on"' in html and "不能晚于今天" in html
    assert 'name="confirm_warnings"' not in html
