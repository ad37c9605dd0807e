"""engine/ladder.py: reminders, the chase and the escalation ladder with the clock moved day by
day, each step once and at its moment, in the verified history; and supervision by hand."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import Conflict, Engine, FixedClock, Forbidden, ValidationFailed
from engine.clock import SHANGHAI, parse_moment
from engine.db.models import HumanTask, LadderStep
from engine.ladder import (LadderConfig, advance_ladder, issue_supervision_notice, ladder_of, list_for_supervision,
                           supervision_of)
from engine.notifications import list_notifications

from ..factories import ClueDriver

LADDER_KINDS = ("reminder", "chase", "escalation", "timer_fired")
CLUE_USERS = ("unit", "unit_zengdu", "group", "group_arrears_public", "office", "unit_suixian", "group_policy",
              "spotcheck", "discipline")


def tick(engine: Engine, moment: str | datetime) -> int:
    """Move the clock, fire due timers and advance the ladder, as the scheduler's jobs would."""
    engine.clock.set(parse_moment(moment) if isinstance(moment, str) else moment)  # type: ignore[attr-defined]
    engine.fire_due_timers()
    return engine.run(advance_ladder)


def ladder_events(engine: Engine, clue_id: int) -> list[tuple[str, str, str | None]]:
    """(local moment, kind, ladder step) of every ladder-related event in the clue's history."""
    events = engine.clue_history(clue_id)["events"]
    return [(datetime.fromisoformat(e["at"]).astimezone(SHANGHAI).strftime("%m-%d %H:%M:%S"), e["kind"],
             (e["data"] or {}).get("step")) for e in events if e["kind"] in LADDER_KINDS]


def ladder_notices(engine: Engine, user: str) -> list[dict[str, Any]]:
    """A user's notifications less the notices of new work (tasks.complete_task sends those)."""
    return [i for i in engine.run(list_notifications, user, 1, 200)["items"] if i["kind"] != "task_assigned"]


def kinds_by_user(engine: Engine) -> dict[str, list[str]]:
    return {user: sorted(i["kind"] for i in ladder_notices(engine, user))
            for user in CLUE_USERS}


def walk_days(engine: Engine, first: str, last: str, at: str = "00:00:01") -> dict[str, int]:
    """Tick once a day at `at` (Asia/Shanghai); returns the days on which ladder steps were taken."""
    day, end, taken = date.fromisoformat(first), date.fromisoformat(last), {}
    while day <= end:
        n = tick(engine, f"{day.isoformat()}T{at}")
        if n:
            taken[day.isoformat()[5:]] = n
        day += timedelta(days=1)
    return taken


def overdue_report_task(engine: Engine) -> ClueDriver:
    clue = ClueDriver(engine)
    clue.triage()
    clue.assign(deadline="2023-11-20")  # due at the end of 2023-11-20, Asia/Shanghai
    clue.plan()
    return clue


def test_reminders_chase_and_escalations_each_once_at_their_moment(engine: Engine) -> None:
    clue = overdue_report_task(engine)
    report = clue.task_id("Task_report")
    assert walk_days(engine, "2023-11-01", "2023-12-10") == {
        "11-18": 1, "11-20": 1, "11-21": 1, "11-22": 1, "11-25": 1, "12-02": 1}
    assert ladder_events(engine, clue.clue_id) == [
        ("11-18 00:00:01", "reminder", "reminder_3d"),
        ("11-20 00:00:01", "reminder", "reminder_1d"),
        ("11-21 00:00:01", "timer_fired", None),  # the diagram's own chase (Task_chase)
        ("11-22 00:00:01", "escalation", "escalation_unit_leader"),
        ("11-25 00:00:01", "escalation", "escalation_group"),
        ("12-02 00:00:01", "escalation", "escalation_office"),
    ]
    assert [(s["step"], s["outcome"]) for s in engine.run(ladder_of, report)] == [
        ("reminder_3d", "taken"), ("reminder_1d", "taken"), ("chase", "process"),
        ("escalation_unit_leader", "taken"), ("escalation_group", "taken"), ("escalation_office", "taken")]
    assert clue.ready() == ["Task_chase", "Task_report"]
    unit = ["chase", "escalation_unit_leader", "reminder_1d", "reminder_3d"]
    assert kinds_by_user(engine) == {
        "unit": unit, "unit_zengdu": unit, "group": ["escalation_group"], "group_arrears_public": ["escalation_group"],
        "office": ["escalation_office"], "unit_suixian": [], "group_policy": [], "spotcheck": [], "discipline": []}
    history = engine.clue_history(clue.clue_id)["events"]
    office_step = [e for e in history if (e["data"] or {}).get("step") == "escalation_office"][0]
    assert office_step["actor"] == "system" and office_step["task_id"] == report
    assert office_step["data"]["audiences"] == ["role:office"] and office_step["data"]["notified"] == 1
    assert engine.run(advance_ladder) == 0  # nothing twice
    assert engine.verify_history()["intact"] is True


