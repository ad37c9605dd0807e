"""The office moves phase dates (timers already waiting follow, SPIFF_NOTES pitfall 3) and opens
the next year's campaign, carrying the open clues over with their histories."""
from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimeDateEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine import Engine, campaigns
from engine.campaigns import open_next_campaign, template_for, update_calendar
from engine.db.models import Campaign, Clue, HumanTask, ProcessInstance, SecurityEvent
from engine.errors import Forbidden, ValidationFailed
from engine.instances import load_instance

from ..factories import ClueDriver
from .test_reporting__units import CONTACTS, only


def waiting_timers(engine: Engine, instance_id: int) -> dict[str, str]:
    """Element id → the frozen due value of each waiting date timer."""
    def read(ctx: Any) -> dict[str, str]:
        _, workflow = load_instance(ctx, instance_id, lock=False)
        return {t.task_spec.bpmn_id: t.internal_data.get("event_value") for t in workflow.get_tasks(state=TaskState.WAITING)
                if isinstance(getattr(t.task_spec, "event_definition", None), TimeDateEventDefinition)}
    return engine.run(read)


def variable(engine: Engine, instance_id: int, name: str) -> set[Any]:
    """Every value the variable has in the instance's unfinished tasks."""
    def read(ctx: Any) -> set[Any]:
        _, workflow = load_instance(ctx, instance_id, lock=False)
        return {t.data.get(name) for t in workflow.tasks.values() if not t.has_state(TaskState.FINISHED_MASK)
                and name in t.data}
    return engine.run(read)


def instance_row(engine: Engine, instance_id: int) -> ProcessInstance:
    def read(ctx: Any) -> ProcessInstance:
        row = ctx.session.get(ProcessInstance, instance_id)
        ctx.session.expunge(row)
        return row
    return engine.run(read)


def kinds(engine: Engine, clue_id: int) -> list[str]:
    return [e["kind"] for e in engine.clue_history(clue_id)["events"]]


def security_events(engine: Engine, kind: str) -> list[SecurityEvent]:
    def read(ctx: Any) -> list[SecurityEvent]:
        found = list(ctx.session.scalars(select(SecurityEvent).where(SecurityEvent.kind == kind)))
        ctx.session.expunge_all()
        return found
    return engine.run(read)


def awaiting_spot_check(engine: Engine, **intake: Any) -> ClueDriver:
    clue = ClueDriver(engine, **intake)
    clue.to_review(key=True)
    clue.review(approved=True)
    assert clue.stage == "awaiting_spot_check"
    return clue


# --- moving a phase date -------------------------------------------------------------------------

def test_spot_check_start_moved_later(engine: Engine) -> None:
    waiting = awaiting_spot_check(engine)
    later = ClueDriver(engine, enterprise_name="尚在整改企业")
    later.to_review(key=True)  # reaches the spot-check timer only after the change
    assert waiting_timers(engine, waiting.instance_id) == {"Timer_spot_check_phase": "2023-12-01T00:00:00+08:00"}
    engine.clock.set("2023-11-25T10:00:00")  # type: ignore[attr-defined]

    result = engine.run(update_calendar, "office", {"spot_check_starts_on": date(2023, 12, 10),
                                                    "spot_check_ends_on": date(2024, 1, 10), "ends_on": date(2024, 1, 10)})
    assert result["changed"]["spot_check_starts_on"] == ["2023-12-01", "2023-12-10"]
    assert result["timers_rescheduled"] == 1 and result["instances_updated"] == 2
    assert result["campaign"]["phases"]["spot_check_starts_on"] == "2023-12-10"
    assert waiting_timers(engine, waiting.instance_id) == {"Timer_spot_check_phase": "2023-12-10T00:00:00+08:00"}
    assert instance_row(engine, waiting.instance_id).next_timer_at.isoformat() == "2023-12-09T16:00:00+00:00"
    assert variable(engine, later.instance_id, "spot_check_start") == {"2023-12-10T00:00:00+08:00"}
    assert variable(engine, later.instance_id, "campaign_end") == {"2024-01-11T00:00:00+08:00"}
    history = engine.clue_history(waiting.clue_id)["events"]
    changed, rescheduled = history[-2], history[-1]
    assert changed["kind"] == "calendar_changed" and changed["actor"] == "office"
    assert changed["data"]["variables"]["spot_check_start"] == {"from": "2023-12-01T00:00:00+08:00",
                                                                  "to": "2023-12-10T00:00:00+08:00"}
    assert rescheduled["kind"] == "timer_rescheduled" and rescheduled["element_id"] == "Timer_spot_check_phase"
    assert rescheduled["data"]["from"] == "2023-12-01T00:00:00+08:00"
    assert rescheduled["data"]["to"] == "2023-12-10T00:00:00+08:00"
    audit = security_events(engine, "calendar_changed")
    assert len(audit) == 1 and audit[0].actor == "office" and audit[0].target.startswith("campaign:")
    assert audit[0].detail["before"]["spot_check_starts_on"] == "2023-12-01"
    assert audit[0].detail["after"]["spot_check_starts_on"] == "2023-12-10"

    later.review(approved=True)  # armed now, from the new variable
    assert waiting_timers(engine, later.instance_id) == {"Timer_spot_check_phase": "2023-12-10T00:00:00+08:00"}
    waiting.at("2023-12-01T00:00:01")  # the old date: nothing fires
    assert waiting.stage == "awaiting_spot_check" and later.stage == "awaiting_spot_check"
    assert "timer_fired" not in kinds(engine, waiting.clue_id)[-2:]
    waiting.at("2023-12-09T23:59:59")
    assert waiting.stage == "awaiting_spot_check"
    waiting.at("2023-12-10T00:00:01")
    assert waiting.stage == "spot_check" and later.stage == "spot_check"
    assert kinds(engine, waiting.clue_id).count("timer_fired") == 1
    assert engine.verify_history()["intact"] is True


