"""engine/instance_view.py: the instance list (filters and scope, paged in SQL without the
workflow blob), one instance's visits, path, timers and timeline, and tamper detection."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, text, update

from engine import Engine, Forbidden, NotFound, ValidationFailed, instance_view
from engine.db.models import InstanceEvent
from engine.instance_view import instance_detail, list_instances, timeline
from engine.instances import start_instance

from ..factories import ClueDriver

FAILING_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Definitions_test_ratio" targetNamespace="http://chengxin.example/test">
  <bpmn:process id="test_ratio" name="比例计算" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="Script_ratio" name="计算比例">
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
      <bpmn:script>ratio = amount / divisor</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Script_ratio" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Script_ratio" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>
"""


def sendbacks_and_chase(engine: Engine, close: bool = True, **intake: Any) -> ClueDriver:
    """A clue reported three times: sent back twice, chased after its deadline, then closed."""
    clue = ClueDriver(engine, **intake)
    clue.triage()
    clue.assign(deadline="2023-11-20")
    clue.plan()
    clue.report(paid=100)
    clue.review(False, new_deadline="2023-11-25")
    clue.report(paid=200)
    clue.review(False, new_deadline="2023-11-28")
    clue.at("2023-11-29T09:00:00")  # the report deadline has passed: the boundary timer chases
    clue.do("Task_chase", "group", {"contacted": True, "note": "电话催办"})
    if close:
        clue.report(paid=1280000)
        clue.review(True)
    return clue


def failing_instance(engine: Engine, divisor: int = 0) -> int:
    """An instance (not a clue) whose script divides by zero: it stops in error."""
    engine.deploy([("test_ratio.bpmn", FAILING_BPMN)], "designer")
    with engine.transaction() as ctx:
        return start_instance(ctx, "test_ratio", {"amount": 10, "divisor": divisor}, "office", "office").id


def test_visits_path_and_timeline_of_a_clue_with_send_backs_and_a_chase(engine: Engine) -> None:
    clue = sendbacks_and_chase(engine)
    detail = engine.run(instance_detail, "supervisor", clue.instance_id)
    assert detail["status"] == "completed" and detail["clue_id"] == clue.clue_id
    assert detail["definition"]["process_id"] == "clue_handling" and detail["version"] == 1
    visits = detail["visits"]
    assert (visits["Task_report"], visits["Task_review"], visits["Script_sendback"]) == (3, 3, 2)
    assert (visits["Task_chase"], visits["Boundary_deadline"], visits["Task_triage"]) == (1, 1, 1)
    assert "Task_spot_check" not in visits and "End_closed_unchecked" in visits
    path = detail["path"]
    assert path[:2] == ["Start_collected", "Task_triage"] and path[-1] == "End_closed_unchecked"
    assert path.index("Task_assign") < path.index("Task_plan") < path.index("Task_report")
    assert path.count("Task_report") == 3 and path.index("Boundary_deadline") < path.index("Task_chase")
    assert detail["current"] == [] and detail["timers"] == [] and detail["tasks"] == []
    assert detail["chain"]["intact"] and detail["chain"]["break"] is None and detail["chain"]["count"] == 19

    events = detail["timeline"]
    assert [e["seq"] for e in events] == list(range(1, 20))
    reviews = [e for e in events if e["element_id"] == "Task_review"]
    assert [(e["actor"], e["actor_role"], e["data"]["approved"]) for e in reviews] == [
        ("office", "office", False), ("office", "office", False), ("office", "office", True)]
    assert reviews[2]["changed"]["approved"] == [False, True]
    reports = [e for e in events if e["element_id"] == "Task_report" and e["kind"] == "task_completed"]
    # Amounts are kept in task data as exact strings (engine.money).
    assert [e["changed"].get("amount_paid") for e in reports] == [None, ["100.00", "200.00"], ["200.00", "1280000.00"]]
    sendbacks = [e for e in events if e["element_id"] == "Script_sendback"]
    assert [e["changed"]["sendback_count"] for e in sendbacks] == [[0, 1], [1, 2]]
    assert sendbacks[1]["changed"]["deadline"] == ["2023-11-25", "2023-11-28"]
    chase = next(e for e in events if e["element_id"] == "Task_chase")
    assert (chase["actor"], chase["actor_role"], chase["data"]["note"]) == ("group", "group", "电话催办")
    assert any(e["kind"] == "timer_fired" and e["element_id"] == "Boundary_deadline" for e in events)
    assert engine.run(timeline, clue.instance_id) == events