def test_each_step_falls_due_exactly_at_its_moment(engine: Engine) -> None:
    overdue_report_task(engine)
    for moment, step in (("2023-11-18T00:00:00", "reminder_3d"), ("2023-11-20T00:00:00", "reminder_1d"),
                         ("2023-11-21T00:00:00", "chase"), ("2023-11-22T00:00:00", "escalation_unit_leader"),
                         ("2023-11-25T00:00:00", "escalation_group"), ("2023-12-02T00:00:00", "escalation_office")):
        before = parse_moment(moment) - timedelta(seconds=1)
        tick(engine, before)
        with engine.transaction() as ctx:
            assert ctx.session.scalar(select(LadderStep).where(LadderStep.step == step)) is None, (step, "early")
        assert tick(engine, moment) == 1
        with engine.transaction() as ctx:
            assert ctx.session.scalar(select(LadderStep.at).where(LadderStep.step == step)) == parse_moment(moment)


def test_ladder_stops_once_the_unit_reports(engine: Engine) -> None:
    clue = overdue_report_task(engine)
    walk_days(engine, "2023-11-15", "2023-11-22")
    assert [k for _, k, _ in ladder_events(engine, clue.clue_id)] == [
        "reminder", "reminder", "timer_fired", "escalation"]
    clue.report()
    assert clue.ready() == ["Task_review"]
    assert walk_days(engine, "2023-11-23", "2023-12-20") == {}
    assert [k for _, k, _ in ladder_events(engine, clue.clue_id)] == [
        "reminder", "reminder", "timer_fired", "escalation"]
    mine = kinds_by_user(engine)
    assert mine["group"] == [] and mine["office"] == []
    assert engine.verify_history()["intact"] is True


def test_report_before_the_deadline_ends_the_ladder_after_the_reminders(engine: Engine) -> None:
    clue = overdue_report_task(engine)
    walk_days(engine, "2023-11-15", "2023-11-20")
    clue.report()
    assert walk_days(engine, "2023-11-21", "2023-12-10") == {}
    assert [k for _, k, _ in ladder_events(engine, clue.clue_id)] == ["reminder", "reminder"]


