"""Problem-list import (问题清单导入): the template, reading a filled list, all-or-none import."""
from __future__ import annotations

import time
import zipfile
from io import BytesIO
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from engine import Engine, Forbidden
from engine import clues, problem_list
from engine.db.models import Clue
from engine.problem_list import (ProblemListInvalid, import_problem_list, parse_problem_list,
                                 template_xlsx)
from engine.uscc import with_check_char

HEADER = ["*线索来源", "*企业名称", "统一社会信用代码", "*失信（拖欠）主体", "*问题概述", "拖欠金额（元）",
          "反映人姓名", "反映人联系电话", "所属县市区"]
GOOD_USCC = with_check_char("91421300MA4" + "9ABC12")


def row(source: Any = "来信来访", enterprise: Any = "随州市恒达建材有限公司", uscc: Any = None,
        debtor: Any = "曾都区某街道办事处", summary: Any = "道路工程款逾期未付", amount: Any = 1280000,
        name: Any = None, phone: Any = None, county: Any = "曾都区") -> list[Any]:
    return [source, enterprise, uscc, debtor, summary, amount, name, phone, county]


def from_template(engine: Engine, rows: list[list[Any]]) -> bytes:
    """Fill the downloadable template as a user would, in Excel."""
    workbook = load_workbook(BytesIO(template_xlsx(engine.runtime.forms)))
    sheet = workbook["问题清单"]
    for values in rows:
        sheet.append(values)
    out = BytesIO()
    workbook.save(out)
    return out.getvalue()


