"""问题清单导入 through the web UI: template, preview of every bad cell, all-or-none import, progress."""
from __future__ import annotations

import re
import time
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from engine import Engine
from engine.db.models import Clue
from engine.problem_list import template_xlsx

from .conftest import AuthActions

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(autouse=True)
def import_dir(app: Flask, tmp_path: Path) -> Path:
    """Previewed files go to the test's own folder, not the repository's instance folder."""
    folder = tmp_path / "imports"
    app.config["IMPORT_DIR"] = str(folder)
    return folder


def row(enterprise: str, debtor: Any = "曾都区某街道办事处", amount: Any = "128万", source: Any = "来信来访") -> list[Any]:
    return [source, enterprise, None, debtor, "道路工程款逾期未付", amount, None, None, "曾都区"]


def workbook(web_engine: Engine, rows: list[list[Any]]) -> bytes:
    """The downloadable template, filled in as a user would."""
    book = load_workbook(BytesIO(template_xlsx(web_engine.runtime.forms)))
    sheet = book["问题清单"]
    for values in rows:
        sheet.append(values)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def clue_count(web_engine: Engine) -> int:
    return web_engine.run(lambda ctx: ctx.session.scalar(select(func.count()).select_from(Clue)) or 0)


def preview(client: FlaskClient, content: bytes, name: str = "问题清单.xlsx") -> TestResponse:
    return client.post("/imports/preview", data={"file": (BytesIO(content), name)}, content_type="multipart/form-data")


def token_of(html: str) -> str:
    [token] = re.findall(r'name="token" value="([0-9a-f]+)"', html)
    return token