def test_current_tasks_and_waiting_timer_of_a_running_instance(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    clue.assign(deadline="2023-11-20")
    clue.plan()
    detail = engine.run(instance_detail, "office", clue.instance_id)
    assert detail["status"] == "running" and detail["current"] == ["Boundary_deadline", "Task_report"]
    assert [(t["name"], t["waiting_on"], t["waiting_on_label"]) for t in detail["tasks"]] == [
        ("Task_report", "unit:zengdu", "曾都区人民政府")]
    assert detail["timers"] == [{"element_id": "Boundary_deadline", "element_name": "整改期限届满",
                                 "due_at": detail["next_timer_at"]}]
    assert detail["next_timer_at"].startswith("2023-11-20T")
    assert detail["visits"]["Task_report"] == 1 and "Task_report" not in detail["path"]
    assert detail["actions"] == {"suspend": True, "resume": False, "reassign": True, "reopen": False,
                                 "retry": False, "terminate": False}
    assert ("zengdu", "曾都区人民政府") in detail["units"]


@pytest.fixture
def fleet(engine: Engine) -> dict[str, int]:
    """Instances in every status: triage, two at the plan (zengdu, suixian overdue), closed, error."""
    triage = ClueDriver(engine, enterprise_name="甲企业")
    at_plan = ClueDriver(engine, enterprise_name="乙企业")
    late = ClueDriver(engine, enterprise_name="丙企业")
    for clue, unit, deadline in ((at_plan, "zengdu", "2023-11-20"), (late, "suixian", "2023-10-20")):
        clue.triage()
        clue.assign(unit=unit, deadline=deadline)
    closed = ClueDriver(engine, enterprise_name="丁企业")
    closed.to_review()
    closed.review(approved=True)
    error = failing_instance(engine)
    engine.clock.set("2023-10-25T09:00:00")  # type: ignore[attr-defined]
    return {"triage": triage.instance_id, "at_plan": at_plan.instance_id, "late": late.instance_id,
            "closed": closed.instance_id, "error": error}


def ids(engine: Engine, username: str = "supervisor", **filters: Any) -> list[int]:
    page = engine.run(list_instances, username, filters, 1, 50)
    assert page["total"] == len(page["items"])
    return [item["id"] for item in page["items"]]


def test_list_filters(engine: Engine, fleet: dict[str, int]) -> None:
    f = fleet
    assert ids(engine) == sorted(f.values(), reverse=True)
    assert ids(engine, status="completed") == [f["closed"]]
    assert ids(engine, status="error") == [f["error"]]
    assert ids(engine, status="running") == [f["late"], f["at_plan"], f["triage"]]
    assert ids(engine, status="suspended") == []
    assert ids(engine, stage="rectifying") == [f["late"], f["at_plan"]]
    assert ids(engine, stage="triage") == [f["triage"]]
    assert ids(engine, unit="suixian") == [f["late"]]
    assert ids(engine, overdue="1") == [f["late"]]
    assert ids(engine, overdue="0") == ids(engine)
    assert ids(engine, process_id="test_ratio") == [f["error"]]
    assert ids(engine, process_id="clue_handling", version="1") == [f["closed"], f["late"], f["at_plan"], f["triage"]]
    assert ids(engine, process_id="clue_handling", version="2") == []
    assert ids(engine, waiting_on="unit:zengdu") == [f["at_plan"]]
    assert ids(engine, waiting_on="role:office") == [f["triage"]]
    assert ids(engine, waiting_before="2023-10-17") == []
    assert ids(engine, waiting_before="2023-10-18") == [f["late"], f["at_plan"], f["triage"]]
    assert ids(engine, stage="rectifying", unit="zengdu", overdue="") == [f["at_plan"]]
    with pytest.raises(ValidationFailed):
        engine.run(list_instances, "supervisor", {"status": "sleeping"})
    with pytest.raises(ValidationFailed):
        engine.run(list_instances, "supervisor", {"version": "x"})

    # Who each waits on, since when.
    items = {i["id"]: i for i in engine.run(list_instances, "office", {}, 1, 50)["items"]}
    late = items[fleet["late"]]
    assert (late["waiting_on"], late["waiting_on_label"], late["waiting_task"]) == ("unit:suixian", "随县人民政府", "制定整改方案")
    assert late["waiting_since"] == "2023-10-17T01:00:00+00:00" and late["overdue"] is True
    assert (late["stage"], late["responsible_unit"], late["process_id"], late["version"]) == (
        "rectifying", "suixian", "clue_handling", 1)
    assert items[fleet["at_plan"]]["overdue"] is False
    closed, error = items[fleet["closed"]], items[fleet["error"]]
    assert closed["waiting_on"] is None and closed["status"] == "completed"
    assert (error["status"], error["error_element"], error["clue_id"]) == ("error", "Script_ratio", None)
    assert "ZeroDivisionError" in error["error_message"]


def test_paging_in_the_database_without_the_workflow_and_who_may_look(engine: Engine, fleet: dict[str, int],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sql_engine, "before_cursor_execute", seen)
    try:
        first = engine.run(list_instances, "supervisor", {}, 1, 2)
        second = engine.run(list_instances, "supervisor", {}, 2, 2)
    finally:
        event.remove(engine.sql_engine, "before_cursor_execute", seen)
    assert first["total"] == second["total"] == 5
    assert [i["id"] for i in first["items"] + second["items"]] == sorted(fleet.values(), reverse=True)[:4]
    assert not [s for s in statements if "process_instance.state" in s]
    pages = [s for s in statements if "ORDER BY process_instance.id DESC" in s and "LIMIT" in s]
    assert len(pages) == 2 and all("count" not in s for s in pages)
    assert first["total_capped"] is False
    monkeypatch.setattr(instance_view, "COUNT_CAP", 3)
    capped = engine.run(list_instances, "supervisor", {}, 1, 2)
    assert (capped["total"], capped["total_capped"], len(capped["items"])) == (3, True, 2)
    monkeypatch.undo()
    with pytest.raises(ValidationFailed):
        engine.run(list_instances, "supervisor", {}, 1, 500)

    # Who may look.
    # The demo group leads arrears_public: the clues past triage, not the clue in triage nor the test process.
    assert ids(engine, "group") == [fleet["closed"], fleet["late"], fleet["at_plan"]]
    assert ids(engine, "group_policy") == []
    for username in ("discipline", "admin", "office"):
        assert len(ids(engine, username)) == 5
    for username in ("unit", "spotcheck", "designer"):
        with pytest.raises(Forbidden):
            engine.run(list_instances, username, {})
        with pytest.raises(Forbidden):
            engine.run(instance_detail, username, fleet["at_plan"])
    assert engine.run(instance_detail, "group", fleet["late"])["id"] == fleet["late"]
    with pytest.raises(Forbidden):
        engine.run(instance_detail, "group", fleet["error"])
    with pytest.raises(Forbidden):
        engine.run(instance_detail, "group_policy", fleet["late"])
    with pytest.raises(NotFound):
        engine.run(instance_detail, "supervisor", 9999)
    assert engine.run(instance_detail, "discipline", fleet["late"])["actions"] == dict.fromkeys(
        ("suspend", "resume", "reassign", "reopen", "retry", "terminate"), False)


def test_an_edited_event_is_shown_as_the_first_broken_one(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    clue.assign()
    with engine.transaction() as ctx:
        ctx.session.execute(update(InstanceEvent).where(InstanceEvent.instance_id == clue.instance_id,
                                                        InstanceEvent.seq == 2).values(actor="someone"))
    chain = engine.run(instance_detail, "supervisor", clue.instance_id)["chain"]
    assert chain["intact"] is False
    assert (chain["break"]["seq"], chain["break"]["kind"]) == (2, "task_completed")
    assert "edited" in chain["break"]["reason"]

    # A removed newest event (another clue).
    clue = ClueDriver(engine)
    clue.triage()
    with engine.transaction() as ctx:
        last = ctx.session.scalar(text("SELECT max(seq) FROM instance_event WHERE instance_id = :i"),
                                  {"i": clue.instance_id})
        ctx.session.execute(text("DELETE FROM instance_event WHERE instance_id = :i AND seq = :s"),
                            {"i": clue.instance_id, "s": last})
    chain = engine.run(instance_detail, "office", clue.instance_id)["chain"]
    assert chain["intact"] is False and chain["break"]["seq"] == last and "removed" in chain["break"]["reason"]
