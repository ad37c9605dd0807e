"""The reports pages: the dispatch notice form and its download for any period (bad periods
answered on the form, never with a 500), the year-end page listing the units with links, and the
downloads each reader may have."""
from __future__ import annotations

import re
from io import BytesIO
from urllib.parse import unquote

import docx
from flask.testing import FlaskClient

from engine import Engine
from engine.ladder import list_for_supervision

from ..factories import ClueDriver
from .conftest import AuthActions

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def field_errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-error="(\w+)">([^<]*)', html))


def text_of(content: bytes) -> str:
    document = docx.Document(BytesIO(content))
    cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def download_name(response: object) -> str:
    disposition = response.headers["Content-Disposition"]  # type: ignore[attr-defined]
    assert disposition.startswith("attachment;")
    return unquote(disposition.split("filename*=UTF-8''")[1])


def test_office_downloads_a_notice_for_the_period(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    late = ClueDriver(web_engine, enterprise_name="随州市迟办建材有限公司")
    late.triage()
    late.assign(deadline="2023-11-01")
    web_engine.run(list_for_supervision, "office", late.clue_id, True, "久拖未决")
    web_engine.clock.set("2023-11-06T09:00:00")  # type: ignore[attr-defined]
    auth.login("office")
    page = client.get("/reports/dispatch?lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'href="/reports/dispatch"' in html  # the nav link
    assert 'name="start" type="date"\n    value="2023-10-17"' in html and 'value="2023-11-06"' in html
    assert 'name="number" type="number"\n    value="3"' in html  # the issue number: the campaign's third week
    response = client.get("/reports/dispatch/notice.docx?start=2023-10-17&end=2023-11-05&number=5&issuer=")
    assert response.status_code == 200 and response.mimetype == DOCX
    assert download_name(response) == "调度通报第5期（20231017-20231105）.docx"
    assert response.headers["Cache-Control"] == "no-store"
    text = text_of(response.data)
    assert "（第5期）" in text and "本期共登记问题线索1条" in text
    assert text.count(f"#{late.clue_id}") == 2  # overdue and listed for supervision
    assert client.get("/reports/year-end?lang=en").status_code == 200


BAD_PERIODS = [
    ("start=2023-11-20&end=2023-11-01", "end", "结束日期早于开始日期"),
    ("start=2023-02-30", "start", "应为日期（YYYY-MM-DD）"),
    ("end=tomorrow", "end", "应为日期（YYYY-MM-DD）"),
    ("number=-2", "number", "期数应为 1 至 999 的整数"),
]


def test_bad_periods_come_back_on_the_form(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("supervisor")
    for query, field, message in BAD_PERIODS:
        for path in ("/reports/dispatch/notice.docx", "/reports/dispatch"):
            response = client.get(f"{path}?{query}&lang=en")
            html = response.get_data(as_text=True)
            assert response.status_code == 422 and response.mimetype == "text/html", (path, query)
            assert field_errors(html) == {field: message}, (path, query)
            assert 'data-testid="problem"' in html and 'data-testid="dispatch-form"' in html


def test_a_unit_sees_its_own_summary_only(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    auth.login("unit")
    page = client.get("/reports/year-end?lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'href="/reports/year-end"' in html  # the unit's nav link
    assert re.findall(r'data-unit="(\w+)"', html) == ["zengdu"]
    assert 'href="/reports/year-end/unit/zengdu.docx?campaign=1"' in html and "city.docx" not in html
    own = client.get("/reports/year-end/unit/zengdu.docx?campaign=1")
    assert own.status_code == 200 and download_name(own) == "曾都区人民政府2023年度专项行动工作总结.docx"
    assert "本单位尚未报送工作总结。" in text_of(own.data)
    assert client.get("/reports/year-end/unit/suixian.docx").status_code == 403
    assert client.get("/reports/year-end/city.docx").status_code == 403
    assert client.get("/reports/dispatch").status_code == 403
    auth.logout()
    auth.login("group")  # no link, no page
    assert "/reports/" not in client.get("/inbox/").get_data(as_text=True)
    assert client.get("/reports/year-end").status_code == 403


def test_office_lists_every_unit_and_the_city(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    web_engine.start_unit_reporting("office")
    task = [t["id"] for t in web_engine.tasks("unit")["items"] if t["name"] == "Task_contacts"][0]
    web_engine.complete_task(task, "unit", {"leader_name": "王强", "leader_title": "副区长", "contact_name": "张伟",
                                            "contact_phone": "13800000001"})
    task = [t["id"] for t in web_engine.tasks("unit")["items"] if t["name"] == "Task_self_inspection"][0]
    web_engine.complete_task(task, "unit", {"none_found": True})
    task = [t["id"] for t in web_engine.tasks("unit")["items"] if t["name"] == "Task_summary"][0]
    web_engine.complete_task(task, "unit", {"summary": "年度工作总结正文"})
    auth.login("office")
    html = client.get("/reports/year-end?lang=en").get_data(as_text=True)
    assert len(re.findall(r'data-unit="(\w+)"', html)) == 14
    assert "Reported 2023-10-17 09:00" in html and html.count("Not reported yet") == 13
    city = client.get("/reports/year-end/city.docx")
    assert city.status_code == 200 and "年度工作总结正文" in text_of(city.data)
    assert client.get("/reports/year-end/unit/nowhere.docx").status_code == 404
    assert client.get("/reports/year-end?campaign=99").status_code == 404
    assert client.get("/reports/year-end?campaign=abc").status_code == 400
