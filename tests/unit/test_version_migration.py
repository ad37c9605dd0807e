"""Instances move between versions of their process: dry run, migration, undo (engine/version_migration.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine import Engine
from engine import version_migration as vm
from engine.db.migration_models import InstanceMigration
from engine.db.models import HumanTask, ProcessInstance
from engine.errors import Conflict, Forbidden
from engine.history import events_of

from ..factories import ClueDriver

PROCESSES = Path(__file__).resolve().parents[2] / "processes"


def version_2(engine: Engine, rename_report: bool = True, extra: str = "") -> None:
    """Deploy version 2 of the clue process: triage retitled and (optionally) Task_report renamed."""
    bpmn = (PROCESSES / "clue_handling.bpmn").read_text(encoding="utf-8").replace('name="分析研判"', 'name="分析研判（二版）"')
    if rename_report:
        bpmn = bpmn.replace("Task_report", "Task_feedback")
    bpmn = bpmn.replace("</bpmn:process>", extra + "</bpmn:process>") if extra else bpmn
    deployed = engine.deploy([("clue_handling.bpmn", bpmn),
                              ("triage_routing.dmn", (PROCESSES / "triage_routing.dmn").read_text(encoding="utf-8"))],
                             "designer")
    assert [d["version"] for d in deployed if d["process_id"] == "clue_handling"] == [2]


def stored(engine: Engine, instance_id: int) -> dict[str, Any]:
    with engine.transaction() as ctx:
        instance = ctx.session.get(ProcessInstance, instance_id)
        assert instance is not None
        rows = ctx.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id))
        return {"state": instance.state, "definition_id": instance.definition_id, "status": instance.status,
                "version": instance.definition.version, "next_timer_at": instance.next_timer_at,
                "tasks": [(r.id, r.spec_name, r.title, r.lane, r.form_key, r.stage, r.audience, r.claimed_by,
                           r.due_at) for r in rows]}


def kinds(engine: Engine, instance_id: int) -> list[str]:
    with engine.transaction() as ctx:
        return [e.kind for e in events_of(ctx.session, instance_id)]


def test_new_clues_run_on_version_2_while_old_ones_finish_on_version_1(engine: Engine) -> None:
    old = ClueDriver(engine)
    version_2(engine)
    new = ClueDriver(engine)
    assert stored(engine, old.instance_id)["version"] == 1 and stored(engine, new.instance_id)["version"] == 2
    assert [t["title"] for t in new.show()["tasks"]] == ["分析研判（二版）"]
    assert [t["title"] for t in old.show()["tasks"]] == ["分析研判"]
    for clue, report in ((old, "Task_report"), (new, "Task_feedback")):
        clue.triage()
        clue.assign()
        clue.plan()
        assert clue.ready() == [report]
        clue.do(report, "unit", {"amount_paid": 1280000, "feedback": "已全部支付", "completed_on": clue.today()})
        clue.review(approved=True)
        assert clue.stage == "closed"
    assert engine.verify_history()["intact"]


def test_dry_run_says_per_instance_whether_it_can_move_and_why_not(engine: Engine) -> None:
    at_triage, at_report, done, broken = ClueDriver(engine), ClueDriver(engine), ClueDriver(engine), ClueDriver(engine)
    at_report.triage(), at_report.assign(), at_report.plan()
    done.triage(), done.assign(), done.plan(), done.report(), done.review(approved=True)
    with engine.transaction() as ctx:
        instance = ctx.session.get(ProcessInstance, broken.instance_id)
        instance.status, instance.error_element = "error", "Script_prepare"  # type: ignore[assignment]
    before = {c.instance_id: stored(engine, c.instance_id) for c in (at_triage, at_report, broken)}
    version_2(engine)
    result = engine.run(vm.dry_run, "designer", "clue_handling", 1, 2)
    by_id = {i["instance_id"]: i for i in result["items"]}
    assert set(by_id) == {at_triage.instance_id, at_report.instance_id, broken.instance_id}  # finished ones are not listed
    assert by_id[at_triage.instance_id]["can_move"] and by_id[at_triage.instance_id]["reasons"] == []
    report = by_id[at_report.instance_id]
    assert not report["can_move"]
    assert [(r["code"], r["element_id"]) for r in report["reasons"]] == [("task_missing", "Task_report")]
    assert [t["element_id"] for t in report["tasks"]] == ["Task_report"]
    assert [r["code"] for r in by_id[broken.instance_id]["reasons"]] == ["error"]
    assert (result["movable"], result["blocked"], result["total"]) == (1, 2, 3)
    assert {c.instance_id: stored(engine, c.instance_id) for c in (at_triage, at_report, broken)} == before  # nothing written
    with pytest.raises(Forbidden):
        engine.run(vm.dry_run, "office", "clue_handling", 1, 2)


def test_dry_run_names_a_changed_element_type_and_missing_data(engine: Engine) -> None:
    at_triage = ClueDriver(engine)
    assigning = ClueDriver(engine)
    assigning.triage()
    bpmn = (PROCESSES / "clue_handling.bpmn").read_text(encoding="utf-8")
    bpmn = bpmn.replace('<bpmn:userTask id="Task_triage" name="分析研判">', '<bpmn:manualTask id="Task_triage" name="分析研判">', 1)
    bpmn = bpmn.replace('</bpmn:userTask>\n    <bpmn:exclusiveGateway id="Gateway_accepted"',
                        '</bpmn:manualTask>\n    <bpmn:exclusiveGateway id="Gateway_accepted"', 1)
    # Version 2's assignment is for the group held in a variable old instances do not have.
    bpmn = bpmn.replace('name="candidateGroup" value="work_group" /></spiffworkflow:properties></bpmn:extensionElements>\n'
                        '      <bpmn:incoming>Flow_to_assign</bpmn:incoming>',
                        'name="candidateGroup" value="lead_group" /></spiffworkflow:properties></bpmn:extensionElements>\n'
                        '      <bpmn:incoming>Flow_to_assign</bpmn:incoming>', 1)
    engine.deploy([("clue_handling.bpmn", bpmn), ("triage_routing.dmn", (PROCESSES / "triage_routing.dmn").read_text())],
                  "designer")
    items = {i["instance_id"]: i for i in engine.run(vm.dry_run, "admin", "clue_handling", 1, 2)["items"]}
    assert [(r["code"], r["element_id"]) for r in items[at_triage.instance_id]["reasons"]] == [("type_changed", "Task_triage")]
    assert [(r["code"], r["element_id"]) for r in items[assigning.instance_id]["reasons"]] == [("data_missing", "Task_assign")]
    assert "lead_group" in items[assigning.instance_id]["reasons"][0]["message"]


def test_migrate_rewrites_projections_and_history_in_one_step(engine: Engine) -> None:
    waiting = ClueDriver(engine)
    waiting.triage(), waiting.assign(deadline="2023-11-20"), waiting.plan()
    assigning = ClueDriver(engine)
    assigning.triage()
    engine.claim_task(assigning.task_id("Task_assign"), "group")
    version_2(engine, rename_report=False)  # a harmless change: triage retitled
    before = stored(engine, waiting.instance_id)
    result = vm.migrate_many(engine.run, "designer", [waiting.instance_id, assigning.instance_id], 2, from_version=1)
    assert result["refused"] == [] and [m["instance_id"] for m in result["moved"]] == [waiting.instance_id,
                                                                                     assigning.instance_id]
    assert len({m["batch"] for m in result["moved"]}) == 1
    after = stored(engine, waiting.instance_id)
    assert after["version"] == 2 and after["state"] != before["state"]
    # The same READY task (same id, claim kept), the deadline timer still armed for the same moment.
    assert after["tasks"] == before["tasks"] and after["next_timer_at"] == before["next_timer_at"]
    assert stored(engine, assigning.instance_id)["tasks"][0][7] == "group"
    assert kinds(engine, waiting.instance_id)[-1] == "instance_migrated"
    assert engine.verify_history()["intact"]
    waiting.report()
    waiting.review(approved=True)
    assert waiting.stage == "closed"
    assigning.assign()
    assert assigning.ready() == ["Task_plan"] and stored(engine, assigning.instance_id)["version"] == 2


def test_migration_retitles_ready_tasks_and_the_inbox_follows(engine: Engine) -> None:
    clue = ClueDriver(engine)
    version_2(engine)
    engine.run(vm.migrate_instance, "designer", clue.instance_id, 2)
    assert [t["title"] for t in engine.tasks("office")["items"]] == ["分析研判（二版）"]
    clue.triage(), clue.assign(), clue.plan()
    assert clue.ready() == ["Task_feedback"]


def test_a_blocked_instance_is_refused_and_unchanged(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage(), clue.assign(), clue.plan()
    version_2(engine)
    before = stored(engine, clue.instance_id)
    with pytest.raises(vm.MigrationRefused) as refused:
        engine.run(vm.migrate_instance, "designer", clue.instance_id, 2)
    assert [r["element_id"] for r in refused.value.reasons] == ["Task_report"]
    assert stored(engine, clue.instance_id) == before
    with engine.transaction() as ctx:
        assert ctx.session.scalar(select(InstanceMigration)) is None


def test_undo_restores_exactly_and_is_logged(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    engine.claim_task(clue.task_id("Task_assign"), "group")
    version_2(engine)
    before = stored(engine, clue.instance_id)
    moved = engine.run(vm.migrate_instance, "designer", clue.instance_id, 2)
    assert stored(engine, clue.instance_id)["definition_id"] != before["definition_id"]
    log = engine.run(vm.migration_log, "designer")
    assert log["total"] == 1 and log["items"][0]["undoable"] is True
    undone = engine.run(vm.undo_migration, "admin", moved["id"])
    assert undone["undone_by"] == "admin"
    assert stored(engine, clue.instance_id) == before  # blob, definition, READY tasks, claim, timers
    assert kinds(engine, clue.instance_id)[-2:] == ["instance_migrated", "instance_migration_undone"]
    assert engine.verify_history()["intact"]
    assert engine.run(vm.migration_log, "designer")["items"][0]["undoable"] is False
    with pytest.raises(Conflict, match="already undone"):
        engine.run(vm.undo_migration, "designer", moved["id"])
    clue.assign()
    clue.plan()
    assert clue.ready() == ["Task_report"]  # back on version 1


def test_undo_is_refused_once_the_instance_moved_on(engine: Engine) -> None:
    clue = ClueDriver(engine)
    version_2(engine)
    moved = engine.run(vm.migrate_instance, "designer", clue.instance_id, 2)
    clue.triage()
    with pytest.raises(Conflict, match="moved on"):
        engine.run(vm.undo_migration, "designer", moved["id"])
    assert stored(engine, clue.instance_id)["version"] == 2
    with pytest.raises(Forbidden):
        engine.run(vm.undo_migration, "office", moved["id"])


def test_running_sub_processes_and_multi_instance_activities_block_the_move(engine: Engine) -> None:
    from engine import generic_processes

    bpmn = (Path(__file__).resolve().parents[1] / "data" / "generic_nested.bpmn").read_text(encoding="utf-8")
    engine.deploy([("generic_nested.bpmn", bpmn)], "designer")
    sub = engine.run(generic_processes.start, "unit", "generic_nested", {"kind": "sub"})
    multi = engine.run(generic_processes.start, "unit", "generic_nested", {"kind": "multi"})
    assert [t["name"] for t in sub["tasks"]] == ["Task_inner"] and len(multi["tasks"]) == 2
    engine.deploy([("generic_nested.bpmn", bpmn.replace("会签", "会签（二版）"))], "designer")
    items = {i["instance_id"]: i for i in engine.run(vm.dry_run, "designer", "generic_nested", 1, 2)["items"]}
    assert [(r["code"], r["element_id"]) for r in items[sub["id"]]["reasons"]] == [("subprocess_running", "Sub_review")]
    assert [(r["code"], r["element_id"]) for r in items[multi["id"]]["reasons"]] == [
        ("multi_instance_running", "Task_sign")]