def test_spot_check_start_moved_earlier(engine: Engine) -> None:
    first, second = awaiting_spot_check(engine), awaiting_spot_check(engine, enterprise_name="另一企业")
    engine.clock.set("2023-11-20T10:00:00")  # type: ignore[attr-defined]
    earlier = {"rectification_ends_on": date(2023, 11, 24), "spot_check_starts_on": date(2023, 11, 25)}
    assert engine.run(update_calendar, "office", earlier)["timers_rescheduled"] == 2
    first.at("2023-11-24T23:59:59")
    assert first.stage == "awaiting_spot_check"
    first.at("2023-11-25T00:00:01")  # the new, earlier date
    assert first.stage == "spot_check" and second.stage == "spot_check"
    assert engine.verify_history()["intact"] is True


def test_moved_into_the_past_fires_at_once(engine: Engine) -> None:
    clue = awaiting_spot_check(engine)
    engine.clock.set("2023-11-28T10:00:00")  # type: ignore[attr-defined]
    engine.run(update_calendar, "office", {"rectification_ends_on": date(2023, 11, 26),
                                           "spot_check_starts_on": date(2023, 11, 27)})
    assert clue.stage == "spot_check" and clue.ready() == ["Task_spot_check"]
    assert kinds(engine, clue.clue_id)[-3:] == ["calendar_changed", "timer_rescheduled", "timer_fired"]
    assert instance_row(engine, clue.instance_id).next_timer_at is None


def test_unit_reporting_deadline_boundary_timers_move(engine: Engine) -> None:
    engine.start_unit_reporting("office")
    engine.complete_task(only(engine, "unit", "Task_contacts"), "unit", CONTACTS)  # zengdu's timer is armed
    task_id = only(engine, "unit", "Task_self_inspection")
    instance_id = engine.show_task(task_id, "unit")["instance_id"]
    assert waiting_timers(engine, instance_id) == {"Boundary_self_inspection_due": "2023-10-21T00:00:00+08:00"}

    result = engine.run(update_calendar, "office", {"investigation_ends_on": date(2023, 10, 27)})
    assert result["timers_rescheduled"] == 1 and result["instances_updated"] == 14  # every unit's instance
    assert waiting_timers(engine, instance_id) == {"Boundary_self_inspection_due": "2023-10-28T00:00:00+08:00"}
    shown = engine.show_task(task_id, "unit")
    assert shown["due_at"] == "2023-10-27T16:00:00+00:00"  # the READY task's due date follows

    def light(ctx: Any) -> str | None:
        return ctx.session.get(HumanTask, task_id).light
    assert engine.run(light) == "green"  # 10-17: eight working days to go, not three
    engine.clock.set("2023-10-21T00:00:01")  # type: ignore[attr-defined]
    engine.fire_due_timers()
    assert [t for t in engine.tasks("office")["items"] if t["name"] == "Task_remind_self_inspection"] == []
    # Another unit registers its contacts after the change: its timer is armed from the new date.
    other = only(engine, "unit_suixian", "Task_contacts")
    engine.complete_task(other, "unit_suixian", CONTACTS)
    other_instance = engine.show_task(only(engine, "unit_suixian", "Task_self_inspection"), "unit_suixian")["instance_id"]
    assert waiting_timers(engine, other_instance) == {"Boundary_self_inspection_due": "2023-10-28T00:00:00+08:00"}
    engine.clock.set("2023-10-28T00:00:01")  # type: ignore[attr-defined]
    engine.fire_due_timers()
    assert len([t for t in engine.tasks("office")["items"] if t["name"] == "Task_remind_self_inspection"]) == 2
    assert engine.verify_history()["intact"] is True


