"""processes/unit_reporting.bpmn: contacts, self-inspection list (rows become clues), summary."""
from __future__ import annotations

from sqlalchemy import select

from engine import Engine
from engine.db.models import ProcessInstance


def unit_tasks(engine: Engine, user: str = "unit") -> list[dict]:
    return engine.tasks(user)["items"]


def only(engine: Engine, user: str, name: str) -> str:
    ids = [t["id"] for t in unit_tasks(engine, user) if t["name"] == name]
    assert len(ids) == 1, [t["name"] for t in unit_tasks(engine, user)]
    return ids[0]


CONTACTS = {"leader_name": "王强", "leader_title": "副区长", "contact_name": "张伟", "contact_phone": "13800000001"}


def test_self_inspection_rows_become_clues(engine: Engine) -> None:
    started = engine.start_unit_reporting("office")
    assert len(started) == 14
    assert engine.start_unit_reporting("office") == []  # once per unit and campaign
    engine.complete_task(only(engine, "unit", "Task_contacts"), "unit", CONTACTS)
    task = only(engine, "unit", "Task_self_inspection")
    assert engine.show_task(task, "unit")["due_at"] == "2023-10-20T16:00:00+00:00"
    rows = [{"enterprise_name": "随州市恒达建材有限公司", "debtor": "曾都区某街道办事处", "summary": "工程款拖欠",
             "amount_owed": 100000},
            {"enterprise_name": "随州市楚风印务有限公司", "debtor": "曾都区教育局", "summary": "印刷费未结"}]
    engine.complete_task(task, "unit", {"none_found": False, "problems": rows})
    office_tasks = engine.tasks("office")["items"]
    triage = [t for t in office_tasks if t["name"] == "Task_triage"]
    assert len(triage) == 2
    clue = engine.show_clue(triage[0]["clue_id"])
    assert clue["source"] == "self_inspection" and clue["created_by"] == "unit:zengdu"
    assert clue["county"] == "曾都区人民政府"
    assert [t["name"] for t in unit_tasks(engine)] == ["Task_summary"]


def test_late_self_inspection_raises_one_reminder_that_goes_away(engine: Engine) -> None:
    engine.start_unit_reporting("office")
    engine.complete_task(only(engine, "unit", "Task_contacts"), "unit", CONTACTS)
    engine.clock.set("2023-10-21T00:00:01")  # type: ignore[attr-defined]
    engine.fire_due_timers()
    reminders = [t for t in engine.tasks("office")["items"] if t["name"] == "Task_remind_self_inspection"]
    # Only zengdu has reached the self-inspection step (its contacts are in); the others are
    # still at registration, which has no timer of its own (the ladder chases it).
    assert len(reminders) == 1
    engine.clock.set("2023-10-25T00:00:01")  # type: ignore[attr-defined]
    engine.fire_due_timers()
    assert [t["id"] for t in engine.tasks("office")["items"] if t["name"] == "Task_remind_self_inspection"] == [
        reminders[0]["id"]]
    engine.complete_task(only(engine, "unit", "Task_self_inspection"), "unit", {"none_found": True})
    assert [t for t in engine.tasks("office")["items"] if t["name"] == "Task_remind_self_inspection"] == []


def test_reporting_completes_after_summary(engine: Engine) -> None:
    instance_ids = engine.start_unit_reporting("office")
    engine.complete_task(only(engine, "unit", "Task_contacts"), "unit", CONTACTS)
    engine.complete_task(only(engine, "unit", "Task_self_inspection"), "unit", {"none_found": True})
    engine.clock.set("2024-01-01T00:00:01")  # type: ignore[attr-defined]
    engine.fire_due_timers()
    engine.complete_task(only(engine, "unit", "Task_summary"), "unit", {"summary": "专项行动工作总结……"})
    reminders = [t for t in engine.tasks("office")["items"] if t["name"] == "Task_remind_summary"]
    assert reminders == []  # zengdu reported late: its reminder went away; the others never got that far
    with engine.transaction() as ctx:
        statuses = {i.business_key: i.status.value for i in ctx.session.scalars(select(ProcessInstance))}
    assert statuses["1:zengdu"] == "completed"
    assert sorted(set(statuses.values())) == ["completed", "running"]
    assert len(instance_ids) == len(statuses)
