"""Every path of processes/clue_handling.bpmn, through the engine and its database."""
from __future__ import annotations

from engine import Engine

from ..factories import ClueDriver


def kinds(engine: Engine, clue_id: int) -> list[str]:
    return [e["kind"] for e in engine.clue_history(clue_id)["events"]]


def test_intake_starts_instance_at_triage(engine: Engine) -> None:
    clue = ClueDriver(engine)
    shown = clue.show()
    assert shown["stage"] == "triage" and shown["referred"] is False
    assert clue.ready() == ["Task_triage"]
    assert shown["instance"]["status"] == "running"
    assert kinds(engine, clue.clue_id) == ["instance_started"]


def test_reject_ends_rejected(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.do("Task_triage", "office", {"accepted": False, "reject_reason": "不属于专项行动范围"})
    shown = clue.show()
    assert shown["stage"] == "rejected" and shown["tasks"] == []
    assert shown["instance"]["status"] == "completed" and shown["closed_at"]
    assert kinds(engine, clue.clue_id)[-1] == "end_reached"


def test_routing_decision_sets_group_and_lead_units(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage(category="policy")
    shown = clue.show()
    assert shown["stage"] == "assigning"
    assert shown["work_group"] == "policy" and shown["lead_units"] == ["city_finance", "city_data"]
    decision = [e for e in engine.clue_history(clue.clue_id)["events"] if e["kind"] == "decision_made"]
    assert decision and decision[0]["data"]["work_group"] == "policy"


def test_close_without_spot_check_when_not_sampled(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.to_review()
    assert clue.stage == "reviewing"
    clue.review(approved=True)
    shown = clue.show()
    assert shown["stage"] == "closed" and shown["spot_check_selected"] is False
    assert shown["amount_paid"] == 1280000
    assert shown["instance"]["status"] == "completed"
    sampling = [e for e in engine.clue_history(clue.clue_id)["events"] if e["element_id"] == "Script_sampling"]
    assert sampling[0]["data"] == {"spot_check_selected": False}


def test_send_back_three_times_then_close(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.to_review()
    for round_ in range(1, 4):
        clue.review(approved=False, new_deadline=f"2023-11-2{round_}")
        shown = clue.show()
        assert shown["stage"] == "rectifying" and shown["sendback_count"] == round_
        assert shown["deadline"] == f"2023-11-2{round_}"
        assert clue.ready() == ["Task_report"]
        clue.report()
    clue.review(approved=True)
    assert clue.stage == "closed"
    assert kinds(engine, clue.clue_id).count("task_completed") == 4 + 4 + 3  # triage..report, 4 reviews, 3 re-reports


def test_chase_raised_once_at_deadline_and_gone_after_report(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    clue.assign(deadline="2023-11-20")
    clue.plan()
    clue.at("2023-11-20T23:59:59")
    assert clue.ready() == ["Task_report"]
    clue.at("2023-11-21T00:00:01")
    assert clue.ready() == ["Task_chase", "Task_report"]
    chase = [t for t in clue.show()["tasks"] if t["name"] == "Task_chase"][0]
    assert chase["lane"] == "work_group" and chase["candidate_group"] == "arrears_public"
    for later in ("2023-11-22T08:00:00", "2023-11-25T08:00:00"):
        clue.at(later)
        assert clue.ready() == ["Task_chase", "Task_report"]
    assert kinds(engine, clue.clue_id).count("timer_fired") == 1
    clue.report()
    assert clue.ready() == ["Task_review"]
    assert kinds(engine, clue.clue_id).count("task_cancelled") == 1


def test_chase_completed_by_group_does_not_block(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    clue.assign(deadline="2023-11-20")
    clue.plan()
    clue.at("2023-11-21T09:00:00")
    clue.do("Task_chase", "group", {"contacted": True, "note": "已电话督促"})
    assert clue.ready() == ["Task_report"]
    clue.report()
    clue.review(approved=True)
    assert clue.show()["instance"]["status"] == "completed"


def test_key_problem_waits_for_spot_check_phase_then_closes(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.to_review(key=True)
    clue.review(approved=True)
    assert clue.stage == "awaiting_spot_check" and clue.ready() == []
    assert clue.show()["instance"]["status"] == "waiting"
    clue.at("2023-11-30T23:59:59")
    assert clue.stage == "awaiting_spot_check"
    clue.at("2023-12-01T00:00:01")
    assert clue.stage == "spot_check" and clue.ready() == ["Task_spot_check"]
    clue.spot_check("genuine")
    shown = clue.show()
    assert shown["stage"] == "closed" and shown["referred"] is False and shown["spot_check_result"] == "genuine"
    assert shown["instance"]["status"] == "completed"


def test_paper_rectification_goes_back_to_unit(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.to_spot_check()
    clue.spot_check("paper")
    shown = clue.show()
    assert shown["stage"] == "rectifying" and shown["referred"] is False
    assert shown["sendback_count"] == 1 and shown["deadline"] == "2023-12-20"
    assert clue.ready() == ["Task_report"]
    clue.report()
    clue.review(approved=True)
    assert clue.stage == "spot_check"  # the phase has begun: checked again at once
    clue.spot_check("genuine")
    assert clue.stage == "closed"


def test_fake_rectification_is_referred_and_sent_back(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.to_spot_check()
    clue.spot_check("fake")
    shown = clue.show()
    assert shown["stage"] == "rectifying" and shown["referred"] is True
    assert clue.ready() == ["Task_referral", "Task_report"]
    referral = [t for t in shown["tasks"] if t["name"] == "Task_referral"][0]
    assert referral["lane"] == "discipline"
    clue.do("Task_referral", "discipline", {"received": True, "case_number": "随纪(2023)12号"})
    assert clue.ready() == ["Task_report"] and clue.show()["referred"] is True


def test_misconduct_with_genuine_fix_closes_and_refers(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.to_spot_check()
    clue.spot_check("genuine", misconduct=True)
    shown = clue.show()
    assert shown["stage"] == "closed" and shown["referred"] is True
    assert clue.ready() == ["Task_referral"]
    clue.do("Task_referral", "discipline", {"received": True})
    assert clue.show()["instance"]["status"] == "completed"


def test_send_back_cap_escalates_instead_of_looping(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.to_review()
    for _ in range(5):
        clue.review(approved=False)
        clue.report()
    clue.review(approved=False)  # the sixth send-back exceeds max_sendbacks = 5
    shown = clue.show()
    assert clue.ready() == ["Task_sendback_escalation"] and shown["stage"] == "reviewing"
    assert shown["sendback_count"] == 6
    clue.do("Task_sendback_escalation", "office", {"decision": "refer", "note": "多次整改不到位，移送纪检"})
    shown = clue.show()
    assert shown["stage"] == "closed" and shown["referred"] is True
    assert clue.ready() == ["Task_referral"]


def test_send_back_cap_can_close_unresolved(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.to_review()
    for _ in range(6):
        if clue.ready() == ["Task_report"]:
            clue.report()
        clue.review(approved=False)
    clue.do("Task_sendback_escalation", "office", {"decision": "close_unresolved", "note": "挂牌督办"})
    shown = clue.show()
    assert shown["stage"] == "closed" and shown["referred"] is False
    assert shown["instance"]["status"] == "completed"


def test_promise_category_is_led_by_the_office(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage(category="promise")
    shown = clue.show()
    assert shown["work_group"] == "office"
    assert [t["id"] for t in engine.tasks("office", clue.clue_id)["items"]] == [clue.task_id("Task_assign")]
    assert engine.tasks("group", clue.clue_id)["total"] == 0
