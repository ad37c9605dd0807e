"""A calendar change is recorded at once and rescheduled in batches, each its own transaction:
resumable after an interruption, every waiting timer moved exactly once, progress kept."""
from __future__ import annotations

import threading
from collections import Counter
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from engine import Engine, phase_timers
from engine.campaigns import calendar_changes, reschedule_batch, run_calendar_batches, update_calendar
from engine.db.calendar_models import CalendarChange
from engine.db.models import InstanceEvent, OrgUnit, ProcessInstance
from engine.errors import ValidationFailed

from .test_campaigns__calendar import waiting_timers
from .test_reporting__units import CONTACTS

OLD_DUE = "2023-10-21T00:00:00+08:00"   # investigation ends 2023-10-20
NEW_DUE = "2023-10-28T00:00:00+08:00"   # moved to 2023-10-27
UNITS = 14


@pytest.fixture
def armed(engine: Engine) -> list[int]:
    """Every unit's reporting instance, contacts in: each waits on its self-inspection deadline."""
    engine.start_unit_reporting("office")
    instances = []
    for code in engine.run(lambda ctx: list(ctx.session.scalars(select(OrgUnit.code)))):
        [task] = [t for t in engine.tasks(f"unit_{code}")["items"] if t["name"] == "Task_contacts"]
        engine.complete_task(task["id"], f"unit_{code}", CONTACTS)
        instances.append(task["instance_id"])
    assert len(instances) == UNITS
    return sorted(instances)


def events(engine: Engine, kind: str) -> Counter[int]:
    def read(ctx: Any) -> Counter[int]:
        return Counter(ctx.session.scalars(select(InstanceEvent.instance_id).where(InstanceEvent.kind == kind)))
    return engine.run(read)


def change_row(engine: Engine, change_id: int) -> dict[str, Any]:
    def read(ctx: Any) -> dict[str, Any]:
        c = ctx.session.get(CalendarChange, change_id)
        return {"cursor": c.cursor, "done": c.done, "updated": c.updated, "timers": c.timers,
                "finished": c.finished_at is not None, "failures": c.failures, "total": c.total}
    return engine.run(read)


def move_investigation(engine: Engine, day: date, inline: int) -> dict[str, Any]:
    return engine.run(update_calendar, "office", {"investigation_ends_on": day}, inline=inline)


def assert_each_moved_once(engine: Engine, instances: list[int], due: str = NEW_DUE) -> None:
    assert events(engine, "calendar_changed") == Counter({i: 1 for i in instances})
    assert events(engine, "timer_rescheduled") == Counter({i: 1 for i in instances})
    for instance_id in instances:
        assert waiting_timers(engine, instance_id) == {"Boundary_self_inspection_due": due}
    assert engine.verify_history()["intact"] is True


def test_recorded_at_once_then_rescheduled_in_batches(engine: Engine, armed: list[int]) -> None:
    result = move_investigation(engine, date(2023, 10, 27), inline=3)
    assert (result["instances_updated"], result["timers_rescheduled"], result["pending"]) == (3, 3, UNITS - 3)
    assert engine.campaign()["phases"]["investigation_ends_on"] == "2023-10-27"  # the change itself is in
    assert waiting_timers(engine, armed[3]) == {"Boundary_self_inspection_due": OLD_DUE}  # not yet
    progress = engine.run(calendar_changes, "office")
    assert [(p["done"], p["total"], p["pending"], p["finished_at"]) for p in progress] == [(3, UNITS, UNITS - 3, None)]
    batches = []
    while (step := engine.run(reschedule_batch, result["change_id"], 4)) is not None:
        batches.append(step["batch"])
        if step["finished_at"]:
            break
    assert batches == [4, 4, 3]  # 3 inline + 4 + 4 + 3; the last, short batch finishes the change
    assert engine.run(reschedule_batch, result["change_id"], 4) is None
    assert change_row(engine, result["change_id"]) | {"failures": {}} == {
        "cursor": armed[-1], "done": UNITS, "updated": UNITS, "timers": UNITS, "finished": True, "failures": {},
        "total": UNITS}
    assert_each_moved_once(engine, armed)
    with engine.transaction() as ctx:
        due = ctx.session.scalars(select(ProcessInstance.next_timer_at).where(ProcessInstance.id.in_(armed)))
        assert {d.isoformat() for d in due} == {"2023-10-27T16:00:00+00:00"}


