"""The office filters the ledger (工作台账) and exports it: the file holds exactly the rows on screen."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from engine import Engine

from ..factories import ClueDriver
from .conftest import ARTIFACTS, SignIn, artifact_name

CLUES = [  # enterprise, category given at triage (None: still waiting for triage)
    ("随州市恒达建材有限公司", "arrears_public"),
    ("随州市鑫源物流有限公司", "policy"),
    ("湖北楚风农业科技有限公司", "arrears_public"),
    ("随县华康医疗器械有限公司", "investment"),
    ("广水市金桥机械制造有限公司", "arrears_public"),
    ("曾都区顺达建筑劳务有限公司", None),
]


def test_office_filters_the_ledger_and_exports_what_it_sees(page: Page, sign_in: SignIn, shoot: Callable[[str], Path],
                                                            live_engine: Engine, request: pytest.FixtureRequest) -> None:
    ids = {}
    for name, category in CLUES:
        clue = ClueDriver(live_engine, enterprise_name=name, debtor=f"{name[:3]}某单位")
        if category:
            clue.triage(category=category)
        ids[name] = clue.clue_id
    wanted = sorted((ids[name] for name, category in CLUES if category == "arrears_public"), reverse=True)

    sign_in("office")
    page.get_by_role("navigation").get_by_role("button", name="线索办理").click()
    page.get_by_role("navigation").get_by_role("link", name="工作台账").click()
    page.wait_for_url(re.compile(r"/ledger/"))
    table = page.get_by_test_id("ledger")
    expect(page.get_by_test_id("ledger-total")).to_have_text(str(len(CLUES)))
    expect(table.locator("tbody tr")).to_have_count(len(CLUES))
    shoot("1-all")

    filters = page.get_by_test_id("ledger-filter")
    filters.locator("select[name=category]").select_option("arrears_public")
    filters.get_by_role("button", name="筛选").click()
    page.wait_for_url(re.compile(r"[?&]category=arrears_public"))
    expect(table.locator("tbody tr")).to_have_count(len(wanted))
    expect(filters.locator("select[name=category]")).to_have_value("arrears_public")  # the filter stays chosen
    shoot("2-filtered")

    shown = int(page.get_by_test_id("ledger-total").inner_text())
    rows = table.locator("tbody tr")
    on_screen = [int(rows.nth(i).locator("td").nth(1).inner_text()) for i in range(rows.count())]
    assert shown == len(on_screen) == len(wanted)
    assert on_screen == wanted
    for i in range(rows.count()):
        expect(rows.nth(i).locator("td").nth(4)).to_have_text("机关事业单位拖欠账款")

    with page.expect_download() as download_info:
        filters.get_by_test_id("export").click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".xlsx")
    saved = ARTIFACTS / f"{artifact_name(request.node.name)}-3-export.xlsx"
    download.save_as(saved)

    sheet = load_workbook(saved, read_only=True).worksheets[0]
    header, *data = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert "线索编号" in header and "问题类别" in header
    id_column, category_column = header.index("线索编号"), header.index("问题类别")
    assert [int(row[id_column]) for row in data] == on_screen
    assert {row[category_column] for row in data} == {"机关事业单位拖欠账款"}
    enterprise_column = header.index("企业名称")
    names = [rows.nth(i).locator("td").nth(2).inner_text() for i in range(rows.count())]
    assert [row[enterprise_column] for row in data] == names
