"""Deadlines entered as a number of working days (forms' `x-workdays-for` companions): counted
in the Chinese holiday calendar from today in Asia/Shanghai, stored as the date, both recorded."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import Engine, FixedClock, ValidationFailed
from engine.clock import parse_moment
from engine.db.models import Clue, HumanTask
from engine.workdays import resolve_working_day_fields, working_day_deadline, working_day_fields

from ..factories import ClueDriver


def assigned(engine: Engine, clock: FixedClock, at: str, data: dict[str, Any]) -> ClueDriver:
    clue = ClueDriver(engine)
    clue.triage()
    clock.set(parse_moment(at))
    clue.do("Task_assign", "group", {"responsible_unit": "zengdu", **data})
    return clue


def plan_row(engine: Engine, clue: ClueDriver) -> HumanTask:
    with engine.transaction() as ctx:
        row = ctx.session.scalar(select(HumanTask).where(HumanTask.clue_id == clue.clue_id,
                                                         HumanTask.spec_name == "Task_plan"))
        assert row is not None
        ctx.session.expunge(row)
        return row


@pytest.mark.parametrize("at, n, expected", [
    ("2023-09-28T09:00:00", 1, "2023-10-07"),   # over the holiday to the make-up Saturday
    ("2023-09-28T09:00:00", 3, "2023-10-09"),   # Saturday, Sunday (both make-up days), Monday
    ("2023-09-28T23:59:00", 1, "2023-10-07"),   # still Thursday in Shanghai
    ("2023-09-29T00:30:00", 1, "2023-10-07"),   # already the holiday in Shanghai (16:30 UTC the day before)
    ("2023-10-07T10:00:00", 1, "2023-10-08"),   # counted from the make-up Saturday itself
    ("2023-10-07T10:00:00", 2, "2023-10-09"),
])
def test_assignment_deadline_in_working_days_across_national_day(engine: Engine, clock: FixedClock, at: str, n: int,
                                                                 expected: str) -> None:
    clue = assigned(engine, clock, at, {"deadline_workdays": n, "instructions": "限期办结"})
    assert clue.ready() == ["Task_plan"]
    row = plan_row(engine, clue)
    assert row.due_at == parse_moment(expected) + timedelta(days=1)  # the end of that day
    with engine.transaction() as ctx:
        assert ctx.session.scalar(select(Clue.deadline).where(Clue.id == clue.clue_id)).isoformat() == expected
    completed = [e for e in engine.clue_history(clue.clue_id)["events"]
                 if e["kind"] == "task_completed" and e["element_id"] == "Task_assign"]
    assert completed[0]["data"]["deadline"] == expected and completed[0]["data"]["deadline_workdays"] == n


def test_a_date_still_works_and_a_matching_count_is_accepted(engine: Engine, clock: FixedClock) -> None:
    clue = assigned(engine, clock, "2023-09-28T09:00:00", {"deadline": "2023-11-20"})
    assert plan_row(engine, clue).due_at == parse_moment("2023-11-21")
    clue = assigned(engine, clock, "2023-09-28T09:00:00", {"deadline": "2023-10-07", "deadline_workdays": "1"})
    assert plan_row(engine, clue).due_at == parse_moment("2023-10-08")


@pytest.mark.parametrize("data, field", [
    ({"deadline": "2023-10-20", "deadline_workdays": 1}, "deadline_workdays"),   # two different deadlines
    ({"deadline_workdays": 0}, "deadline_workdays"),
    ({"deadline_workdays": 251}, "deadline_workdays"),
    ({"deadline_workdays": "three"}, "deadline_workdays"),
    ({}, "deadline"),
])
def test_refused_entries_change_nothing(engine: Engine, clock: FixedClock, data: dict[str, Any], field: str) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    clock.set(parse_moment("2023-09-28T09:00:00"))
    with pytest.raises(ValidationFailed) as refused:
        clue.do("Task_assign", "group", {"responsible_unit": "zengdu", **data})
    assert field in refused.value.fields
    assert clue.ready() == ["Task_assign"]


def test_plan_review_and_spot_check_forms_offer_working_days(engine: Engine, clock: FixedClock) -> None:
    forms = engine.runtime.forms
    assert working_day_fields(forms.get("rectification_plan").schema) == {"plan_deadline_workdays": "plan_deadline"}
    assert working_day_fields(forms.get("review").schema) == {"new_deadline_workdays": "new_deadline"}
    assert working_day_fields(forms.get("spot_check").schema) == {"new_deadline_workdays": "new_deadline"}
    clue = assigned(engine, clock, "2023-09-27T09:00:00", {"deadline": "2023-11-20"})
    clue.do("Task_plan", "unit", {"measures": "分期支付", "plan_deadline_workdays": 2, "responsible_leader": "局长",
                                  "responsible_person": "张伟", "contact_phone": "13800000001"})
    plan = [e for e in engine.clue_history(clue.clue_id)["events"] if e["element_id"] == "Task_plan"
            and e["kind"] == "task_completed"][0]
    assert plan["data"]["plan_deadline"] == "2023-10-07"


def test_send_back_with_a_new_deadline_in_working_days(engine: Engine, clock: FixedClock) -> None:
    clue = assigned(engine, clock, "2023-09-26T09:00:00", {"deadline": "2023-11-20"})
    clue.plan()
    clue.report()
    clue.do("Task_review", "office", {"approved": False, "opinion": "证据不足，退回", "new_deadline_workdays": 5})
    assert clue.ready() == ["Task_report"]
    with engine.transaction() as ctx:
        row = ctx.session.scalar(select(HumanTask).where(HumanTask.clue_id == clue.clue_id))
        # 09-27, 09-28, then 10-07 and 10-08 (make-up days), 10-09
        assert row is not None and row.due_at == parse_moment("2023-10-10")


def test_the_preview_uses_the_injected_clock_in_shanghai(engine: Engine, clock: FixedClock) -> None:
    clock.set(parse_moment("2023-09-28T09:00:00"))
    assert engine.run(working_day_deadline, "1") == {"n": 1, "from": "2023-09-28", "date": "2023-10-07",
                                                     "weekday": 6, "calendar_days": 9}
    clock.set(parse_moment("2023-10-08T09:00:00"))
    assert engine.run(working_day_deadline, 1)["date"] == "2023-10-09"
    for bad in ("0", "x", 300, None):
        with pytest.raises(ValidationFailed):
            engine.run(working_day_deadline, bad)


def test_resolution_leaves_forms_without_companions_alone() -> None:
    schema = {"properties": {"deadline": {"type": "string", "format": "date"}}}
    data = {"deadline_workdays": 3}
    assert resolve_working_day_fields(schema, data, parse_moment("2023-09-28").date()) is data