def test_small_changes_finish_in_the_saving_transaction(engine: Engine, armed: list[int]) -> None:
    result = move_investigation(engine, date(2023, 10, 27), inline=100)
    assert (result["instances_updated"], result["timers_rescheduled"], result["pending"]) == (UNITS, UNITS, 0)
    assert change_row(engine, result["change_id"])["finished"] is True
    assert run_calendar_batches(engine) == 0
    assert_each_moved_once(engine, armed)


def test_an_interrupted_run_resumes_after_the_last_committed_batch(engine: Engine, armed: list[int],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    result = move_investigation(engine, date(2023, 10, 27), inline=0)
    real, calls = phase_timers.move_variables, []

    def crashing(ctx: Any, instance_id: int, *args: Any, **kwargs: Any) -> Any:
        calls.append(instance_id)
        if len(calls) == 7:  # the worker dies in the middle of the second batch
            raise RuntimeError("worker killed")
        return real(ctx, instance_id, *args, **kwargs)
    monkeypatch.setattr(phase_timers, "move_variables", crashing)
    with pytest.raises(RuntimeError):
        run_calendar_batches(engine, batch=5)
    row = change_row(engine, result["change_id"])
    assert (row["cursor"], row["done"], row["finished"]) == (armed[4], 5, False)
    assert events(engine, "calendar_changed") == Counter({i: 1 for i in armed[:5]})  # nothing of batch two
    assert waiting_timers(engine, armed[5]) == {"Boundary_self_inspection_due": OLD_DUE}
    monkeypatch.setattr(phase_timers, "move_variables", real)
    assert run_calendar_batches(engine, batch=5) == UNITS - 5
    assert_each_moved_once(engine, armed)


def test_an_instance_that_cannot_be_rescheduled_is_listed_and_skipped(engine: Engine, armed: list[int],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    result = move_investigation(engine, date(2023, 10, 27), inline=0)
    real = phase_timers._evaluate

    def refusing(instance: Any, *args: Any) -> str:
        if instance.id == armed[2]:
            raise ValidationFailed("cannot be re-armed", {"calendar": "x"})
        return real(instance, *args)
    monkeypatch.setattr(phase_timers, "_evaluate", refusing)
    assert run_calendar_batches(engine, batch=4) == UNITS
    row = change_row(engine, result["change_id"])
    assert row["finished"] and list(row["failures"]) == [str(armed[2])] and row["timers"] == UNITS - 1
    assert waiting_timers(engine, armed[2]) == {"Boundary_self_inspection_due": OLD_DUE}  # untouched, not half-done
    assert armed[2] not in events(engine, "calendar_changed")
    [shown] = engine.run(calendar_changes, "office")
    assert list(shown["failures"]) == [str(armed[2])]


def test_a_newer_change_wins_over_an_older_one_still_running(engine: Engine, armed: list[int]) -> None:
    move_investigation(engine, date(2023, 10, 25), inline=2)
    move_investigation(engine, date(2023, 10, 27), inline=2)
    run_calendar_batches(engine, batch=5)
    for instance_id in armed:
        assert waiting_timers(engine, instance_id) == {"Boundary_self_inspection_due": NEW_DUE}
    # the first two instances moved twice (once per change, inline); the others once, to the newest date
    assert events(engine, "timer_rescheduled") == Counter({**{i: 1 for i in armed}, armed[0]: 2, armed[1]: 2})


def test_two_workers_side_by_side_move_each_timer_once(engine: Engine, armed: list[int]) -> None:
    move_investigation(engine, date(2023, 10, 27), inline=0)
    handled: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            handled.append(run_calendar_batches(engine, batch=2))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    run_calendar_batches(engine, batch=2)  # whatever a skipped-over worker left
    assert_each_moved_once(engine, armed)
