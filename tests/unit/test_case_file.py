"""engine/case_file.py: the case file of a clue opened with python-docx — its record, the diagram
with the path taken, one timeline row per history event and the head hash of the verified
chain — for the office, supervisors and inspectors only."""
from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from docx import Document
from docx.table import Table
from sqlalchemy import select, update

from engine import Engine, Forbidden
from engine.case_file import build_case_file, clue_diagram, path_taken
from engine.db.models import InstanceEvent, ProcessInstance
from engine.history import events_of, verify_instance

from ..factories import ClueDriver

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "documents"


def instance_of(engine: Engine, instance_id: int) -> tuple[int, str, int]:
    with engine.transaction() as ctx:
        instance = ctx.session.get(ProcessInstance, instance_id)
        assert instance is not None
        events = events_of(ctx.session, instance_id)
        assert verify_instance(instance, events) is None
        return instance.history_count, instance.history_head or "", len(events)


def table_starting(document: Document, first_cell: str) -> Table:
    return next(t for t in document.tables if t.rows[0].cells[0].text == first_cell)


def values(table: Table) -> dict[str, str]:
    """A key-value table's cells as a dict (keys in the even columns)."""
    found = {}
    for row in table.rows:
        cells = [c.text for c in row.cells]
        for i in range(0, len(cells) - 1, 2):
            found[cells[i]] = cells[i + 1]
    return found


@pytest.fixture
def referred(engine: Engine) -> ClueDriver:
    clue = ClueDriver(engine, complainant_name="举报人甲", complainant_phone="13800000009")
    clue.to_spot_check()
    clue.spot_check("fake")
    return clue


def test_the_case_file_holds_the_record_diagram_timeline_and_head_hash(engine: Engine, referred: ClueDriver) -> None:
    content, filename = engine.run(build_case_file, "supervisor", referred.clue_id)
    assert filename == f"案卷_线索{referred.clue_id}.docx"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "case_file.docx").write_bytes(content)
    document = Document(BytesIO(content))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "问题线索案卷" in text and f"#{referred.clue_id}" in text

    clue = values(table_starting(document, "线索编号"))
    assert clue["线索编号"] == f"#{referred.clue_id}" and clue["企业名称"] == "随州市恒达建材有限公司"
    assert clue["被反映单位"] == "曾都区某街道办事处" and clue["责任单位"] == "曾都区人民政府"
    assert clue["欠款金额"] == "1,280,000.00 元" and clue["已支付金额"] == "1,280,000.00 元"
    assert clue["抽查结论"] == "虚假整改" and clue["移送纪检监察"] == "是"

    count, head, events = instance_of(engine, referred.instance_id)
    timeline = table_starting(document, "序号")
    assert [c.text for c in timeline.rows[0].cells] == ["序号", "时间", "办理人", "事项", "环节", "内容"]
    assert len(timeline.rows) - 1 == events == count
    assert [r.cells[0].text for r in timeline.rows[1:]] == [str(i) for i in range(1, count + 1)]
    spot_check = next(r for r in timeline.rows[1:] if r.cells[4].text == "实地抽查")
    assert "抽查结论：虚假整改" in spot_check.cells[5].text and "抽查组" in spot_check.cells[2].text

    chain = values(table_starting(document, "历史记录条数"))
    assert chain["链头哈希"] == head and chain["历史记录条数"] == str(count)
    assert chain["哈希算法"] == "SM3" and chain["校验结果"].startswith("校验通过")

    [figure] = document.inline_shapes
    blob = figure._inline.graphic.graphicData.pic.blipFill.blip.embed
    image = document.part.related_parts[blob].blob
    assert image.startswith(b"\x89PNG")


