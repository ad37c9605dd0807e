"""engine/year_end.py: the year-end summaries (年终总结) read back with python-docx — per unit with
its own figures and the summary it reported through processes/unit_reporting.bpmn, and for the
city with both rankings and who reported — and who may read which."""
from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import docx
import pytest

from engine import Engine, Forbidden, NotFound
from engine import ranking, stats, year_end
from engine.dispatch_notice import figure_rows, ranking_rows

from ..factories import ClueDriver

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "documents"
CONTACTS = {"leader_name": "王强", "leader_title": "副区长", "contact_name": "张伟", "contact_phone": "13800000001"}
SUMMARY = {"summary": "专项行动开展以来，我区成立工作专班，逐项清理拖欠账款。\n全年共办结问题线索，兑现惠企政策。",
           "measures_taken": "建立台账，挂图作战。", "institutions_built": "建立拖欠账款预警机制。"}
PERIOD = {"registered_from": "2023-10-17", "registered_to": "2023-12-31"}


def reporting_task(engine: Engine, user: str, name: str) -> str:
    ids = [t["id"] for t in engine.tasks(user)["items"] if t["name"] == name]
    assert len(ids) == 1, [t["name"] for t in engine.tasks(user)["items"]]
    return ids[0]


def build_world(engine: Engine) -> dict[str, int]:
    """zengdu: contacts, a one-row self-inspection, the summary; one clue closed, one overdue.
    suixian: contacts only, one clue in rectification."""
    engine.start_unit_reporting("office")
    engine.complete_task(reporting_task(engine, "unit", "Task_contacts"), "unit", CONTACTS)
    engine.complete_task(reporting_task(engine, "unit", "Task_self_inspection"), "unit", {"none_found": False, "problems": [
        {"enterprise_name": "随州市自查建材有限公司", "debtor": "曾都区教育局", "summary": "印刷费未结", "amount_owed": 30000}]})
    engine.complete_task(reporting_task(engine, "unit_suixian", "Task_contacts"), "unit_suixian",
                         {**CONTACTS, "leader_name": "李明", "leader_title": "副县长"})
    done = ClueDriver(engine, enterprise_name="随州市已结印务有限公司")
    done.to_review()
    done.review(approved=True)
    late = ClueDriver(engine, enterprise_name="随州市迟办建材有限公司", amount_owed=500000)
    late.triage()
    late.assign(deadline="2023-11-20")
    other = ClueDriver(engine, enterprise_name="随州市随县商贸有限公司")
    other.triage(category="policy")
    other.assign(deadline="2023-12-20", unit="suixian")
    late.at("2023-12-28T10:00:00")
    engine.complete_task(reporting_task(engine, "unit", "Task_summary"), "unit", SUMMARY)
    return {"done": done.clue_id, "late": late.clue_id, "other": other.clue_id}


def read(content: bytes) -> Any:
    return docx.Document(BytesIO(content))


def text_of(document: Any) -> str:
    return "\n".join(p.text for p in document.paragraphs)


def tables(document: Any, first: str) -> list[list[list[str]]]:
    return [[[c.text for c in row.cells] for row in t.rows] for t in document.tables if t.rows[0].cells[0].text == first]


def test_a_units_summary_has_its_figures_its_own_report_and_its_open_clues(engine: Engine) -> None:
    world = build_world(engine)
    content, filename = engine.run(year_end.unit_summary, "unit", "zengdu")
    assert filename == "曾都区人民政府2023年度专项行动工作总结.docx"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "year_end_zengdu.docx").write_bytes(content)
    document = read(content)
    text = text_of(document)
    assert "2023年加强诚信政府建设专项行动工作总结\n曾都区人民政府" in text
    assert "曾都区人民政府专项行动工作专班由副区长王强分管，联络员张伟（13800000001）。" in text
    assert "2023年10月17日报送自查问题清单，自查发现问题1条" in text
    for line in ("专项行动开展以来，我区成立工作专班，逐项清理拖欠账款。", "全年共办结问题线索，兑现惠企政策。",
                 "建立台账，挂图作战。", "建立拖欠账款预警机制。", "（一）工作总结", "（二）主要措施", "（三）健全制度"):
        assert line in [p.text for p in document.paragraphs]  # one paragraph per line of the report
    assert "以下为本单位2023年12月28日报送的工作总结。" in text

    mine = {**PERIOD, "unit": "zengdu"}
    overview = engine.run(stats.overview, "office", mine)
    assert overview["clues"] == 2 and overview["closed"] == 1 and overview["overdue"] == 1
    assert f"专项行动期间共承办问题线索2条，已销号1条，办结率50.0%；逾期未办结1条" in text
    assert tables(document, "问题类别")[0][1:] == [[str(v) for v in row] for row in
                                                  figure_rows(engine.run(stats.figures, "office", "category", mine))]
    row = next(r for r in engine.run(ranking.ranking, "office", "unit") if r["code"] == "zengdu")
    assert f"按期办结率{row['on_time_rate'] * 100:.1f}%" in text and "被退回重新整改0次" in text
    open_table = tables(document, "序号")[0]
    assert [r[1] for r in open_table[1:]] == [f"#{world['late']}"]
    assert open_table[1][4:] == ["整改中", "2023-11-20", "红灯"]
    assert len(document.inline_shapes) == 2  # stages; owed against paid by category


