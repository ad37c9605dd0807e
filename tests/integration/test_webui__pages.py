"""The handler pages through the test client: sign-in rules, inbox, task form, intake, ledger."""
from __future__ import annotations

import re
from io import BytesIO

from flask.testing import FlaskClient
from openpyxl import load_workbook

from engine import Engine

from ..factories import ClueDriver
from .conftest import AuthActions


def task_ids(html: str) -> list[str]:
    return re.findall(r"/tasks/([0-9a-f-]{36})", html)


def test_pages_need_a_login(client: FlaskClient) -> None:
    response = client.get("/inbox/")
    assert response.status_code == 302 and "/auth/login" in response.location


def test_wrong_password_then_lock_out(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    for _ in range(5):
        assert auth.login("unit", "wrong-Password1").status_code == 401
    response = auth.login("unit")  # the right password, but sign-ins from here are blocked for a while
    assert response.status_code == 429 and "登录失败次数过多" in response.get_data(as_text=True)
    web_engine.clock.advance(minutes=16)  # type: ignore[attr-defined]
    assert auth.login("unit").status_code == 302


def test_idle_session_times_out(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    auth.login("office")
    assert client.get("/inbox/").status_code == 200
    web_engine.clock.advance(minutes=31)  # type: ignore[attr-defined]
    response = client.get("/inbox/")
    assert response.status_code == 302 and "/auth/login" in response.location


def test_unit_completes_a_task_after_fixing_the_form(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    clue.assign()
    auth.login("unit")
    inbox = client.get("/inbox/").get_data(as_text=True)
    [task_id] = task_ids(inbox)
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "制定整改方案" in page and "整改措施" in page
    bad = client.post(f"/tasks/{task_id}", data={"measures": "分期支付", "contact_phone": "12"})
    assert bad.status_code == 422
    errors = dict(re.findall(r'data-error="(\w+)">([^<]*)', bad.get_data(as_text=True)))
    assert set(errors) >= {"plan_deadline", "responsible_leader", "contact_phone"}
    assert 'value="分期支付"' in bad.get_data(as_text=True) or "分期支付</textarea>" in bad.get_data(as_text=True)
    assert clue.ready() == ["Task_plan"]  # nothing changed
    good = client.post(f"/tasks/{task_id}", data={"measures": "分期支付", "plan_deadline": "2023-11-15",
                                                   "responsible_leader": "局长", "responsible_person": "张伟",
                                                   "contact_phone": "13800000001"})
    assert good.status_code == 302
    assert clue.ready() == ["Task_report"]


def test_second_submit_is_told_plainly(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    task_id = clue.task_id("Task_triage")
    auth.login("office")
    data = {"accepted": "true", "category": "policy", "level": "city", "key_problem": "false"}
    assert client.post(f"/tasks/{task_id}", data=data).status_code == 302
    again = client.post(f"/tasks/{task_id}", data={**data, "category": "investment"})
    assert again.status_code == 409
    assert "investment" in again.get_data(as_text=True)  # what was typed is still on screen


def test_unit_cannot_open_another_units_task(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    clue.assign(unit="suixian")
    auth.login("unit")
    assert client.get(f"/tasks/{clue.task_id('Task_plan')}").status_code == 403
    assert client.get(f"/clues/{clue.clue_id}").status_code == 403


def test_intake_validates_uscc_and_warns_of_duplicates(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("office")
    data = {"source": "leadership", "enterprise_name": "随州市恒达建材有限公司", "debtor": "曾都区某街道办事处",
            "summary": "工程款逾期未付", "uscc": "91350100M000100Y44"}
    bad = client.post("/clues/new", data=data)
    assert bad.status_code == 422 and "校验码错误" in bad.get_data(as_text=True)
    data["uscc"] = "91350100M000100Y43"
    assert client.post("/clues/new", data=data).status_code == 302
    second = client.post("/clues/new", data=data, follow_redirects=True).get_data(as_text=True)
    assert "#1" in second and "duplicate" in second.lower() or "重复" in second


def test_ledger_export_has_exactly_the_filtered_rows(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    for n in range(3):
        ClueDriver(web_engine, enterprise_name=f"企业{n}").triage(category="policy" if n else "investment")
    auth.login("office")
    page = client.get("/ledger/?category=policy").get_data(as_text=True)
    assert 'data-testid="ledger-total">2<' in page
    export = client.get("/ledger/export.xlsx?category=policy")
    sheet = load_workbook(BytesIO(export.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "线索编号" and len(rows) == 3
    assert {r[2] for r in rows[1:]} == {"企业1", "企业2"}


def test_unit_ledger_shows_only_its_own_clues(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    mine, theirs = ClueDriver(web_engine, enterprise_name="我的企业"), ClueDriver(web_engine, enterprise_name="别人的企业")
    for clue, unit in ((mine, "zengdu"), (theirs, "suixian")):
        clue.triage()
        clue.assign(unit=unit)
    auth.login("unit")
    page = client.get("/ledger/").get_data(as_text=True)
    assert "我的企业" in page and "别人的企业" not in page
    rows = list(load_workbook(BytesIO(client.get("/ledger/export.xlsx").data)).active.iter_rows(values_only=True))
    assert [r[2] for r in rows[1:]] == ["我的企业"]