def test_the_diagram_marks_the_path_taken(engine: Engine, referred: ClueDriver) -> None:
    with engine.transaction() as ctx:
        instance = ctx.session.get(ProcessInstance, referred.instance_id)
        visited, current, transitions = path_taken(ctx, instance)
    assert {"Task_triage", "Task_spot_check", "Script_spot_verdict", "Gateway_refer"} <= visited
    assert {"Task_referral", "Task_report"} <= current and "Task_referral" not in visited
    assert ("Gateway_refer", "Task_referral") in transitions and ("Gateway_refer", "End_no_referral") not in transitions
    assert ("Gateway_cap", "Task_report") in transitions  # sent back to rectify again
    assert "Task_sendback_escalation" not in visited | current
    png = engine.run(clue_diagram, "office", referred.clue_id)
    assert png is not None and png.startswith(b"\x89PNG")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "case_file_diagram.png").write_bytes(png)


def test_only_the_office_supervisors_and_inspectors_get_it(engine: Engine, referred: ClueDriver) -> None:
    for role in ("office", "discipline"):
        assert engine.run(build_case_file, role, referred.clue_id)[0].startswith(b"PK")
    for role in ("unit", "group", "spotcheck", "designer", "admin"):
        with pytest.raises(Forbidden):
            engine.run(build_case_file, role, referred.clue_id)
        with pytest.raises(Forbidden):
            engine.run(clue_diagram, role, referred.clue_id)


def test_the_complainant_is_in_it_for_the_office_and_inspectors_only(engine: Engine, referred: ClueDriver) -> None:
    def full_text(role: str) -> str:
        document = Document(BytesIO(engine.run(build_case_file, role, referred.clue_id)[0]))
        return "\n".join(c.text for t in document.tables for r in t.rows for c in r.cells)

    assert "举报人甲" in full_text("office") and "举报人甲" in full_text("discipline")
    supervisor = full_text("supervisor")
    assert "举报人甲" not in supervisor and "13800000009" not in supervisor


def test_a_tampered_history_shows_in_the_case_file(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    with engine.transaction() as ctx:
        ctx.session.execute(update(InstanceEvent).where(InstanceEvent.instance_id == clue.instance_id,
                                                        InstanceEvent.seq == 2).values(actor="someone_else"))
    document = Document(BytesIO(engine.run(build_case_file, "supervisor", clue.clue_id)[0]))
    chain = values(table_starting(document, "历史记录条数"))
    assert chain["校验结果"].startswith("校验未通过") and "第 2 条" in chain["校验结果"]
    with engine.transaction() as ctx:
        assert ctx.session.scalar(select(InstanceEvent.actor).where(
            InstanceEvent.instance_id == clue.instance_id, InstanceEvent.seq == 2)) == "someone_else"


def test_an_unreadable_workflow_still_gets_a_case_file_marked_from_the_history(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    with engine.transaction() as ctx:
        ctx.session.execute(update(ProcessInstance).where(ProcessInstance.id == clue.instance_id)
                            .values(state='{"broken": true}'))
    with engine.transaction() as ctx:
        instance = ctx.session.get(ProcessInstance, clue.instance_id)
        visited, current, transitions = path_taken(ctx, instance)
    assert visited == {"Task_triage", "Rule_routing", "Script_prepare"} and current == set() and transitions == set()
    document = Document(BytesIO(engine.run(build_case_file, "office", clue.clue_id)[0]))
    assert len(document.inline_shapes) == 1


def test_recorded_values_read_as_names_not_codes() -> None:
    from engine.case_file import describe
    text = describe({"step": "escalation_unit_leader", "audiences": ["unit:zengdu", "role:office"],
                     "key_problem": True, "due_at": "2023-11-20T16:00:00+00:00", "category": "arrears_public"},
                    {"step": "督办步骤"}, {}, {"zengdu": "曾都区人民政府"}, True, {"key_problem": [False, True]})
    assert "逾期督办（单位领导）" in text and "曾都区人民政府、综合办公室" in text
    assert "是（原为 否）" in text and "2023-11-21 00:00" in text and "机关事业单位拖欠账款" in text
    for code in ("escalation_unit_leader", "False", "unit:zengdu", "+00:00", "arrears_public"):
        assert code not in text, code