def plain_xlsx(header: list[Any], rows: list[list[Any]]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Sheet1")
    sheet.append(header)
    for values in rows:
        sheet.append(values)
    out = BytesIO()
    workbook.save(out)
    return out.getvalue()


def clue_count(engine: Engine) -> int:
    with engine.transaction() as ctx:
        return ctx.session.scalar(select(func.count()).select_from(Clue)) or 0


def run_import(engine: Engine, content: bytes, username: str = "office", **kwargs: Any) -> dict[str, Any]:
    with engine.transaction() as ctx:
        return import_problem_list(ctx, username, content, **kwargs)


def cells(errors: list[dict[str, Any]]) -> set[tuple[int, str]]:
    return {(e["row"], e["column"]) for e in errors}


# --- the template ----------------------------------------------------------------------------

def test_template_follows_the_intake_form(engine: Engine) -> None:
    workbook = load_workbook(BytesIO(template_xlsx(engine.runtime.forms)))
    assert workbook.sheetnames[:2] == ["问题清单", "填写说明"]
    sheet = workbook["问题清单"]
    assert [c.value for c in sheet[1]] == HEADER
    assert sheet.freeze_panes == "A2"
    validation = sheet.data_validations.dataValidation[0]
    assert validation.type == "list" and "A2" in str(validation.sqref)
    assert validation.formula1 == '"领导交办,来信来访,非公有制企业服务平台投诉,自查问题清单"'
    instructions = " ".join(str(v) for r in workbook["填写说明"].iter_rows(values_only=True) for v in r if v)
    assert "必填" in instructions and "128万" in instructions
    # Without a registry it reads the bundled forms/ and gives the same columns.
    default = load_workbook(BytesIO(template_xlsx()))
    assert [c.value for c in default["问题清单"][1]] == HEADER


def test_template_round_trip_imports_every_row_at_triage(engine: Engine) -> None:
    content = from_template(engine, [
        row("来信来访", "随州市恒达建材有限公司", GOOD_USCC, phone="13800000001"),
        row("领导交办", "随州市华康医疗器械有限公司", debtor="市卫健委", amount="35.6万"),
        row("enterprise_platform", "广水市宏远机械有限公司", debtor="广水市城投公司", amount=None, name="王强",
            phone="0722-3251234"),
    ])
    calls: list[tuple[int, int]] = []
    result = run_import(engine, content, progress=lambda done, total: calls.append((done, total)))
    assert result["imported"] == 3 and len(result["clue_ids"]) == 3
    assert calls == [(3, 3)]
    shown = [engine.show_clue(i) for i in result["clue_ids"]]
    assert [c["source"] for c in shown] == ["letters_visits", "leadership", "enterprise_platform"]
    assert {c["stage"] for c in shown} == {"triage"}
    assert [sorted(t["name"] for t in c["tasks"]) for c in shown] == [["Task_triage"]] * 3
    assert shown[0]["uscc"] == GOOD_USCC and shown[0]["complainant_phone"] == "13800000001"
    assert shown[1]["amount_owed"] == 356000 and shown[2]["amount_owed"] is None
    assert shown[2]["complainant_name"] == "王强" and shown[0]["created_by"] == "office"


# --- reading ---------------------------------------------------------------------------------

def test_bad_row_lists_each_cell_and_imports_nothing(engine: Engine) -> None:
    content = from_template(engine, [
        row(enterprise="甲公司"),
        row(enterprise="乙公司", uscc="91421300MA49ABC120", debtor=None, amount=-5),
        [],  # blank rows are skipped but still count for row numbers
        row(source="网络舆情", enterprise="丙公司", amount="abc"),
        row(enterprise="丁公司"),
    ])
    before = clue_count(engine)
    with pytest.raises(ProblemListInvalid) as caught:
        run_import(engine, content)
    assert clue_count(engine) == before
    errors = caught.value.preview.errors
    assert cells(errors) == {(3, "统一社会信用代码"), (3, "失信（拖欠）主体"), (3, "拖欠金额（元）"),
                             (5, "线索来源"), (5, "拖欠金额（元）")}
    by_cell = {(e["row"], e["field"]): e for e in errors}
    assert by_cell[(3, "debtor")]["message"] == "必填"
    assert by_cell[(3, "amount_owed")]["value"] == "-5" and "负数" in by_cell[(3, "amount_owed")]["message"]
    assert by_cell[(3, "uscc")]["value"] == "91421300MA49ABC120"
    assert by_cell[(5, "source")]["value"] == "网络舆情" and "领导交办" in by_cell[(5, "source")]["message"]
    assert by_cell[(5, "amount_owed")]["value"] == "abc"
    assert str(caught.value) == "问题清单有 5 处错误"
    shown = caught.value.to_dict()
    assert shown["error"] == "invalid" and shown["errors"] == errors and shown["fields"] == {}
    assert caught.value.preview.total == 4 and caught.value.preview.row_numbers == [2, 6]


def test_duplicates_within_the_file_are_warnings_on_the_later_row(engine: Engine) -> None:
    content = from_template(engine, [
        row(enterprise="随州市恒达建材有限公司", debtor="曾都区某街道办事处"),
        row(enterprise="随州市恒达建材有限公司", debtor="市住建局"),
        row(enterprise=" 随州市恒达建材有限公司 ", debtor="曾都区某街道办事处", summary="另一笔工程款"),
        row(enterprise="随州市恒达建材有限公司", debtor="曾都区某街道办事处", amount=5000),
    ])
    preview = parse_problem_list(engine.runtime.forms, content)
    assert preview.ok and preview.errors == []  # warnings, not errors: the office decides
    assert [(w["row"], w["kind"], w["same_as_row"], w["default"]) for w in preview.duplicates] == [
        (4, "exact", 2, "skip"), (5, "similar", 2, "keep")]
    result = run_import(engine, content)
    assert result["imported"] == 3 and [w["row"] for w in result["skipped"]] == [4]
    assert clue_count(engine) == 3


def preview_of(engine: Engine, content: bytes) -> problem_list.Preview:
    with engine.transaction() as ctx:
        return problem_list.preview_problem_list(ctx, "office", content)


def test_a_second_import_of_the_same_file_flags_every_row_and_imports_none_by_default(engine: Engine) -> None:
    content = from_template(engine, [row(enterprise=f"企业{n}", amount=1000 * (n + 1)) for n in range(3)])
    assert preview_of(engine, content).duplicates == []
    first = run_import(engine, content)
    assert first["imported"] == 3 and first["skipped"] == []

    again = preview_of(engine, content)
    assert [(w["row"], w["kind"], w["default"], w["clue_ids"]) for w in again.duplicates] == [
        (2, "exact", "skip", [first["clue_ids"][0]]), (3, "exact", "skip", [first["clue_ids"][1]]),
        (4, "exact", "skip", [first["clue_ids"][2]])]
    second = run_import(engine, content)
    assert second["imported"] == 0 and [w["row"] for w in second["skipped"]] == [2, 3, 4]
    assert clue_count(engine) == 3
    kept = run_import(engine, content, decisions={3: "keep"})  # the office keeps one on purpose
    assert kept["imported"] == 1 and [w["row"] for w in kept["skipped"]] == [2, 4]
    assert clue_count(engine) == 4


def test_only_open_clues_count_and_another_amount_is_kept_by_default(engine: Engine) -> None:
    registered = engine.add_clue("office", {"source": "leadership", "enterprise_name": "随州市恒达建材有限公司",
                                            "debtor": "曾都区某街道办事处", "summary": "道路工程款逾期未付",
                                            "amount_owed": 1280000})
    content = from_template(engine, [row(), row(enterprise="ＡＢＣ公司"), row(amount=99)])
    warnings = preview_of(engine, content).duplicates
    assert [(w["row"], w["kind"], w["default"], w["clue_ids"]) for w in warnings] == [
        (2, "exact", "skip", [registered["clue_id"]]), (4, "similar", "keep", [registered["clue_id"]])]
    with engine.transaction() as ctx:  # a closed clue is no longer a duplicate
        ctx.session.get_one(Clue, registered["clue_id"]).stage = "closed"
    # Row 4 still repeats row 2 of the file, but no clue any more.
    assert [(w["row"], w["same_as_row"], w["clue_ids"]) for w in preview_of(engine, content).duplicates] == [(4, 2, [])]


@pytest.mark.parametrize("content, message", [
    (b"enterprise,debtor\nA,B\n", "无法读取该文件"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "另存为 .xlsx"),
    (b"", "为空"),
    (None, "zip"),
])
def test_non_xlsx_is_refused_with_one_error(engine: Engine, content: bytes | None, message: str) -> None:
    if content is None:  # a zip, but not a workbook
        out = BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("hello.txt", "not a workbook")
        content, message = out.getvalue(), "无法读取该文件"
    with pytest.raises(ProblemListInvalid) as caught:
        run_import(engine, content)
    assert len(caught.value.preview.errors) == 1 and message in caught.value.preview.errors[0]["message"]
    assert caught.value.preview.errors[0]["row"] == 0
    assert clue_count(engine) == 0


def test_unknown_or_missing_header_is_one_error_on_row_1(engine: Engine) -> None:
    content = plain_xlsx(["线索来源", "企业名称", "备注", "问题概述"], [["来信来访", "甲公司", "x", "拖欠货款"]])
    preview = parse_problem_list(engine.runtime.forms, content)
    assert len(preview.errors) == 1 and preview.errors[0]["row"] == 1 and preview.rows == []
    assert "备注" in preview.errors[0]["message"] and "失信（拖欠）主体" in preview.errors[0]["message"]
    assert preview.errors[0]["value"] == "备注"
    with pytest.raises(ProblemListInvalid):
        run_import(engine, content)


def test_headers_without_star_or_as_field_names_and_codes_are_read(engine: Engine) -> None:
    content = plain_xlsx(
        ["source", "企业名称", " 失信(拖欠)主体 ", "*问题概述", "amount_owed", "complainant_phone"],
        [["self_inspection", "甲公司", "乙局", "拖欠货款", "128万", 13800000001],
         [None, None, None, None, None, None],
         ["非公有制企业服务平台投诉", "丙公司", "丁局", "拖欠货款", "1,280,000", None],
         ["领导交办", "戊公司", "己局", "拖欠货款", 12.5, "0722-3251234"]])
    preview = parse_problem_list(engine.runtime.forms, content)
    assert preview.errors == [] and preview.total == 3 and preview.row_numbers == [2, 4, 5]
    assert [r["source"] for r in preview.rows] == ["self_inspection", "enterprise_platform", "leadership"]
    assert [r["amount_owed"] for r in preview.rows] == ["1280000.00", "1280000.00", "12.50"]
    assert preview.rows[0]["complainant_phone"] == "13800000001"
    assert set(preview.rows[0]) == set(engine.runtime.forms.get("intake").fields)


@pytest.mark.parametrize("text, amount", [("128万", "1280000.00"), ("128 万元", "1280000.00"), ("1,280,000", "1280000.00"),
                                          ("¥1280000.50", "1280000.50"), ("12.8万", "128000.00"), ("0", "0.00"),
                                          (0.1, "0.10"), ("12.345万", "123450.00")])
def test_amount_strings(engine: Engine, text: str | float, amount: str) -> None:
    # Amounts go into the workflow as exact canonical strings (engine.money), never floats.
    preview = parse_problem_list(engine.runtime.forms, from_template(engine, [row(amount=text)]))
    assert preview.errors == [] and preview.rows[0]["amount_owed"] == amount


@pytest.mark.parametrize("cell, reason", [(99999999999999999999, "金额过大"), ("99999999999999999999", "金额过大"),
                                          (12.345, "两位小数"), ("12.345", "两位小数"), ("1e3", "应为数字")])
def test_implausible_amounts_are_refused(engine: Engine, cell: Any, reason: str) -> None:
    # Excel holds a 20-digit number as the float 1e20; stored, it printed as 10,000,000,000,003,176.00 万元.
    preview = parse_problem_list(engine.runtime.forms, from_template(engine, [row(amount=cell)]))
    assert preview.rows == [] and [e["field"] for e in preview.errors] == ["amount_owed"]
    assert reason in preview.errors[0]["message"]


def test_long_code_typed_as_number_is_explained(engine: Engine) -> None:
    preview = parse_problem_list(engine.runtime.forms, from_template(engine, [row(uscc=9.14213e17)]))
    assert [e["field"] for e in preview.errors] == ["uscc"] and "文本格式" in preview.errors[0]["message"]


def test_empty_list_and_too_many_rows_are_refused(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = parse_problem_list(engine.runtime.forms, from_template(engine, []))
    assert len(empty.errors) == 1 and "没有数据" in empty.errors[0]["message"]
    monkeypatch.setattr(problem_list, "MAX_ROWS", 3)
    content = from_template(engine, [row(enterprise=f"企业{i}") for i in range(4)])
    preview = parse_problem_list(engine.runtime.forms, content)
    assert len(preview.errors) == 1 and "超过 3 行" in preview.errors[0]["message"] and preview.rows == []


def test_only_office_may_import(engine: Engine) -> None:
    content = from_template(engine, [row()])
    with pytest.raises(Forbidden):
        run_import(engine, content, username="unit")
    assert clue_count(engine) == 0


def test_failure_while_creating_rolls_back_every_clue(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    create = getattr(clues, "create_clue", None) or clues._create  # type: ignore[attr-defined]
    made: list[int] = []

    def failing(ctx: Any, intake: dict[str, Any], actor: str, role: str) -> Any:
        if len(made) == 2:
            raise RuntimeError("database went away")
        clue = create(ctx, intake, actor, role)
        made.append(clue.id)
        return clue

    monkeypatch.setattr(clues, "create_clue" if hasattr(clues, "create_clue") else "_create", failing)
    content = from_template(engine, [row(enterprise=f"企业{i}") for i in range(3)])
    with pytest.raises(RuntimeError):
        run_import(engine, content)
    assert len(made) == 2 and clue_count(engine) == 0


# --- size --------------------------------------------------------------------------------------

def many_rows(n: int) -> bytes:
    sources = ["领导交办", "来信来访", "非公有制企业服务平台投诉", "自查问题清单"]
    return plain_xlsx(HEADER, [
        row(sources[i % 4], f"随州市第{i}号建材有限公司", debtor=f"曾都区第{i % 50}街道办事处",
            summary=f"第{i}笔工程款逾期未付", amount=f"{i % 300 + 1}万", phone=f"138{i:08d}")
        for i in range(n)])


def test_parsing_5000_rows_is_quick(engine: Engine) -> None:
    content = many_rows(5000)
    started = time.perf_counter()
    preview = parse_problem_list(engine.runtime.forms, content)
    elapsed = time.perf_counter() - started
    print(f"\nparse 5000 rows ({len(content) // 1024} KiB): {elapsed:.2f}s")
    assert preview.errors == [] and len(preview.rows) == 5000


@pytest.mark.slow
def test_5000_rows_import_in_one_transaction(engine: Engine) -> None:
    content = many_rows(5000)
    calls: list[tuple[int, int]] = []
    started = time.perf_counter()
    result = run_import(engine, content, progress=lambda done, total: calls.append((done, total)))
    elapsed = time.perf_counter() - started
    print(f"\nimport 5000 rows on {engine.sql_engine.dialect.name}: {elapsed:.1f}s "
          f"({elapsed / 5 :.1f} ms per row)")
    assert result["imported"] == 5000 and clue_count(engine) == 5000
    assert calls[0] == (100, 5000) and calls[-1] == (5000, 5000) and len(calls) == 50
    last = engine.show_clue(result["clue_ids"][-1])
    assert last["stage"] == "triage" and last["amount_owed"] == (4999 % 300 + 1) * 10000
