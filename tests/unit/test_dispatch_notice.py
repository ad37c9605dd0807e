"""engine/dispatch_notice.py: the dispatch notice (调度通报) read back with python-docx — its
figures are the stats figures of the period, its ranking tables the ranking rows, its lists the
overdue and listed clues, its charts embedded pictures — and bad requests refused by field."""
from __future__ import annotations

from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any

import docx
import pytest

from engine import Engine, Forbidden, ValidationFailed
from engine import charts, dispatch_notice, ranking, stats
from engine.ladder import list_for_supervision

from ..factories import ClueDriver

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "documents"
START, END = date(2023, 10, 17), date(2023, 11, 24)
PERIOD = {"start": START.isoformat(), "end": END.isoformat(), "number": "6"}


def build_world(engine: Engine) -> dict[str, int]:
    """Registered 10-17: late (zengdu, overdue by 11-25), done (zengdu, closed), listed (suixian,
    policy, listed for supervision, not yet due), fresh (triage). Registered 11-25: outside."""
    late = ClueDriver(engine, enterprise_name="随州市迟办建材有限公司", amount_owed=500000)
    late.triage()
    late.assign(deadline="2023-11-20")
    late.plan()
    done = ClueDriver(engine, enterprise_name="随州市已结印务有限公司", amount_owed=1280000)
    done.to_review()
    done.review(approved=True)
    listed = ClueDriver(engine, enterprise_name="随州市挂牌科技有限公司", amount_owed=None)
    listed.triage(category="policy")
    listed.assign(deadline="2023-11-30", unit="suixian")
    engine.run(list_for_supervision, "office", listed.clue_id, True, "久拖未决")
    fresh = ClueDriver(engine, enterprise_name="随州市新登商贸有限公司", amount_owed=200000)
    late.at("2023-11-25T10:00:00")
    outside = ClueDriver(engine, enterprise_name="随州市期外企业有限公司")
    return {"late": late.clue_id, "done": done.clue_id, "listed": listed.clue_id, "fresh": fresh.clue_id,
            "outside": outside.clue_id}


def read(content: bytes) -> Any:
    return docx.Document(BytesIO(content))


def text_of(document: Any) -> str:
    return "\n".join(p.text for p in document.paragraphs)


def rows_of(table: Any) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in table.rows]


def table_with(document: Any, first_header: str, second_header: str | None = None) -> list[list[str]]:
    found = [rows_of(t) for t in document.tables
             if t.rows[0].cells[0].text == first_header and (second_header is None or t.rows[0].cells[1].text == second_header)]
    assert found, [rows_of(t)[0] for t in document.tables]
    return found[0]


def test_notice_carries_the_periods_figures_rankings_lists_and_charts(engine: Engine) -> None:
    world = build_world(engine)
    content, filename = engine.run(dispatch_notice.dispatch_notice, "office", PERIOD)
    assert filename == "调度通报第6期（20231017-20231124）.docx"
    document = read(content)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "dispatch_notice.docx").write_bytes(content)
    assert document.core_properties.title == "诚信政府建设专项行动调度通报（第6期）"
    text = text_of(document)
    assert "诚信政府建设专项行动调度通报" in text and "（第6期）" in text
    assert "诚信政府建设专项行动综合办公室\t2023年11月25日" in text  # issuer and date under the masthead

    filters = {"registered_from": START, "registered_to": END}
    overview = engine.run(stats.overview, "office", filters)
    assert overview["clues"] == 4 and overview["closed"] == 1 and overview["overdue"] == 1  # the outside one is not in
    assert overview["listed_for_supervision"] == 1
    assert (f"本期共登记问题线索{overview['clues']}条，其中已销号{overview['closed']}条" in text)
    assert f"逾期未办结{overview['overdue']}条（红灯）" in text and "挂牌督办1条" in text
    assert "涉及拖欠账款198.00万元，已支付128.00万元" in text  # 50 + 128 + 20 万元 owed, 128 paid

    categories = engine.run(stats.figures, "office", "category", filters)
    assert table_with(document, "问题类别")[1:] == [
        [r["label"], str(r["count"]), f"{r['owed'] / 10000:,.2f}", f"{r['paid'] / 10000:,.2f}"] for r in categories
    ] + [["合计", "4", "198.00", "128.00"]]

    for level, first_row_name in (("unit", "曾都区人民政府"), ("group", None)):
        rows = engine.run(ranking.ranking, "office", level, START, END)
        expected = [[str(v) for v in row] for row in dispatch_notice.ranking_rows(rows)]
        tables = [rows_of(t) for t in document.tables if rows_of(t)[0][0] == "名次"]
        assert tables[0 if level == "unit" else 1][1:] == expected
    unit_table = [rows_of(t) for t in document.tables if rows_of(t)[0][0] == "名次"][0]
    assert {r[1] for r in unit_table[1:]} == {"曾都区人民政府", "随县人民政府"}

    overdue = table_with(document, "序号", "线索编号")
    assert [r[1] for r in overdue[1:]] == [f"#{world['late']}"]
    assert overdue[1][2:] == ["随州市迟办建材有限公司", "曾都区某街道办事处", "曾都区人民政府", "2023-11-20", "5", "红灯"]
    listed = [rows_of(t) for t in document.tables if rows_of(t)[0][:2] == ["序号", "线索编号"]][1]
    assert [r[1] for r in listed[1:]] == [f"#{world['listed']}"] and listed[1][4] == "随县人民政府"
    assert f"#{world['outside']}" not in "".join(c for t in document.tables for r in rows_of(t) for c in r)
    assert "另有" not in text  # short lists: nothing left out

    # the stage bar chart, the weekly trend, units' clues and closures, owed against paid
    assert len(document.inline_shapes) == 4
    images = [part for part in document.part.related_parts.values() if part.content_type == "image/png"]
    assert len(images) == 4 and all(p.blob.startswith(b"\x89PNG") for p in images)
    for n, part in enumerate(images, start=1):
        (ARTIFACTS / f"dispatch_notice_chart{n}.png").write_bytes(part.blob)