def test_the_city_summary_ranks_and_lists_who_reported_and_the_page_links_each_summary(engine: Engine) -> None:
    build_world(engine)
    content, filename = engine.run(year_end.city_summary, "office")
    assert filename == "2023年加强诚信政府建设专项行动工作总结.docx"
    (ARTIFACTS / "year_end_city.docx").write_bytes(content)
    document = read(content)
    text = text_of(document)
    overview = engine.run(stats.overview, "office", PERIOD)
    assert overview["clues"] == 4  # three driven, one from zengdu's self-inspection
    assert f"专项行动期间共登记问题线索{overview['clues']}条，已销号{overview['closed']}条" in text
    ranks = tables(document, "名次")
    for index, level in enumerate(("unit", "group")):
        rows = engine.run(ranking.ranking, "office", level, year_end.date(2023, 10, 17), year_end.date(2023, 12, 31))
        assert ranks[index][1:] == [[str(v) for v in row] for row in ranking_rows(rows)]
    reported = {r[1]: r[2:] for r in tables(document, "序号")[0][1:]}
    assert len(reported) == 14
    assert reported["曾都区人民政府"] == ["王强（副区长）", "1", "2023年12月28日"]
    assert reported["随县人民政府"] == ["李明（副县长）", "未报送", "未报送"]
    assert reported["广水市人民政府"] == ["未报备", "未报送", "未报送"]
    assert "全市14个责任单位中，1个已报送工作总结，13个尚未报送：" in text
    assert "（一）曾都区人民政府\n专项行动开展以来，我区成立工作专班，逐项清理拖欠账款。" in text
    assert len(document.inline_shapes) == 3  # trend, units, owed against paid

    # a unit that has not reported says so
    text = text_of(read(engine.run(year_end.unit_summary, "supervisor", "suixian")[0]))
    assert "随县人民政府专项行动工作专班由副县长李明分管" in text and "尚未报送自查问题清单。" in text
    assert "本单位尚未报送工作总结。" in text

    # the page lists what each reader may download
    mine = engine.run(year_end.year_end_index, "unit")
    assert mine["may_download_city"] is False
    assert mine["units"] == [{"code": "zengdu", "name": "曾都区人民政府", "clues": 2, "closed": 1,
                              "summary_at": "2023-12-28T02:00:00+00:00"}]
    everyone = engine.run(year_end.year_end_index, "office")
    assert everyone["may_download_city"] is True and len(everyone["units"]) == 14
    assert {u["code"]: u["clues"] for u in everyone["units"] if u["clues"]} == {"zengdu": 2, "suixian": 1}
    assert everyone["campaign"]["name"] == "2023年加强诚信政府建设专项行动"


def test_others_are_refused(engine: Engine) -> None:
    for user, function, *args in (("unit", year_end.unit_summary, "suixian"), ("unit", year_end.city_summary),
                                  ("group", year_end.unit_summary, "zengdu"), ("discipline", year_end.year_end_index),
                                  ("admin", year_end.city_summary), ("spotcheck", year_end.unit_summary, "zengdu")):
        with pytest.raises(Forbidden):
            engine.run(function, user, *args)


def test_unknown_unit_or_campaign(engine: Engine) -> None:
    with pytest.raises(NotFound):
        engine.run(year_end.unit_summary, "office", "atlantis")
    with pytest.raises(NotFound):
        engine.run(year_end.city_summary, "office", 99)
