"""engine/credit.py: a confirmed broken promise — a failed spot-check or a referral — becomes
exactly one credit record of the defaulting body, linked to its clue and written in the same
transaction as the step that confirms it; the backfill derives the same records; listing,
filters, export and who may see them."""
from __future__ import annotations

import json
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, func, select

from engine import Engine, Forbidden, ValidationFailed
from engine.cli import main
from engine.credit import CreditQuery, backfill, export_records, list_records
from engine.db.models import Clue, InstanceEvent
from engine.db.report_models import CreditRecord
from engine.tasks import complete_task

from ..factories import ClueDriver


def records(engine: Engine, clue_id: int | None = None) -> list[CreditRecord]:
    with engine.transaction() as ctx:
        query = select(CreditRecord).order_by(CreditRecord.id)
        if clue_id is not None:
            query = query.where(CreditRecord.clue_id == clue_id)
        found = list(ctx.session.scalars(query))
        ctx.session.expunge_all()
    return found


def confirming_event(engine: Engine, record: CreditRecord) -> InstanceEvent:
    with engine.transaction() as ctx:
        event = ctx.session.scalar(select(InstanceEvent).where(
            InstanceEvent.instance_id == record.instance_id, InstanceEvent.seq == record.event_seq))
        ctx.session.expunge_all()
    assert event is not None
    return event


def test_a_failed_spot_check_makes_one_record_of_the_debtor(engine: Engine) -> None:
    clue = ClueDriver(engine, debtor="随县某局")
    clue.to_spot_check()
    assert records(engine) == []
    clue.spot_check("paper")
    [record] = records(engine)
    assert (record.clue_id, record.basis, record.spot_check_result) == (clue.clue_id, "spot_check_failed", "paper")
    assert record.subject_name == "随县某局" and record.enterprise_name == "随州市恒达建材有限公司"
    assert record.responsible_unit == "zengdu" and float(record.amount_owed) == 1280000
    assert record.confirmed_by == "spotcheck" and record.finding == "现场核查"
    # The record points at the verified history event that confirmed it.
    event = confirming_event(engine, record)
    assert event.kind == "task_completed" and event.element_id == "Task_spot_check"
    assert event.data["result"] == "paper" and event.task_id == record.source_task_id
    assert record.confirmed_at == event.at


@pytest.mark.parametrize("result, misconduct", [("fake", False), ("genuine", True), ("superficial", True)])
def test_a_referral_makes_one_record(engine: Engine, result: str, misconduct: bool) -> None:
    clue = ClueDriver(engine)
    clue.to_spot_check()
    clue.spot_check(result, misconduct=misconduct)
    assert clue.show()["referred"] is True
    [record] = records(engine)  # a fake rectification that is referred is still one broken promise
    assert (record.clue_id, record.basis, record.spot_check_result) == (clue.clue_id, "referred", result)