def test_lists_are_capped_with_a_note_of_the_rest(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("甲", "乙", "丙\x07<&>"):  # a control character pasted in is dropped, markup kept as text
        clue = ClueDriver(engine, enterprise_name=f"随州市{name}公司")
        clue.triage()
        clue.assign(deadline="2023-11-01")
    engine.clock.set("2023-11-10T09:00:00")  # type: ignore[attr-defined]
    monkeypatch.setattr(dispatch_notice, "LIST_LIMIT", 2)
    document = read(engine.run(dispatch_notice.dispatch_notice, "office", {"start": "2023-10-01", "end": "2023-11-10"})[0])
    overdue = table_with(document, "序号", "线索编号")
    assert len(overdue) == 1 + 2
    assert "随州市丙<&>公司" in [row[2] for row in overdue]
    assert "注：另有1条逾期未办结问题未列出，详见工作台账。" in text_of(document)
    assert "本期登记的线索中暂无挂牌督办问题。" in text_of(document)


def test_defaults_run_from_the_campaigns_first_day_to_today(engine: Engine) -> None:
    engine.clock.set("2023-11-02T09:00:00")  # type: ignore[attr-defined]
    form = engine.run(dispatch_notice.notice_form, "supervisor", {})
    assert form == {"values": {"start": "2023-10-17", "end": "2023-11-02", "number": 3,
                               "issuer": "诚信政府建设专项行动综合办公室"}, "errors": {}}
    content, filename = engine.run(dispatch_notice.dispatch_notice, "supervisor", {"issuer": "  某市 综合办公室 "})
    assert filename == "调度通报第3期（20231017-20231102）.docx"
    text = text_of(read(content))
    assert "某市 综合办公室\t2023年11月2日" in text
    assert "本期共登记问题线索0条" in text and "本期登记的线索中暂无逾期未办结问题。" in text


BAD_REQUESTS = [
    ({"start": "2023-11-20", "end": "2023-11-01"}, "end"),
    ({"start": "2023-13-01"}, "start"),
    ({"end": "yesterday"}, "end"),
    ({"start": "2021-01-01", "end": "2023-11-01"}, "end"),
    ({"number": "0"}, "number"),
    ({"number": "第三期"}, "number"),
    ({"issuer": "办" * 61}, "issuer"),
]


def test_bad_requests_are_refused_by_field(engine: Engine) -> None:
    for args, field in BAD_REQUESTS:
        with pytest.raises(ValidationFailed) as refused:
            engine.run(dispatch_notice.dispatch_notice, "office", args)
        assert list(refused.value.fields) == [field], args
        form = engine.run(dispatch_notice.notice_form, "office", args)
        assert list(form["errors"]) == [field] and form["values"]["start"] == args.get("start", ""), args


def test_only_the_office_and_the_supervisor_get_the_notice(engine: Engine) -> None:
    for user in ("unit", "group", "spotcheck", "discipline", "designer", "admin"):
        with pytest.raises(Forbidden):
            engine.run(dispatch_notice.dispatch_notice, user, {})
        with pytest.raises(Forbidden):
            engine.run(dispatch_notice.notice_form, user, {})


def test_charts_render_without_data() -> None:
    for png in (charts.bar_chart("空", [], []), charts.line_chart("空", [], []),
                charts.bar_chart("零", ["甲"], [("线索数", [0])], horizontal=True)):
        assert png.startswith(b"\x89PNG") and len(png) > 1000
    assert charts.cjk_font() is not None  # fonts-wqy-microhei is installed here


def test_units_that_paid_everything_are_not_listed_as_owing() -> None:
    from engine.documents import OfficialDocument
    doc = OfficialDocument("调度通报")
    by_unit = [{"key": "zengdu", "label": "zengdu", "owed": 500000.0, "paid": 500000.0},
               {"key": "suixian", "label": "suixian", "owed": 300000.0, "paid": 100000.0}]
    dispatch_notice.owed_and_paid(doc, by_unit, {"zengdu": "曾都区人民政府", "suixian": "随县人民政府"}, "本期")
    text = "\n".join(p.text for p in doc.doc.paragraphs)
    assert "随县人民政府（未付20.00万元）" in text and "曾都区人民政府" not in text and "（未付0.00万元）" not in text
    paid_up = OfficialDocument("调度通报")
    dispatch_notice.owed_and_paid(paid_up, by_unit[:1], {"zengdu": "曾都区人民政府"}, "本期")
    assert "均已支付" in "\n".join(p.text for p in paid_up.doc.paragraphs)