@pytest.mark.parametrize("user", ["unit", "group", "spotcheck", "supervisor", "admin", "designer", "discipline"])
def test_only_the_office_changes_the_calendar(engine: Engine, user: str) -> None:
    clue = awaiting_spot_check(engine)
    history_before = len(kinds(engine, clue.clue_id))
    with pytest.raises(Forbidden):
        engine.run(update_calendar, user, {"spot_check_starts_on": date(2023, 12, 10)})
    assert engine.campaign()["phases"]["spot_check_starts_on"] == "2023-12-01"
    assert waiting_timers(engine, clue.instance_id) == {"Timer_spot_check_phase": "2023-12-01T00:00:00+08:00"}
    assert len(kinds(engine, clue.clue_id)) == history_before
    assert security_events(engine, "calendar_changed") == []
    with pytest.raises(Forbidden):
        engine.run(open_next_campaign, user, template_for(2024))
    assert engine.campaign()["year"] == 2023


@pytest.mark.parametrize("changes, field", [
    ({"spot_check_starts_on": date(2023, 11, 20)}, "spot_check_starts_on"),  # before rectification ends
    ({"investigation_ends_on": date(2023, 10, 1)}, "investigation_ends_on"),  # before the campaign starts
    ({"ends_on": date(2023, 12, 20)}, "ends_on"),  # before the spot check ends
    ({"name": "x"}, "name"),
    ({"spot_check_starts_on": "2023-12-10"}, "spot_check_starts_on"),  # not a date
])
def test_calendar_changes_are_validated(engine: Engine, changes: dict[str, Any], field: str) -> None:
    clue = awaiting_spot_check(engine)
    with pytest.raises(ValidationFailed) as refused:
        engine.run(update_calendar, "office", changes)
    assert field in refused.value.fields
    assert engine.campaign()["phases"]["spot_check_starts_on"] == "2023-12-01"
    assert waiting_timers(engine, clue.instance_id) == {"Timer_spot_check_phase": "2023-12-01T00:00:00+08:00"}
    assert security_events(engine, "calendar_changed") == []


def test_unchanged_calendar_touches_nothing(engine: Engine) -> None:
    clue = awaiting_spot_check(engine)
    before = len(kinds(engine, clue.clue_id))
    result = engine.run(update_calendar, "office", {"spot_check_starts_on": date(2023, 12, 1)})
    assert result["changed"] == {} and result["instances_updated"] == 0
    assert len(kinds(engine, clue.clue_id)) == before and security_events(engine, "calendar_changed") == []
    moved_start = engine.run(update_calendar, "office", {"starts_on": date(2023, 10, 10)})
    assert moved_start["changed"] == {"starts_on": ["2023-10-17", "2023-10-10"]}
    assert moved_start["instances_updated"] == 0 and len(kinds(engine, clue.clue_id)) == before
    assert len(security_events(engine, "calendar_changed")) == 1  # still recorded for the campaign


# --- the next year's campaign ---------------------------------------------------------------------

def test_template_for_moves_the_2023_plan() -> None:
    plan = template_for(2024)
    assert plan["year"] == 2024 and plan["name"] == "2024年加强诚信政府建设专项行动"
    assert plan["starts_on"] == date(2024, 10, 17) and plan["spot_check_starts_on"] == date(2024, 12, 1)
    assert plan["ends_on"] == date(2024, 12, 31)