def test_task_without_a_boundary_gets_the_ladders_own_chase(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    clue.assign(deadline="2023-11-20")  # the plan (Task_plan) shares the deadline and has no boundary timer
    walk_days(engine, "2023-11-15", "2023-11-22")
    assert [(k, s) for _, k, s in ladder_events(engine, clue.clue_id)] == [
        ("reminder", "reminder_3d"), ("reminder", "reminder_1d"), ("chase", "chase"),
        ("escalation", "escalation_unit_leader")]
    chase = [e for e in engine.clue_history(clue.clue_id)["events"] if e["kind"] == "chase"][0]
    assert chase["element_id"] == "Task_plan" and chase["data"]["audiences"] == ["unit:zengdu"]
    assert kinds_by_user(engine)["unit"] == ["chase", "escalation_unit_leader", "reminder_1d", "reminder_3d"]
    assert engine.verify_history()["intact"] is True


def test_a_moved_deadline_starts_the_ladder_again(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    clue.assign(deadline="2023-11-20")
    plan = clue.task_id("Task_plan")
    assert walk_days(engine, "2023-11-15", "2023-11-20") == {"11-18": 1, "11-20": 1}
    with engine.transaction() as ctx:  # as the projection does when the campaign calendar moves
        row = ctx.session.get(HumanTask, plan)
        row.due_at = row.sort_due = parse_moment("2023-11-28")
    assert walk_days(engine, "2023-11-21", "2023-11-29") == {"11-25": 1, "11-27": 1, "11-28": 1, "11-29": 1}
    assert [(day, s) for day, _, s in ladder_events(engine, clue.clue_id)] == [
        ("11-18 00:00:01", "reminder_3d"), ("11-20 00:00:01", "reminder_1d"), ("11-25 00:00:01", "reminder_3d"),
        ("11-27 00:00:01", "reminder_1d"), ("11-28 00:00:01", "chase"), ("11-29 00:00:01", "escalation_unit_leader")]
    assert [s["step"] for s in engine.run(ladder_of, plan)] == [
        "reminder_3d", "reminder_1d", "chase", "escalation_unit_leader"]
    assert engine.verify_history()["intact"] is True


def test_two_workers_take_each_step_once(engine: Engine) -> None:
    clues = [overdue_report_task(engine) for _ in range(12)]
    engine.clock.set(parse_moment("2023-12-03T09:00:00"))  # type: ignore[attr-defined]
    engine.fire_due_timers()  # every step of every clue is now due at once
    workers = [Engine(engine.settings, FixedClock(engine.clock.now())) for _ in range(2)]
    start = threading.Barrier(2)
    counts: list[int] = []

    def steps_taken(ctx: Any) -> int:
        return ctx.session.scalar(select(func.count()).select_from(LadderStep))

    def work(worker: Engine) -> None:
        start.wait()
        total = 0
        # Small batches, as the scheduler job runs them. A batch can come back empty while the
        # other worker holds every instance it found (those are skipped, not waited for).
        for _ in range(200):
            total += worker.run(advance_ladder, 5)
            if worker.run(steps_taken) == 12 * 4:
                break
        counts.append(total)

    try:
        threads = [threading.Thread(target=work, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for worker in workers:
            worker.dispose()
    with engine.transaction() as ctx:
        taken = ctx.session.execute(select(LadderStep.task_id, LadderStep.step)).all()
    assert sum(counts) == len(taken) == len(set(taken)) == 12 * 4  # reminders superseded; the chase, three levels
    for clue in clues:
        assert [s for _, k, s in ladder_events(engine, clue.clue_id) if k == "escalation"] == [
            "escalation_unit_leader", "escalation_group", "escalation_office"]
    assert engine.verify_history()["intact"] is True


def test_reminder_not_sent_for_a_task_that_appeared_after_its_moment(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    engine.clock.set(parse_moment("2023-11-18T12:00:00"))  # type: ignore[attr-defined]
    clue.assign(deadline="2023-11-20")  # Task_plan is born 2.5 days before it is due
    assert walk_days(engine, "2023-11-19", "2023-11-20") == {"11-19": 1, "11-20": 1}
    assert [s for _, _, s in ladder_events(engine, clue.clue_id)] == ["reminder_1d"]
    assert [(s["step"], s["outcome"]) for s in engine.run(ladder_of, clue.task_id("Task_plan"))] == [
        ("reminder_3d", "skipped"), ("reminder_1d", "taken")]


def test_promise_clue_led_by_the_office_skips_the_group_step(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage(category="promise")
    clue.do("Task_assign", "office", {"responsible_unit": "zengdu", "deadline": "2023-11-20"})
    clue.plan()
    walk_days(engine, "2023-11-21", "2023-12-03")
    steps = dict((s["step"], s["outcome"]) for s in engine.run(ladder_of, clue.task_id("Task_report")))
    assert steps["escalation_group"] == "skipped" and steps["escalation_office"] == "taken"
    assert kinds_by_user(engine)["office"] == ["escalation_office"]


def test_configured_ladder(engine: Engine) -> None:
    overdue_report_task(engine)
    config = LadderConfig(reminder_days=(5,), escalations=(("unit_leader", 2), ("office", 1)))
    taken: dict[str, list[str]] = {}
    for day in range(14, 26):
        engine.clock.set(parse_moment(f"2023-11-{day}T00:00:01"))  # type: ignore[attr-defined]
        engine.fire_due_timers()
        if engine.run(advance_ladder, 500, config):
            with engine.transaction() as ctx:
                taken[f"11-{day}"] = list(ctx.session.scalars(
                    select(LadderStep.step).where(LadderStep.at == ctx.now).order_by(LadderStep.id)))
    assert taken == {"11-16": ["reminder_5d"], "11-21": ["chase"], "11-23": ["escalation_unit_leader"],
                     "11-24": ["escalation_office"]}


def test_unit_reporting_self_inspection_is_chased_like_a_clue(engine: Engine) -> None:
    engine.start_unit_reporting("office")
    contacts = [t["id"] for t in engine.tasks("unit")["items"] if t["name"] == "Task_contacts"][0]
    engine.complete_task(contacts, "unit", {"leader_name": "王强", "leader_title": "副区长", "contact_name": "张伟",
                                            "contact_phone": "13800000001"})
    [task] = [t for t in engine.tasks("unit")["items"] if t["name"] == "Task_self_inspection"]
    # zengdu's self-inspection list and the 13 other units' contact registrations (due with it)
    assert walk_days(engine, "2023-10-18", "2023-11-05") == {
        "10-18": 14, "10-20": 14, "10-21": 14, "10-22": 14, "10-25": 14, "11-01": 14}
    assert [(s["step"], s["outcome"]) for s in engine.run(ladder_of, task["id"])] == [
        ("reminder_3d", "taken"), ("reminder_1d", "taken"), ("chase", "process"),
        ("escalation_unit_leader", "taken"), ("escalation_group", "skipped"), ("escalation_office", "taken")]
    # Only zengdu has reached the self-inspection step; suixian is chased for its contacts.
    kinds = kinds_by_user(engine)
    assert kinds["unit"] == ["chase", "escalation_unit_leader", "reminder_1d", "reminder_3d"]
    assert kinds["unit_suixian"] == kinds["unit"] and kinds["office"] == ["escalation_office"] * 14
    reminder = ladder_notices(engine, "unit")[-1]
    assert reminder["title"].startswith("【到期提醒】专项行动报送：报送自查问题清单") and reminder["link"] == f"/tasks/{task['id']}"
    engine.complete_task(task["id"], "unit", {"none_found": True})
    assert walk_days(engine, "2023-11-06", "2023-11-20") == {}
    assert engine.verify_history()["intact"] is True


# --- supervision by hand ---------------------------------------------------------------------

def assigned_clue(engine: Engine) -> ClueDriver:
    clue = ClueDriver(engine)
    clue.triage()
    clue.assign(deadline="2023-11-20")
    return clue


def test_supervision_notice_recorded_stored_and_sent(engine: Engine) -> None:
    clue = assigned_clue(engine)
    issued = engine.run(issue_supervision_notice, "office", clue.clue_id, "请于11月10日前完成首期付款并报送凭证。",
                        date(2023, 11, 10))
    assert issued["notified"] == 4 and issued["deadline"] == "2023-11-10"  # two unit and two group accounts
    event = engine.clue_history(clue.clue_id)["events"][-1]
    assert event["kind"] == "supervision_notice" and event["actor"] == "office"
    assert event["data"]["notice_id"] == issued["id"]
    assert event["data"]["audiences"] == ["unit:zengdu", "group:arrears_public"]
    for user in ("unit", "unit_zengdu", "group", "group_arrears_public"):
        [note] = ladder_notices(engine, user)
        assert note["kind"] == "supervision_notice" and note["clue_id"] == clue.clue_id
        assert "首期付款" in note["body"] and "2023-11-10" in note["body"]
    assert engine.run(list_notifications, "unit_suixian")["total"] == 0
    shown = engine.run(supervision_of, "unit", clue.clue_id)
    assert [n["id"] for n in shown["notices"]] == [issued["id"]] and shown["may_supervise"] is False
    assert engine.verify_history()["intact"] is True


def test_supervision_is_the_offices_and_checked(engine: Engine) -> None:
    clue = assigned_clue(engine)
    for user in ("unit", "group", "supervisor"):
        with pytest.raises(Forbidden):
            engine.run(issue_supervision_notice, user, clue.clue_id, "督办", None)
        with pytest.raises(Forbidden):
            engine.run(list_for_supervision, user, clue.clue_id, True, "理由")
    with pytest.raises(ValidationFailed):
        engine.run(issue_supervision_notice, "office", clue.clue_id, "   ", None)
    with pytest.raises(ValidationFailed):
        engine.run(issue_supervision_notice, "office", clue.clue_id, "督办", date(2023, 10, 1))
    with pytest.raises(ValidationFailed):
        engine.run(list_for_supervision, "office", clue.clue_id, True, "")
    with pytest.raises(Forbidden):
        engine.run(supervision_of, "unit_suixian", clue.clue_id)
    rejected = ClueDriver(engine)
    rejected.do("Task_triage", "office", {"accepted": False, "reject_reason": "不属于专项行动范围"})
    with pytest.raises(Conflict):
        engine.run(issue_supervision_notice, "office", rejected.clue_id, "督办", None)
    assert [e["kind"] for e in engine.clue_history(clue.clue_id)["events"]].count("supervision_notice") == 0


def test_listing_for_supervision(engine: Engine) -> None:
    clue = assigned_clue(engine)
    listed = engine.run(list_for_supervision, "office", clue.clue_id, True, "拖欠时间长、金额大，挂牌督办")
    assert listed == {"clue_id": clue.clue_id, "listed": True, "changed": True, "notified": 4}
    assert clue.show()["listed_for_supervision"] is True
    assert engine.run(list_for_supervision, "office", clue.clue_id, True, "再次")["changed"] is False
    unlisted = engine.run(list_for_supervision, "office", clue.clue_id, False, "")
    assert unlisted["changed"] is True and clue.show()["listed_for_supervision"] is False
    events = [e for e in engine.clue_history(clue.clue_id)["events"] if e["kind"] == "supervision_listing"]
    assert [(e["data"]["listed"], e["element_name"]) for e in events] == [(True, "挂牌督办"), (False, "取消挂牌督办")]
    assert sorted(i["kind"] for i in ladder_notices(engine, "unit")) == [
        "supervision_listed", "supervision_unlisted"]
    assert engine.verify_history()["intact"] is True

