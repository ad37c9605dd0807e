"""Implausible values (issue 11, defect 7): what cannot be true is refused (a completion or
spot-check date after today, by the engine's clock in Beijing); what is merely unusual — a
deadline already past, more paid than owed, a plan deadline after the assignment deadline —
asks for confirmation and goes through once confirmed. Nothing is written before that."""
from __future__ import annotations

import pytest

from engine import ConfirmationRequired, Engine, ValidationFailed

from ..factories import ClueDriver

PLAN = {"measures": "分期支付", "responsible_leader": "局长", "responsible_person": "张伟",
        "contact_phone": "13800000001"}


def assigned(engine: Engine, deadline: str = "2023-11-20") -> ClueDriver:
    clue = ClueDriver(engine)  # owes 1,280,000.00; the clock stands at 2023-10-17
    clue.triage()
    clue.assign(deadline=deadline)
    return clue


def test_a_deadline_years_in_the_past_asks_for_confirmation(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    data = {"responsible_unit": "zengdu", "deadline": "2020-11-20"}
    with pytest.raises(ConfirmationRequired) as asked:
        clue.do("Task_assign", "group", data, confirm=False)
    assert set(asked.value.fields) == {"deadline"}
    assert "早于今天（2023-10-17）" in asked.value.fields["deadline"] and "2 年" in asked.value.fields["deadline"]
    assert asked.value.to_dict()["confirm_with"] == "confirm_warnings"
    assert clue.ready() == ["Task_assign"]  # nothing moved
    clue.do("Task_assign", "group", data, confirm=True)
    assert clue.ready() == ["Task_plan"] and str(clue.show()["deadline"]) == "2020-11-20"


def test_paid_more_than_owed_asks_for_confirmation(engine: Engine) -> None:
    clue = assigned(engine)
    clue.plan()
    report = {"amount_paid": "1280000.01", "feedback": "已全部支付", "completed_on": "2023-10-17"}
    with pytest.raises(ConfirmationRequired) as asked:
        clue.do("Task_report", "unit", report, confirm=False)
    assert asked.value.fields == {"amount_paid": "超过拖欠金额（1,280,000.00 元），请核实"}
    clue.do("Task_report", "unit", {**report, "amount_paid": "1280000.00"}, confirm=False)  # equal is usual
    assert clue.stage == "reviewing"


def test_paid_above_owed_goes_through_when_confirmed(engine: Engine) -> None:
    clue = assigned(engine)
    clue.plan()
    clue.do("Task_report", "unit", {"amount_paid": "1300000", "feedback": "含利息", "completed_on": "2023-10-17"},
            confirm=True)
    assert str(clue.show()["amount_paid"]) == "1300000.00"


def test_a_completion_date_tomorrow_is_refused_even_when_confirmed(engine: Engine) -> None:
    clue = assigned(engine)
    clue.plan()
    with pytest.raises(ValidationFailed) as refused:
        clue.do("Task_report", "unit", {"feedback": "已全部支付", "completed_on": "2023-10-18"}, confirm=True)
    assert not isinstance(refused.value, ConfirmationRequired)
    assert refused.value.fields == {"completed_on": "不能晚于今天（2023-10-17）"}
    assert clue.ready() == ["Task_report"]


def test_today_is_beijings_day_from_the_engine_clock(engine: Engine) -> None:
    clue = assigned(engine)
    clue.plan()
    clue.at("2023-10-17T23:30:00")  # 15:30 UTC: still the 17th in Beijing
    with pytest.raises(ValidationFailed):
        clue.do("Task_report", "unit", {"feedback": "已全部支付", "completed_on": "2023-10-18"}, confirm=True)
    clue.at("2023-10-18T00:30:00")
    clue.do("Task_report", "unit", {"feedback": "已全部支付", "completed_on": "2023-10-18"}, confirm=False)


def test_a_spot_check_dated_after_today_is_refused(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.to_spot_check()  # the clock now stands at 2023-12-02
    with pytest.raises(ValidationFailed) as refused:
        clue.do("Task_spot_check", "spotcheck", {"result": "genuine", "misconduct": False, "findings": "现场核查",
                                                 "checked_on": "2023-12-03"}, confirm=True)
    assert set(refused.value.fields) == {"checked_on"}


def test_a_plan_deadline_after_the_assignment_deadline_asks_for_confirmation(engine: Engine) -> None:
    clue = assigned(engine, deadline="2023-11-20")
    plan = {**PLAN, "plan_deadline": "2023-11-25"}
    with pytest.raises(ConfirmationRequired) as asked:
        clue.do("Task_plan", "unit", plan, confirm=False)
    assert asked.value.fields == {"plan_deadline": "晚于交办的整改期限（2023-11-20），请核实"}
    clue.do("Task_plan", "unit", {**plan, "plan_deadline": "2023-11-20"}, confirm=False)
    assert clue.ready() == ["Task_report"]


def test_usual_values_need_no_confirmation(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    clue.do("Task_assign", "group", {"responsible_unit": "zengdu", "deadline": "2023-10-17"}, confirm=False)
    clue.do("Task_plan", "unit", {**PLAN, "plan_deadline": "2023-10-17"}, confirm=False)
    clue.do("Task_report", "unit", {"amount_paid": 5, "feedback": "部分支付", "completed_on": "2023-10-17"},
            confirm=False)
    assert clue.stage == "reviewing"