def test_next_campaign_carries_the_open_clues_over(engine: Engine) -> None:
    closed = ClueDriver(engine, enterprise_name="已销号企业")
    closed.to_review()
    closed.review(approved=True)
    rejected = ClueDriver(engine, enterprise_name="不予受理企业")
    rejected.do("Task_triage", "office", {"accepted": False, "reject_reason": "不属于专项行动范围"})
    triage = ClueDriver(engine, enterprise_name="待研判企业")
    rectifying = ClueDriver(engine, enterprise_name="整改中企业")
    rectifying.triage()
    rectifying.assign(deadline="2023-11-20")
    waiting = awaiting_spot_check(engine, enterprise_name="待抽查企业")
    old_id = engine.campaign()["id"]
    histories = {c.clue_id: kinds(engine, c.clue_id) for c in (closed, rejected, triage, rectifying, waiting)}
    engine.clock.set("2023-11-25T10:00:00")  # type: ignore[attr-defined]

    result = engine.run(open_next_campaign, "office", template_for(2024))
    new_id = result["campaign"]["id"]
    assert result["previous"] == old_id and new_id != old_id
    assert sorted(result["carried"]) == sorted([triage.clue_id, rectifying.clue_id, waiting.clue_id])
    assert engine.campaign()["id"] == new_id and engine.campaign()["year"] == 2024

    def campaigns_of(ctx: Any) -> dict[int, int]:
        return dict(ctx.session.execute(select(Clue.id, Clue.campaign_id)).all())
    assert engine.run(campaigns_of) == {closed.clue_id: old_id, rejected.clue_id: old_id, triage.clue_id: new_id,
                                        rectifying.clue_id: new_id, waiting.clue_id: new_id}
    for clue in (closed, rejected):
        assert kinds(engine, clue.clue_id) == histories[clue.clue_id]
    for clue in (triage, rectifying, waiting):
        # Same instance, same history, one more event.
        assert kinds(engine, clue.clue_id)[:len(histories[clue.clue_id])] == histories[clue.clue_id]
        assert "carried_over" in kinds(engine, clue.clue_id)[len(histories[clue.clue_id]):]
        assert variable(engine, clue.instance_id, "campaign_id") == {new_id}
        assert variable(engine, clue.instance_id, "spot_check_start") == {"2024-12-01T00:00:00+08:00"}
    carried = [e for e in engine.clue_history(waiting.clue_id)["events"] if e["kind"] == "carried_over"][0]
    assert carried["data"]["from_campaign"] == old_id and carried["data"]["to_campaign"] == new_id
    assert waiting_timers(engine, waiting.instance_id) == {"Timer_spot_check_phase": "2024-12-01T00:00:00+08:00"}
    assert len(security_events(engine, "campaign_opened")) == 1
    assert engine.verify_history()["intact"] is True

    # The carried clues follow the new calendar; new clues belong to the new campaign.
    waiting.at("2023-12-01T00:00:01")
    assert waiting.stage == "awaiting_spot_check"
    fresh = ClueDriver(engine, enterprise_name="新年度企业")
    assert fresh.show()["campaign_id"] == new_id
    rectifying.plan()
    rectifying.report()
    rectifying.review(approved=True)
    assert rectifying.stage == "closed" and rectifying.show()["campaign_id"] == new_id
    waiting.at("2024-12-01T00:00:01")
    assert waiting.stage == "spot_check"
    assert engine.verify_history()["intact"] is True


def test_many_clues_are_carried_over_in_batches_each_once(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(campaigns, "BATCH_SIZE", 2)
    reporting = engine.start_unit_reporting()  # unit reporting belongs to its year: never carried
    assert reporting
    clues = [ClueDriver(engine, enterprise_name=f"结转企业{n}") for n in range(5)]
    old_id = engine.campaign()["id"]
    engine.clock.set("2023-11-25T10:00:00")  # type: ignore[attr-defined]

    result = engine.run(open_next_campaign, "office", template_for(2024))
    new_id = result["campaign"]["id"]
    assert sorted(result["carried"]) == sorted(c.clue_id for c in clues)
    assert result["pending"] == 3  # two carried in the opening transaction, three to go
    assert [kinds(engine, c.clue_id).count("carried_over") for c in clues] == [1, 1, 0, 0, 0]
    assert all(c.show()["campaign_id"] == new_id for c in clues)  # the ledger moves at once

    fresh = ClueDriver(engine, enterprise_name="新年度企业")  # registered while the batches run
    assert campaigns.run_calendar_batches(engine, batch=2) > 0
    assert [kinds(engine, c.clue_id).count("carried_over") for c in clues] == [1, 1, 1, 1, 1]
    assert "carried_over" not in kinds(engine, fresh.clue_id)
    for clue in clues:
        assert variable(engine, clue.instance_id, "campaign_id") == {new_id}
    progress = engine.run(campaigns.calendar_changes, "office")[0]
    assert progress["kind"] == "carry_over" and progress["from_campaign"] == old_id
    assert progress["finished_at"] is not None and progress["updated"] == 5

    def reporting_campaigns(ctx: Any) -> set[Any]:
        return {load_instance(ctx, i, lock=False)[1].task_tree.data.get("campaign_id") for i in reporting}
    assert engine.run(reporting_campaigns) == {old_id}
    assert campaigns.run_calendar_batches(engine, batch=2) == 0  # nothing is carried twice
    assert engine.verify_history()["intact"] is True


def test_next_campaign_without_carry_over_and_one_per_year(engine: Engine) -> None:
    clue = ClueDriver(engine)
    old_id = engine.campaign()["id"]
    result = engine.run(open_next_campaign, "office", template_for(2024), carry_over=False)
    assert result["carried"] == [] and clue.show()["campaign_id"] == old_id
    with pytest.raises(ValidationFailed) as refused:
        engine.run(open_next_campaign, "office", template_for(2024))
    assert "year" in refused.value.fields

    def count(ctx: Any) -> int:
        return len(list(ctx.session.scalars(select(Campaign))))
    assert engine.run(count) == 2
