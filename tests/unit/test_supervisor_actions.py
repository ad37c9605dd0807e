"""engine/supervisor_actions.py: every action needs its role and a reason and lands in the
verified history; a suspended instance neither fires timers nor completes tasks; resume,
terminate, reassign, reopen and retry do what they say."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine import Conflict, Engine, Forbidden, ValidationFailed
from engine.db.models import Clue, HumanTask, ProcessInstance
from engine.history import events_of, verify_instance
from engine.instance_view import instance_detail, list_instances
from engine.supervisor_actions import ACTION_ROLES, ACTIONS

from ..factories import ClueDriver
from .test_instance_view import failing_instance

ROLES = ("office", "group", "unit", "spotcheck", "discipline", "designer", "supervisor", "admin")


def at_report(engine: Engine, **intake: Any) -> ClueDriver:
    """A clue whose unit must report by 2023-11-20 (a boundary timer chases after that)."""
    clue = ClueDriver(engine, **intake)
    clue.triage()
    clue.assign(deadline="2023-11-20")
    clue.plan()
    return clue


def history(engine: Engine, instance_id: int) -> list[tuple[str, str, str | None, dict[str, Any] | None]]:
    """(kind, actor, actor role, data) of every event, after checking the chain is intact."""
    with engine.transaction() as ctx:
        instance = ctx.session.get(ProcessInstance, instance_id)
        events = events_of(ctx.session, instance_id)
        assert verify_instance(instance, events) is None
        return [(e.kind, e.actor, e.actor_role, e.data) for e in events]


def status(engine: Engine, instance_id: int) -> str:
    with engine.transaction() as ctx:
        return ctx.session.get(ProcessInstance, instance_id).status.value


def call(engine: Engine, action: str, username: str, instance_id: int, reason: str, **extra: Any) -> dict[str, Any]:
    args: list[Any] = [username, instance_id]
    if action == "reassign":
        args.append(extra.pop("unit", "suixian"))
    return engine.run(ACTIONS[action], *args, reason, **extra)


def test_the_role_rules() -> None:
    allowed = {action: sorted(r.value for r in roles) for action, roles in ACTION_ROLES.items()}
    assert allowed == {"suspend": ["office", "supervisor"], "resume": ["office", "supervisor"],
                       "reassign": ["office", "supervisor"], "reopen": ["office", "supervisor"],
                       "retry": ["admin", "office", "supervisor"], "terminate": ["supervisor"]}


def test_every_action_needs_its_role_and_a_reason(engine: Engine) -> None:
    clue = at_report(engine)
    before = history(engine, clue.instance_id)
    for action in sorted(ACTIONS):
        for role in ROLES:
            if role not in {r.value for r in ACTION_ROLES[action]}:
                with pytest.raises(Forbidden):
                    call(engine, action, role, clue.instance_id, "理由")
        allowed = sorted(r.value for r in ACTION_ROLES[action])
        for reason in ("", "   ", None):
            with pytest.raises(ValidationFailed) as refused:
                call(engine, action, allowed[0], clue.instance_id, reason)  # type: ignore[arg-type]
            assert "reason" in refused.value.fields, action
    assert history(engine, clue.instance_id) == before  # nothing refused was recorded


def test_suspended_instance_fires_no_timer_and_completes_no_task_until_resumed(engine: Engine) -> None:
    clue = at_report(engine)
    report = clue.task_id("Task_report")
    assert call(engine, "suspend", "office", clue.instance_id, "等待审计结论")["status"] == "suspended"
    engine.clock.set("2023-11-25T09:00:00")  # type: ignore[attr-defined]
    assert engine.fire_due_timers() == 0
    assert clue.ready() == ["Task_report"]  # no chase
    with pytest.raises(Conflict):
        engine.complete_task(report, "unit", {"amount_paid": 1, "feedback": "已支付", "completed_on": "2023-11-10"})
    assert engine.run(list_instances, "supervisor", {"status": "suspended"})["total"] == 1
    with pytest.raises(Conflict):
        call(engine, "suspend", "supervisor", clue.instance_id, "再次暂停")

    assert call(engine, "resume", "supervisor", clue.instance_id, "审计结论已出")["status"] == "running"
    assert clue.ready() == ["Task_chase", "Task_report"]  # the timer that fell due fired on resume
    clue.report()
    kinds = [(k, actor, role, (data or {}).get("reason")) for k, actor, role, data in history(engine, clue.instance_id)]
    assert kinds[-5:] == [("instance_suspended", "office", "office", "等待审计结论"),
                          ("instance_resumed", "supervisor", "supervisor", "审计结论已出"),
                          ("timer_fired", "system", None, None), ("task_completed", "unit", "unit", None),
                          ("task_cancelled", "system", None, None)]


def test_resume_restores_a_timer_waiting_instance(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.to_review(key=True)
    clue.review(approved=True)  # waits for the spot-check phase
    assert status(engine, clue.instance_id) == "waiting"
    call(engine, "suspend", "supervisor", clue.instance_id, "暂缓")
    assert call(engine, "resume", "office", clue.instance_id, "继续")["status"] == "waiting"
    clue.at("2023-12-02T09:00:00")
    assert clue.ready() == ["Task_spot_check"]


def test_terminate_takes_the_tasks_out_and_is_final(engine: Engine) -> None:
    clue = at_report(engine)
    with pytest.raises(Forbidden):
        call(engine, "terminate", "office", clue.instance_id, "重复线索")
    result = call(engine, "terminate", "supervisor", clue.instance_id, "重复线索，已并案办理")
    assert result["status"] == "terminated"
    assert clue.ready() == []
    clue.at("2023-11-25T09:00:00")
    assert clue.ready() == [] and status(engine, clue.instance_id) == "terminated"
    for action in ("resume", "suspend", "reopen", "retry"):
        with pytest.raises(Conflict):
            call(engine, action, "supervisor", clue.instance_id, "试试")
    kind, actor, role, data = history(engine, clue.instance_id)[-1]
    assert (kind, actor, role) == ("instance_terminated", "supervisor", "supervisor")
    assert data == {"reason": "重复线索，已并案办理", "status_before": "running", "open_tasks": ["Task_report"]}


def test_reassign_moves_open_and_later_unit_tasks_to_the_new_unit(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    clue.assign(unit="zengdu")
    with pytest.raises(ValidationFailed):
        call(engine, "reassign", "office", clue.instance_id, "单位调整", unit="nowhere")
    with pytest.raises(Conflict):
        call(engine, "reassign", "office", clue.instance_id, "单位调整", unit="zengdu")
    result = call(engine, "reassign", "office", clue.instance_id, "债务主体变更为随县", unit="suixian")
    assert (result["before"], result["responsible_unit"]) == ("zengdu", "suixian")
    assert clue.show()["responsible_unit"] == "suixian"
    with pytest.raises(Forbidden):
        clue.plan(user="unit_zengdu")
    clue.plan(user="unit_suixian")
    with engine.transaction() as ctx:
        task = ctx.session.scalar(select(HumanTask).where(HumanTask.instance_id == clue.instance_id))
        assert (task.spec_name, task.audience) == ("Task_report", "unit:suixian")
    clue.report(user="unit_suixian")
    kind, actor, role, data = [e for e in history(engine, clue.instance_id) if e[0] == "unit_reassigned"][0]
    assert (actor, role, data["reason"], data["changed"]) == (
        "office", "office", "债务主体变更为随县", {"responsible_unit": ["zengdu", "suixian"]})
    moved = [e for e in engine.run(instance_detail, "supervisor", clue.instance_id)["timeline"]
             if e["kind"] == "unit_reassigned"]
    assert moved[0]["changed"] == {"responsible_unit": ["zengdu", "suixian"]}


def test_reassign_does_not_advance_a_suspended_instance(engine: Engine) -> None:
    clue = at_report(engine)
    call(engine, "suspend", "supervisor", clue.instance_id, "暂停")
    engine.clock.set("2023-11-25T09:00:00")  # type: ignore[attr-defined]
    call(engine, "reassign", "supervisor", clue.instance_id, "改由随县办理", unit="suixian")
    assert status(engine, clue.instance_id) == "suspended" and clue.ready() == ["Task_report"]
    call(engine, "resume", "supervisor", clue.instance_id, "恢复")
    assert clue.ready() == ["Task_chase", "Task_report"]
    clue.report(user="unit_suixian")


def test_reopen_a_closed_clue_at_the_review_that_closed_it(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.to_review()
    clue.review(approved=True)
    assert clue.stage == "closed" and status(engine, clue.instance_id) == "completed"
    with pytest.raises(ValidationFailed):
        call(engine, "reopen", "office", clue.instance_id, "复核", element_id="Task_spot_check")
    result = call(engine, "reopen", "office", clue.instance_id, "群众再次反映未付款")
    assert (result["status"], result["element_id"]) == ("running", "Task_review")
    shown = clue.show()
    assert (shown["stage"], shown["closed_at"], clue.ready()) == ("reviewing", None, ["Task_review"])
    clue.review(approved=False, new_deadline="2023-11-30")
    assert clue.ready() == ["Task_report"] and clue.show()["sendback_count"] == 1
    clue.report()
    clue.review(approved=True)
    assert clue.stage == "closed"
    kinds = [e[0] for e in history(engine, clue.instance_id)]
    assert kinds.count("instance_reopened") == 1 and kinds[-1] == "end_reached"
    with pytest.raises(Conflict):
        call(engine, "suspend", "office", clue.instance_id, "已办结不能暂停")

    # Reopened at an earlier task (another clue).
    clue = ClueDriver(engine)
    clue.to_review()
    clue.review(approved=True)
    call(engine, "reopen", "supervisor", clue.instance_id, "重新整改", element_id="Task_report")
    assert clue.ready() == ["Task_report"] and clue.stage == "rectifying"
    with engine.transaction() as ctx:
        clue_row = ctx.session.get(Clue, clue.clue_id)
        assert clue_row.closed_at is None
    event = [e for e in engine.run(instance_detail, "supervisor", clue.instance_id)["timeline"]
             if e["kind"] == "instance_reopened"][0]
    assert (event["element_id"], event["actor_role"], event["data"]["reason"]) == ("Task_report", "supervisor", "重新整改")




def test_errors_inbox_and_retry_after_a_fix(engine: Engine) -> None:
    instance_id = failing_instance(engine)
    inbox = engine.run(list_instances, "admin", {"status": "error"})
    assert [(i["id"], i["error_element"]) for i in inbox["items"]] == [(instance_id, "Script_ratio")]
    detail = engine.run(instance_detail, "admin", instance_id)
    assert detail["error"]["element_id"] == "Script_ratio" and "division by zero" in detail["error"]["message"]
    assert detail["actions"]["retry"] and not detail["actions"]["suspend"]
    with pytest.raises(Forbidden):
        call(engine, "retry", "discipline", instance_id, "重试")

    again = call(engine, "retry", "admin", instance_id, "重试一次")
    assert again["status"] == "error" and again["error"]["element_id"] == "Script_ratio"
    with pytest.raises(ValidationFailed):
        call(engine, "retry", "office", instance_id, "修正", variables=["divisor"])
    fixed = call(engine, "retry", "office", instance_id, "除数应为 2（数据录入错误）", variables={"divisor": 2})
    assert fixed["status"] == "completed"
    assert engine.run(list_instances, "admin", {"status": "error"})["total"] == 0
    events = history(engine, instance_id)
    assert [e[0] for e in events] == ["instance_started", "error", "instance_retried", "error", "instance_retried",
                                      "script_run", "end_reached"]
    retried = events[4]
    assert (retried[1], retried[2], retried[3]["reason"], retried[3]["variables"]) == (
        "office", "office", "除数应为 2（数据录入错误）", {"divisor": 2})
    assert "division by zero" in retried[3]["error_before"]["message"]
    assert events[5][3]["ratio"] == 5