def test_a_genuine_rectification_makes_none(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.to_spot_check()
    clue.spot_check("genuine")
    assert clue.stage == "closed" and records(engine) == []


def test_each_failure_of_the_same_clue_is_a_record_and_the_referral_task_adds_none(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.to_spot_check()
    clue.spot_check("paper")
    clue.report()
    clue.review(approved=True)  # the phase has begun: checked again at once
    clue.spot_check("fake")
    clue.do("Task_referral", "discipline", {"received": True, "case_number": "JJ-1", "note": "受理"})
    found = records(engine, clue.clue_id)
    assert [r.basis for r in found] == ["spot_check_failed", "referred"]
    assert found[0].source_task_id != found[1].source_task_id


def test_a_referral_decided_after_too_many_send_backs_makes_one_record(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.to_review()
    for _ in range(6):  # the campaign allows five send-backs; the sixth goes to the office
        clue.review(approved=False, new_deadline="2023-11-25")
        if "Task_sendback_escalation" in clue.ready():
            break
        clue.report()
    clue.do("Task_sendback_escalation", "office", {"decision": "refer", "note": "多次整改不到位"})
    [record] = records(engine)
    assert (record.basis, record.spot_check_result, record.finding) == ("referred", None, "多次整改不到位")
    assert record.confirmed_by == "office"


def test_the_record_is_written_in_the_confirming_transaction(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.to_spot_check()
    task_id = clue.task_id("Task_spot_check")
    data = {"result": "fake", "misconduct": False, "findings": "现场核查", "checked_on": "2023-12-02",
            "new_deadline": "2023-12-20"}
    with pytest.raises(RuntimeError):
        with engine.transaction() as ctx:
            complete_task(ctx, task_id, "spotcheck", data)
            ctx.session.flush()
            assert ctx.session.scalar(select(func.count()).select_from(CreditRecord)) == 1
            raise RuntimeError("the step fails after the record was written")
    # Rolled back together: no record, and the clue is still waiting for its spot-check.
    assert records(engine) == [] and clue.ready() == ["Task_spot_check"] and not clue.show()["referred"]
    clue.spot_check("fake")
    assert len(records(engine)) == 1


def test_backfill_derives_the_same_records_once(engine: Engine, database_url: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    failed, referred, fine = ClueDriver(engine), ClueDriver(engine), ClueDriver(engine)
    for clue, result in ((failed, "paper"), (referred, "fake"), (fine, "genuine")):
        clue.to_spot_check()
        clue.spot_check(result)
    live = [(r.clue_id, r.basis, r.spot_check_result, r.source_task_id, r.event_seq, r.confirmed_by, r.confirmed_at)
            for r in records(engine)]
    assert len(live) == 2
    with engine.transaction() as ctx:
        ctx.session.execute(delete(CreditRecord))
    assert engine.run(backfill) == 2
    again = [(r.clue_id, r.basis, r.spot_check_result, r.source_task_id, r.event_seq, r.confirmed_by, r.confirmed_at)
             for r in records(engine)]
    assert again == live
    assert engine.run(backfill) == 0
    with engine.transaction() as ctx:
        ctx.session.execute(delete(CreditRecord).where(CreditRecord.clue_id == failed.clue_id))
    capsys.readouterr()
    assert main(["--db", database_url, "credit-backfill"]) == 0  # chengxin credit-backfill
    assert json.loads(capsys.readouterr().out) == {"added": 1} and len(records(engine)) == 2


def test_listing_filters_pages_and_refuses_handlers(engine: Engine, clock) -> None:  # type: ignore[no-untyped-def]
    first, second = ClueDriver(engine, debtor="曾都区甲局"), ClueDriver(engine, debtor="随县乙局")
    first.to_spot_check()
    first.spot_check("paper")
    clock.advance(days=2)
    second.to_spot_check(on="2023-12-04T09:00:00")
    second.spot_check("fake")
    page = engine.run(list_records, "supervisor", CreditQuery())
    assert page["total"] == 2 and [i["subject_name"] for i in page["items"]] == ["随县乙局", "曾都区甲局"]
    assert page["items"][0]["basis_label"] == "移送纪检监察机关"
    assert page["items"][1]["responsible_unit_name"] == "曾都区人民政府"
    only = lambda **args: [i["clue_id"] for i in engine.run(list_records, "admin", CreditQuery.from_args(args))["items"]]  # noqa: E731
    assert only(q="甲局") == [first.clue_id]
    assert only(basis="referred") == [second.clue_id]
    assert only(clue_id=str(first.clue_id)) == [first.clue_id]
    assert only(since="2023-12-04") == [second.clue_id] and only(until="2023-12-03") == [first.clue_id]
    assert only(per_page="1", page="2") == [first.clue_id]
    assert only(category="policy") == []
    for role in ("unit", "group", "spotcheck", "designer"):
        with pytest.raises(Forbidden):
            engine.run(list_records, role, CreditQuery())
    for bad in ({"basis": "nonsense"}, {"since": "yesterday"}, {"page": "0"}, {"per_page": "1000"}):
        with pytest.raises(ValidationFailed):
            CreditQuery.from_args(bad)


def test_export_has_every_matching_record_with_its_clue(engine: Engine) -> None:
    clues = [ClueDriver(engine, debtor=f"单位{i}") for i in range(3)]
    for clue in clues:
        clue.to_spot_check()
        clue.spot_check("superficial")
    content, count = engine.run(export_records, "discipline", CreditQuery(per_page=1))
    rows = list(load_workbook(BytesIO(content)).active.iter_rows(values_only=True))
    assert count == 3 and rows[0][:3] == ("记录编号", "失信主体（被反映单位）", "认定依据")
    assert sorted(r[5] for r in rows[1:]) == sorted(c.clue_id for c in clues)  # 线索编号
    assert {r[2] for r in rows[1:]} == {"实地抽查认定整改不实"} and {r[3] for r in rows[1:]} == {"表面整改"}
    with pytest.raises(Forbidden):
        engine.run(export_records, "unit", CreditQuery())
    with engine.transaction() as ctx:
        assert ctx.session.scalar(select(func.count()).select_from(Clue)) == 3
