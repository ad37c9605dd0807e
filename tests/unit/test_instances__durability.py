"""The database is the truth: restarts, concurrent completions, and a record nobody can rewrite."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update

from engine import Conflict, Engine, EngineSettings, FixedClock
from engine.db.models import InstanceEvent, ProcessInstance

from ..factories import ClueDriver


def test_fresh_process_sees_same_ready_tasks_and_continues(engine: Engine, database_url: str) -> None:
    clue = ClueDriver(engine)
    clue.triage(key=True)
    clue.assign(deadline="2023-11-20")
    before = engine.tasks("unit")
    engine.dispose()
    restarted = Engine(EngineSettings(database_url=database_url), FixedClock(engine.clock.now()))
    try:
        assert restarted.tasks("unit") == before
        again = ClueDriver.__new__(ClueDriver)
        again.engine, again.clue_id, again.instance_id = restarted, clue.clue_id, clue.instance_id
        again.plan()
        again.at("2023-11-21T09:00:00")  # the boundary timer armed before the restart still fires
        assert again.ready() == ["Task_chase", "Task_report"]
        again.report()
        again.review(approved=True)
        assert again.stage == "awaiting_spot_check"
    finally:
        restarted.dispose()


def test_two_threads_completing_one_task(engine: Engine, database_url: str) -> None:
    clue = ClueDriver(engine)
    task_id = clue.task_id("Task_triage")
    engines = [Engine(EngineSettings(database_url=database_url), FixedClock(engine.clock.now())) for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def complete(worker: Engine, category: str) -> None:
        barrier.wait()
        try:
            worker.complete_task(task_id, "office", {"accepted": True, "category": category, "level": "city"})
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=complete, args=(w, c)) for w, c in zip(engines, ("policy", "investment"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for worker in engines:
        worker.dispose()
    assert sorted(outcomes) == ["conflict", "ok"]
    events = engine.clue_history(clue.clue_id)["events"]
    completions = [e for e in events if e["kind"] == "task_completed"]
    assert len(completions) == 1
    assert clue.show()["work_group"] == completions[0]["data"]["category"]
    assert clue.ready() == ["Task_assign"]
    assert engine.verify_history()["intact"] is True


def test_completing_a_completed_task_is_a_conflict(engine: Engine) -> None:
    clue = ClueDriver(engine)
    task_id = clue.task_id("Task_triage")
    clue.triage()
    with pytest.raises(Conflict, match="no longer ready: completed by office"):
        engine.complete_task(task_id, "office", {"accepted": True, "category": "policy", "level": "city"})


def test_editing_one_history_row_is_detected(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    other = ClueDriver(engine, enterprise_name="随州市另一家企业有限公司")
    assert engine.verify_history() == {"intact": True, "instances_checked": 2}
    with engine.transaction() as ctx:
        event = ctx.session.scalars(select(InstanceEvent).where(
            InstanceEvent.instance_id == clue.instance_id, InstanceEvent.kind == "task_completed")).one()
        ctx.session.execute(update(InstanceEvent).where(InstanceEvent.id == event.id)
                            .values(data={**event.data, "category": "promise"}))
        seq = event.seq
    result = engine.verify_history()
    assert result["intact"] is False
    assert result["first_break"]["instance_id"] == clue.instance_id and result["first_break"]["seq"] == seq
    assert "edited" in result["first_break"]["reason"]
    assert other.instance_id != clue.instance_id


def test_deleting_the_newest_event_is_detected(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    with engine.transaction() as ctx:
        newest = ctx.session.scalars(select(InstanceEvent).where(InstanceEvent.instance_id == clue.instance_id)
                                     .order_by(InstanceEvent.seq.desc())).first()
        ctx.session.delete(newest)
    result = engine.verify_history()
    assert result["intact"] is False and "removed" in result["first_break"]["reason"]


def test_history_records_the_algorithm(engine: Engine) -> None:
    clue = ClueDriver(engine)
    events = engine.clue_history(clue.clue_id)["events"]
    assert {e["hash_alg"] for e in events} == {"sm3"} and len(events[0]["hash"]) == 64


def test_a_stale_due_column_is_recomputed_without_firing_early(engine: Engine) -> None:
    clue = ClueDriver(engine)
    clue.triage()
    clue.assign(deadline="2023-11-20")
    clue.plan()
    with engine.transaction() as ctx:
        # A due column the workflow does not agree with (no timer is that early).
        ctx.session.execute(update(ProcessInstance).where(ProcessInstance.id == clue.instance_id)
                            .values(next_timer_at=engine.clock.now().replace(year=2020)))
    assert engine.fire_due_timers() == 1
    assert clue.ready() == ["Task_report"]  # nothing fired early; the column is recomputed
    assert engine.fire_due_timers() == 0
