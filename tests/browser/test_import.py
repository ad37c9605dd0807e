"""问题清单导入: the office downloads the template, fills three rows of which one is bad, sees that
row refused and nothing imported, fixes it and imports all three."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from engine import Engine
from engine.uscc import with_check_char

from ..factories import ClueDriver
from .conftest import SignIn

GOOD_USCC = with_check_char("91421300MA4F5K7X2")
BAD_USCC = GOOD_USCC[:-1] + ("1" if GOOD_USCC[-1] != "1" else "2")  # the check character is wrong
ROWS = [  # source (the template's drop-down label), enterprise, debtor, summary, amount owed, USCC
    ("非公有制企业服务平台投诉", "随州市楚韵文化传媒有限公司", "随州市某局", "宣传服务费逾期未付", 86000, None),
    ("来信来访", "湖北随星汽车零部件有限公司", "曾都区某街道办事处", "厂房租赁补贴未兑现", "12万", BAD_USCC),
    ("领导交办", "广水市绿源环保工程有限公司", "广水市某国有公司", "污水处理工程款拖欠", 1_530_000, None),
]
FIELDS = {"source": "线索来源", "enterprise_name": "企业名称", "debtor": "失信（拖欠）主体", "summary": "问题概述",
          "amount_owed": "拖欠金额（元）", "uscc": "统一社会信用代码"}


def test_office_imports_a_problem_list_after_fixing_the_bad_row(page: Page, sign_in: SignIn,
                                                                 shoot: Callable[[str], Path],
                                                                 live_engine: Engine, tmp_path: Path) -> None:
    ClueDriver(live_engine)  # one clue already in the ledger
    sign_in("office")
    before = _ledger_total(page)
    assert before == 1

    page.get_by_role("navigation").get_by_role("button", name="线索办理").click()
    page.get_by_role("navigation").get_by_role("link", name="问题清单导入").click()
    page.wait_for_url(re.compile(r"/imports/$"))
    shoot("1-start")
    with page.expect_download() as download_info:
        page.get_by_test_id("template-link").click()
    template = tmp_path / "template.xlsx"
    download_info.value.save_as(template)
    assert download_info.value.suggested_filename.endswith(".xlsx")

    filled = _fill(template, tmp_path / "问题清单.xlsx", ROWS)
    page.get_by_test_id("import-upload").locator("input[type=file]").set_input_files(filled)
    page.get_by_test_id("import-upload").get_by_role("button", name="检查文件").click()
    page.wait_for_url(re.compile(r"/imports/preview$"))
    errors = page.get_by_test_id("import-errors").locator("tbody tr")
    expect(errors).to_have_count(1)
    expect(errors.first).to_have_attribute("data-row", "3")  # the second data row, under the header
    expect(errors.first).to_have_attribute("data-field", "uscc")
    expect(errors.first).to_contain_text("校验码错误")
    expect(errors.first).to_contain_text(BAD_USCC)
    expect(page.get_by_test_id("import-summary")).to_contain_text("3")
    expect(page.get_by_test_id("import-confirm")).to_have_count(0)  # nothing to confirm
    shoot("2-refused")
    assert _ledger_total(page) == before  # nothing imported

    page.get_by_role("navigation").get_by_role("button", name="线索办理").click()
    page.get_by_role("navigation").get_by_role("link", name="问题清单导入").click()
    fixed = _fill(template, tmp_path / "问题清单-已更正.xlsx",
                  [row[:5] + (GOOD_USCC if row[5] else None,) for row in ROWS])
    page.get_by_test_id("import-upload").locator("input[type=file]").set_input_files(fixed)
    page.get_by_test_id("import-upload").get_by_role("button", name="检查文件").click()
    page.wait_for_url(re.compile(r"/imports/preview$"))
    expect(page.get_by_test_id("import-errors")).to_have_count(0)
    confirm = page.get_by_test_id("import-confirm")
    expect(confirm.get_by_role("button")).to_contain_text("3")
    shoot("3-checked")
    confirm.get_by_role("button", name=re.compile("导入")).click()

    result = page.get_by_test_id("import-result")
    expect(result).to_be_visible()  # htmx polls the progress until the import is done
    expect(result).to_have_attribute("data-imported", "3")
    expect(page.get_by_test_id("import-progress")).to_have_attribute("data-state", "done")
    shoot("4-imported")

    result.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/ledger/"))
    expect(page.get_by_test_id("ledger-total")).to_have_text(str(before + 3))
    for _, enterprise, *_rest in ROWS:
        expect(page.get_by_test_id("ledger")).to_contain_text(enterprise)
    shoot("5-ledger")


def _ledger_total(page: Page) -> int:
    page.goto("/ledger/")
    return int(page.get_by_test_id("ledger-total").inner_text())


def _fill(template: Path, target: Path, rows: list[tuple[object, ...]]) -> Path:
    """Write the rows under the template's own header, found by column title (* marks required)."""
    book = load_workbook(template)
    sheet = book["问题清单"]
    columns = {str(cell.value).lstrip("*").strip(): cell.column for cell in sheet[1] if cell.value}
    assert set(FIELDS.values()) <= set(columns), columns
    for offset, row in enumerate(rows, start=2):
        for field, value in zip(FIELDS, row):
            if value is not None:
                sheet.cell(row=offset, column=columns[FIELDS[field]], value=value)
    book.save(target)
    return target
