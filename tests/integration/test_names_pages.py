"""What a person reads: names from the directory and the vocabulary, never codes; labelled filters."""
from __future__ import annotations

import re
from datetime import datetime
from io import BytesIO

from flask.testing import FlaskClient
from openpyxl import load_workbook

from engine import Engine
from engine.clock import SHANGHAI

from ..factories import ClueDriver
from .conftest import AuthActions


def assigned(web_engine: Engine, unit: str = "zengdu", **intake: str) -> ClueDriver:
    clue = ClueDriver(web_engine, **intake)
    clue.triage()
    clue.assign(unit=unit)
    return clue


def visible(html: str) -> str:
    """The page's text without tags, attributes, scripts and styles (what a reader sees)."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_ledger_names_units_groups_and_categories(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    assigned(web_engine)
    auth.login("office")
    text = visible(client.get("/ledger/").get_data(as_text=True))
    assert "曾都区人民政府" in text and "机关事业单位拖欠账款清理组" in text and "机关事业单位拖欠账款" in text
    for code in ("zengdu", "arrears_public", "rectifying"):
        assert code not in text, code


def test_ledger_filters_by_typed_names(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    assigned(web_engine, enterprise_name="曾都的企业")
    assigned(web_engine, unit="suixian", enterprise_name="随县的企业")
    auth.login("office")
    by_unit = client.get("/ledger/?unit=曾都区").get_data(as_text=True)
    assert 'data-testid="ledger-total">1<' in by_unit and "曾都的企业" in by_unit and "随县的企业" not in by_unit
    assert 'value="曾都区"' in by_unit  # what was typed stays in the box
    by_code = client.get("/ledger/?unit=zengdu").get_data(as_text=True)
    assert 'data-testid="ledger-total">1<' in by_code and 'value="曾都区人民政府"' in by_code
    by_group = client.get("/ledger/?group=拖欠账款清理").get_data(as_text=True)
    assert 'data-testid="ledger-total">2<' in by_group
    assert client.get("/api/clues?unit=随县").json["total"] == 1  # the API reads the same filter


def filter_controls_have_labels(form: str) -> None:
    controls = re.findall(r"<(?:select|input)\b[^>]*>", form)
    shown = [c for c in controls if 'type="hidden"' not in c]
    assert shown
    for control in shown:
        found = re.search(r'\bid="([^"]+)"', control)
        assert found, control
        assert f'for="{found.group(1)}"' in form, control


def test_every_filter_has_a_label(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    auth.login("office")
    for path, testid in (("/ledger/", "ledger-filter"), ("/dashboard/", "dashboard-filter")):
        page = client.get(path).get_data(as_text=True)
        form = re.search(rf'<form[^>]*data-testid="{testid}".*?</form>', page, re.S)
        assert form, path
        filter_controls_have_labels(form.group(0))
    inbox = client.get("/inbox/").get_data(as_text=True)
    filter_controls_have_labels(re.search(r'<form class="row[^>]*method="get".*?</form>', inbox, re.S).group(0))  # type: ignore[union-attr]


def test_history_shows_kinds_roles_and_people_by_name(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    clue = assigned(web_engine)
    auth.login("office")
    for path in (f"/clues/{clue.clue_id}", f"/instances/{clue.instance_id}"):
        text = visible(client.get(path).get_data(as_text=True))
        assert "instance_started" not in text and "(office)" not in text, path
        assert "综合办公室" in text, path


def test_inbox_rows_name_the_enterprise(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    assigned(web_engine, enterprise_name="随州市恒达建材有限公司")
    auth.login("unit")
    page = client.get("/inbox/").get_data(as_text=True)
    assert re.search(r'data-testid="enterprise">随州市恒达建材有限公司<', page)
    assert client.get("/inbox/?unit=曾都区").get_data(as_text=True).count('data-testid="enterprise"') == 1


def test_ledger_export_writes_times_as_beijing_datetimes(client: FlaskClient, auth: AuthActions,
                                                         web_engine: Engine) -> None:
    clue = assigned(web_engine)
    auth.login("office")
    sheet = load_workbook(BytesIO(client.get("/ledger/export.xlsx").data)).active
    header = [c.value for c in sheet[1]]
    assert sheet.freeze_panes == "A2"
    created = sheet.cell(row=2, column=header.index("登记时间") + 1)
    assert isinstance(created.value, datetime) and created.number_format == "yyyy-mm-dd hh:mm"
    registered = web_engine.show_clue(clue.clue_id)["created_at"]
    expected = datetime.fromisoformat(registered).astimezone(SHANGHAI)
    assert created.value == expected.replace(tzinfo=None)
    assert sheet.cell(row=2, column=header.index("责任单位") + 1).value == "曾都区人民政府"
    owed = sheet.cell(row=2, column=header.index("欠款金额（元）") + 1)
    assert owed.number_format == "#,##0.00" and float(owed.value) == 1280000
    assert sheet.column_dimensions["C"].width >= 20  # 企业名称 is readable without widening


def test_an_overdue_clue_shows_its_light_on_its_own_page(client: FlaskClient, auth: AuthActions,
                                                         web_engine: Engine) -> None:
    clue = assigned(web_engine)  # deadline 2023-11-20
    web_engine.clock.advance(days=45)  # type: ignore[attr-defined]
    auth.login("office")
    page = client.get(f"/clues/{clue.clue_id}").get_data(as_text=True)
    deadline = re.search(r'data-testid="clue-deadline">(.*?)</dd>', page, re.S)
    assert deadline and 'data-light="red"' in deadline.group(1) and "逾期" in deadline.group(1)