def wait_until_finished(client: FlaskClient, token: str, seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        state = client.get(f"/imports/progress/{token}", headers={"Accept": "application/json"}).get_json()
        if state["state"] not in ("previewed", "running") or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def test_template_downloads_as_a_workbook(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("office")
    page = client.get("/imports/").get_data(as_text=True)
    assert 'href="/imports/template.xlsx"' in page and 'action="/imports/preview"' in page
    response = client.get("/imports/template.xlsx")
    assert response.status_code == 200 and response.mimetype == XLSX
    assert response.headers["Content-Disposition"].startswith("attachment;")
    book = load_workbook(BytesIO(response.data))
    assert book.sheetnames[0] == "问题清单" and book["问题清单"]["B1"].value == "*企业名称"


def test_one_bad_row_is_shown_and_nothing_is_imported_then_the_fixed_file_imports(
        client: FlaskClient, auth: AuthActions, web_engine: Engine, import_dir: Path) -> None:
    auth.login("office")
    rows = [row("甲公司"), row("乙公司", debtor=None, amount="abc"), row("丙公司")]
    refused = preview(client, workbook(web_engine, rows))
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    table = html[html.index('data-testid="import-errors"'):]
    assert re.findall(r'<tr data-row="(\d+)" data-field="(\w+)"', table) == [("3", "debtor"), ("3", "amount_owed")]
    assert "必填" in table and "abc" in table and "应为数字" in table
    assert 'name="token"' not in html and not any(import_dir.glob("*"))  # no confirm form, nothing kept
    assert clue_count(web_engine) == 0

    rows[1] = row("乙公司", debtor="市住建局", amount="35.6万")
    checked = preview(client, workbook(web_engine, rows))
    html = checked.get_data(as_text=True)
    assert checked.status_code == 200 and 'data-testid="import-errors"' not in html
    token = token_of(html)
    assert [p.name for p in import_dir.iterdir()] == [f"{token}.xlsx"]
    assert clue_count(web_engine) == 0  # a preview writes nothing

    started = client.post("/imports/confirm", data={"token": token})
    assert started.status_code == 200
    assert f'hx-get="/imports/progress/{token}"' in started.get_data(as_text=True) or \
        'data-state="done"' in started.get_data(as_text=True)
    state = wait_until_finished(client, token)
    assert state == {"done": 3, "total": 3, "state": "done", "imported": 3, "errors": [], "error_count": 0,
                     "message": "", "skipped": []}
    assert clue_count(web_engine) == 3
    assert not any(import_dir.glob("*"))  # the kept file is deleted after the import
    fragment = client.get(f"/imports/progress/{token}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-imported="3"' in fragment and "hx-trigger" not in fragment  # polling stops
    page = client.get(f"/imports/progress/{token}", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "<html" in page and 'data-imported="3"' in page
    # A second click on the same confirm button does not import the rows again.
    assert client.post("/imports/confirm", data={"token": token}).status_code == 200
    assert wait_until_finished(client, token)["imported"] == 3 and clue_count(web_engine) == 3


def test_a_file_that_turned_invalid_imports_nothing(client: FlaskClient, auth: AuthActions, web_engine: Engine,
                                                   import_dir: Path) -> None:
    auth.login("office")
    token = token_of(preview(client, workbook(web_engine, [row("甲公司"), row("乙公司")])).get_data(as_text=True))
    # Between preview and confirm the kept file changes (here: by hand) and now has a bad row.
    (import_dir / f"{token}.xlsx").write_bytes(workbook(web_engine, [row("甲公司"), row("乙公司", source="网络舆情")]))
    client.post("/imports/confirm", data={"token": token})
    state = wait_until_finished(client, token)
    assert state["state"] == "invalid" and state["imported"] == 0
    assert [(e["row"], e["field"]) for e in state["errors"]] == [(3, "source")]
    assert clue_count(web_engine) == 0 and not any(import_dir.glob("*"))
    fragment = client.get(f"/imports/progress/{token}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-testid="import-errors"' in fragment and "网络舆情" in fragment


def test_tokens_are_checked(client: FlaskClient, auth: AuthActions, web_engine: Engine, app: Flask) -> None:
    auth.login("office")
    for bad in ("../../secret_key", "ABC", "0" * 32, ""):
        assert client.post("/imports/confirm", data={"token": bad}).status_code == 404
    assert client.get("/imports/progress/" + "0" * 32).status_code == 404
    assert client.get("/imports/progress/..%2Fsecret_key").status_code == 404
    token = token_of(preview(client, workbook(web_engine, [row("甲公司")])).get_data(as_text=True))
    auth.logout()
    # Another office user may not confirm (or watch) someone else's upload.
    web_engine.create_users([("office2", "综合办公室 二", "office", None, None)], "Chengxin@2023")
    auth.login("office2")
    assert client.post("/imports/confirm", data={"token": token}).status_code == 404
    assert client.get(f"/imports/progress/{token}").status_code == 404
    assert clue_count(web_engine) == 0


def test_not_a_workbook_is_explained(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("office")
    refused = preview(client, b"enterprise,debtor\nA,B\n", "list.csv")
    assert refused.status_code == 422 and "无法读取该文件" in refused.get_data(as_text=True)
    assert preview(client, b"", "").status_code == 422


@pytest.mark.parametrize("username", ["unit", "group", "supervisor", "admin"])
def test_only_the_office_imports(client: FlaskClient, auth: AuthActions, web_engine: Engine, username: str) -> None:
    auth.login(username)
    assert client.get("/imports/").status_code == 403
    assert client.get("/imports/template.xlsx").status_code == 403
    assert preview(client, workbook(web_engine, [row("甲公司")])).status_code == 403
    assert client.post("/imports/confirm", data={"token": "0" * 32}).status_code == 403
    assert client.get("/imports/progress/" + "0" * 32).status_code == 403
    assert clue_count(web_engine) == 0


def test_a_running_import_shows_a_progress_bar_and_keeps_polling(client: FlaskClient, auth: AuthActions) -> None:
    from webui import imports
    auth.login("office")
    token = "ab" * 16
    imports._jobs[token] = imports.Job(user="office", total=400, state="running", done=100)
    try:
        fragment = client.get(f"/imports/progress/{token}", headers={"HX-Request": "true"}).get_data(as_text=True)
        assert 'hx-trigger="every 500ms"' in fragment and 'aria-valuenow="25"' in fragment and "width: 25%" in fragment
        assert client.get(f"/imports/progress/{token}").get_json() == {
            "done": 100, "total": 400, "state": "running", "imported": 0, "errors": [], "error_count": 0,
            "message": "", "skipped": []}
    finally:
        del imports._jobs[token]


def test_the_same_file_twice_is_flagged_row_by_row_and_imports_nothing_by_default(
        client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    auth.login("office")
    rows = [row("甲公司"), row("乙公司", amount="35.6万"), row("丙公司")]
    content = workbook(web_engine, rows)
    first = token_of(preview(client, content).get_data(as_text=True))
    client.post("/imports/confirm", data={"token": first})
    assert wait_until_finished(client, first)["imported"] == 3

    again = preview(client, content)
    html = again.get_data(as_text=True)
    assert again.status_code == 200
    table = html[html.index('data-testid="import-duplicates"'):]
    assert re.findall(r'<tr data-row="(\d+)" data-kind="(\w+)"', table) == [("2", "exact"), ("3", "exact"), ("4", "exact")]
    assert len(re.findall(r'name="decision-\d+" id="skip-\d+" value="skip" checked', table)) == 3
    assert "已登记" in html and "跳过" in html
    token = token_of(html)
    client.post("/imports/confirm", data={"token": token})  # the page's defaults: skip them all
    state = wait_until_finished(client, token)
    assert state["state"] == "done" and state["imported"] == 0 and [w["row"] for w in state["skipped"]] == [2, 3, 4]
    assert clue_count(web_engine) == 3
    done = client.get(f"/imports/progress/{token}", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert 'data-skipped="3"' in done and 'data-testid="import-skipped"' in done

    token = token_of(preview(client, content).get_data(as_text=True))
    client.post("/imports/confirm", data={"token": token, "decision-3": "keep", "decision-4": "skip"})
    state = wait_until_finished(client, token)
    assert state["imported"] == 1 and [w["row"] for w in state["skipped"]] == [2, 4]
    assert clue_count(web_engine) == 4
