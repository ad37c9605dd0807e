"""engine.lights: the rule, the stored and indexed lights, the sweep, readers between sweeps,
and the migration's backfill."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import event, select, text, update

from engine import Engine, lights
from engine.clock import parse_moment
from engine.db.models import Campaign, Clue, HumanTask
from engine.db.session import make_sql_engine
from engine.ledger import LedgerQuery, list_clues
from engine.lights import GREEN, RED, YELLOW, Light, for_clue, for_due, refresh_lights
from engine.migrate import upgrade
from engine.tasks import list_tasks
from engine.workdays import add_working_days, working_days_between

from ..conftest import ON_POSTGRESQL, TARGET
from ..factories import ClueDriver, postgresql_schema


def at(text_: str) -> datetime:
    return parse_moment(text_)


# --- the rule ------------------------------------------------------------------------------------

def test_yellow_starts_three_working_days_before_the_deadline_across_national_day() -> None:
    deadline = date(2023, 10, 9)  # Monday after the holiday; 10-07 and 10-08 are make-up working days
    due = lights.deadline_moment(deadline)
    assert due == at("2023-10-10T00:00:00")
    # 3 working days left after 9-28 (10-07, 10-08, 10-09): yellow from 9-28, green on 9-27.
    assert for_clue("rectifying", deadline, at("2023-09-27T23:59:59"), 3) == Light(GREEN, at("2023-09-28T00:00:00"))
    assert for_clue("rectifying", deadline, at("2023-09-28T00:00:00"), 3) == Light(YELLOW, due)
    assert for_clue("rectifying", deadline, at("2023-10-03T12:00:00"), 3) == Light(YELLOW, due)
    assert for_clue("rectifying", deadline, at("2023-10-09T23:59:59"), 3) == Light(YELLOW, due)
    assert for_clue("rectifying", deadline, at("2023-10-10T00:00:00"), 3) == Light(RED, None)


def test_clue_without_deadline_is_green_closed_has_none() -> None:
    now = at("2023-10-17T09:00:00")
    assert for_clue("triage", None, now, 3) == Light(GREEN, None)
    assert for_clue("closed", date(2023, 10, 1), now, 3) == Light(None, None)
    assert for_clue("rejected", None, now, 3) == Light(None, None)
    assert lights.for_task(None, now, 3) == Light(None, None)


def test_a_task_due_at_a_moment_is_red_from_that_moment() -> None:
    due = at("2023-10-21T00:00:00")  # investigation_end: the end of Friday 10-20
    assert lights.for_task(due, at("2023-10-16T23:00:00"), 3).value == GREEN  # Mon: Tue..Fri left
    assert lights.for_task(due, at("2023-10-17T00:00:00"), 3).value == YELLOW  # Tue: Wed, Thu, Fri left
    assert lights.for_task(due, due - timedelta(microseconds=1), 3).value == YELLOW
    assert lights.for_task(due, due, 3).value == RED


@pytest.mark.parametrize("working_days", [0, 1, 3, 5])
def test_yellow_exactly_when_at_most_n_working_days_are_left(working_days: int) -> None:
    """Every (day, deadline) pair around National Day 2023 and Spring Festival 2024."""
    for first in (date(2023, 9, 20), date(2024, 2, 1)):
        for d in range(25):
            deadline = first + timedelta(days=d)
            for t in range(-2, d + 3):
                today = first + timedelta(days=t)
                light = for_clue("rectifying", deadline, at(f"{today.isoformat()}T12:00:00"), working_days).value
                if today > deadline:
                    assert light == RED
                else:
                    left = working_days_between(today, deadline)
                    assert light == (YELLOW if left <= working_days else GREEN), (today, deadline, left)


def test_the_stored_change_moment_moves_a_row_on_like_a_fresh_computation() -> None:
    due = lights.deadline_moment(date(2023, 11, 20))
    stored = for_due(due, at("2023-11-01T09:00:00"), 3)
    assert stored.value == GREEN
    for moment in ("2023-11-14T23:59:59", "2023-11-15T00:00:00", "2023-11-18T10:00:00", "2023-11-21T00:00:00",
                   "2023-12-01T00:00:00"):
        now = at(moment)
        assert lights.advanced(stored.value, stored.changes_at, due, now) == for_due(due, now, 3), moment
    assert add_working_days(date(2023, 11, 20), -3) == date(2023, 11, 15)


# --- stored by the projections ------------------------------------------------------------------

def rows(engine: Engine, model: Any, *where: Any) -> list[Any]:
    def read(ctx: Any) -> list[Any]:
        found = list(ctx.session.scalars(select(model).where(*where).order_by(model.id)))
        ctx.session.expunge_all()
        return found
    return engine.run(read)


def clue_row(engine: Engine, clue_id: int) -> Clue:
    return rows(engine, Clue, Clue.id == clue_id)[0]


def assigned(engine: Engine, deadline: str, **intake: Any) -> ClueDriver:
    clue = ClueDriver(engine, **intake)
    clue.triage()
    clue.assign(deadline=deadline)
    return clue


def test_projections_store_the_light_of_clue_and_tasks(engine: Engine) -> None:
    # 2023-10-17 (Tue) 09:00. Deadline Friday 10-20: Wed, Thu, Fri left → yellow.
    near, far = assigned(engine, "2023-10-20"), assigned(engine, "2023-11-20", enterprise_name="远期企业")
    triage = ClueDriver(engine, enterprise_name="待研判企业")
    assert (clue_row(engine, near.clue_id).light, clue_row(engine, near.clue_id).light_changes_at) == \
        (YELLOW, at("2023-10-21T00:00:00"))
    assert (clue_row(engine, far.clue_id).light, clue_row(engine, far.clue_id).light_changes_at) == \
        (GREEN, at("2023-11-15T00:00:00"))
    assert (clue_row(engine, triage.clue_id).light, clue_row(engine, triage.clue_id).light_changes_at) == (GREEN, None)
    plan = rows(engine, HumanTask, HumanTask.clue_id == near.clue_id)[0]
    assert plan.spec_name == "Task_plan" and (plan.light, plan.light_changes_at) == (YELLOW, at("2023-10-21T00:00:00"))
    assert rows(engine, HumanTask, HumanTask.clue_id == triage.clue_id)[0].light is None  # triage has no due date
    inbox = {t["clue_id"]: t["light"] for t in engine.tasks("unit")["items"]}
    assert inbox == {near.clue_id: YELLOW, far.clue_id: GREEN}
    near.plan()
    near.report()
    near.review(approved=True)
    closed = clue_row(engine, near.clue_id)
    assert closed.stage == "closed" and (closed.light, closed.light_changes_at) == (None, None)


def test_campaign_threshold_is_used(engine: Engine) -> None:
    def five(ctx: Any) -> None:
        ctx.session.execute(update(Campaign).values(yellow_working_days=5))
    engine.run(five)
    clue = assigned(engine, "2023-10-24")  # Tue: Wed..Fri, Mon, Tue left = 5 working days
    assert clue_row(engine, clue.clue_id).light == YELLOW
    assert rows(engine, HumanTask, HumanTask.clue_id == clue.clue_id)[0].light == YELLOW


# --- the sweep and readers between sweeps --------------------------------------------------------

@contextlib.contextmanager
def counted_updates(engine: Engine) -> Iterator[list[int]]:
    """Rows each UPDATE statement sent to the database (executemany counts every parameter set)."""
    counts: list[int] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            counts.append(len(parameters) if executemany else 1)
    event.listen(engine.sql_engine, "before_cursor_execute", before)
    try:
        yield counts
    finally:
        event.remove(engine.sql_engine, "before_cursor_execute", before)


def test_sweep_moves_on_only_the_lights_that_changed(engine: Engine) -> None:
    deadlines = ["2023-10-20", "2023-10-25", "2023-10-30", "2023-11-20", "2023-12-20"]
    clues = {d: assigned(engine, d, enterprise_name=f"企业{d}") for d in deadlines}
    ClueDriver(engine, enterprise_name="无期限")  # green, never swept
    assert engine.run(refresh_lights) == 0
    # Mon 10-23 09:00: 10-20 is over (red); 10-25 has Tue and Wed left (yellow: was green);
    # 10-30 has Tue..Fri, Mon = 5 left (still green); the rest stay green.
    engine.clock.set("2023-10-23T09:00:00")  # type: ignore[attr-defined]
    with counted_updates(engine) as updates:
        changed = engine.run(refresh_lights)
    assert changed == 2 * 2  # two clues and their two Task_plan rows
    assert sum(updates) == 4
    lit = {d: clue_row(engine, c.clue_id).light for d, c in clues.items()}
    assert lit == {"2023-10-20": RED, "2023-10-25": YELLOW, "2023-10-30": GREEN, "2023-11-20": GREEN,
                   "2023-12-20": GREEN}
    assert clue_row(engine, clues["2023-10-20"].clue_id).light_changes_at is None
    assert engine.run(refresh_lights) == 0  # nothing left to move on
    # Across the whole campaign, each sweep changes only what the rule changes.
    for moment in ("2023-10-26T09:00:00", "2023-11-15T00:00:00", "2023-12-15T09:00:00", "2024-01-01T09:00:00"):
        engine.clock.set(moment)  # type: ignore[attr-defined]
        engine.run(refresh_lights)
        now = at(moment)
        for d, c in clues.items():
            assert clue_row(engine, c.clue_id).light == for_clue("rectifying", date.fromisoformat(d), now, 3).value


def test_sweep_uses_batches(engine: Engine) -> None:
    for n in range(5):
        assigned(engine, "2023-10-25", enterprise_name=f"批量企业{n}")
    engine.clock.set("2023-10-24T09:00:00")  # type: ignore[attr-defined]
    assert engine.run(refresh_lights, limit=2) == 4  # two clues and two tasks
    assert engine.run(refresh_lights, limit=2) == 4
    assert engine.run(refresh_lights, limit=2) == 2
    assert engine.run(refresh_lights, limit=2) == 0


def test_readers_are_exact_before_the_sweep(engine: Engine) -> None:
    soon = assigned(engine, "2023-10-25", enterprise_name="将到期企业")
    later = assigned(engine, "2023-11-20", enterprise_name="未到期企业")
    engine.clock.set("2023-10-23T09:00:00")  # type: ignore[attr-defined]  # soon turned yellow, not swept
    assert clue_row(engine, soon.clue_id).light == GREEN  # stored value is stale until the sweep

    def ledger(light: str | None = None) -> dict[int, str | None]:
        page = engine.run(list_clues, "office", LedgerQuery(light=light))
        return {row["clue_id"]: row["light"] for row in page["items"]}

    assert ledger() == {soon.clue_id: YELLOW, later.clue_id: GREEN}
    assert ledger(YELLOW) == {soon.clue_id: YELLOW} and ledger(GREEN) == {later.clue_id: GREEN}
    assert ledger(RED) == {}
    tasks = engine.run(list_tasks, "unit", None, 1, 50, {"light": YELLOW})
    assert [t["clue_id"] for t in tasks["items"]] == [soon.clue_id] and tasks["items"][0]["light"] == YELLOW
    engine.clock.set("2023-10-26T09:00:00")  # type: ignore[attr-defined]  # now overdue, still not swept
    assert ledger(RED) == {soon.clue_id: RED} and ledger(YELLOW) == {}
    assert engine.run(list_tasks, "unit", None, 1, 50, {"light": RED})["total"] == 1
    engine.run(refresh_lights)
    assert ledger() == {soon.clue_id: RED, later.clue_id: GREEN} and ledger(RED) == {soon.clue_id: RED}
    sorted_ = engine.run(list_clues, "office", LedgerQuery(sort="light"))["items"]
    assert [r["clue_id"] for r in sorted_] == [soon.clue_id, later.clue_id]


def test_register_jobs_adds_the_sweep(engine: Engine) -> None:
    scheduler = BackgroundScheduler()
    lights.register_jobs(scheduler, engine, interval_seconds=30)
    job = scheduler.get_job("refresh_lights")
    assert job is not None and job.trigger.interval == timedelta(seconds=30)
    clue = assigned(engine, "2023-10-25")
    engine.clock.set("2023-10-26T09:00:00")  # type: ignore[attr-defined]
    job.func()
    assert clue_row(engine, clue.clue_id).light == RED


# --- the migration's backfill --------------------------------------------------------------------

@contextlib.contextmanager
def empty_database(tmp_path: Path) -> Iterator[str]:
    if ON_POSTGRESQL:
        with postgresql_schema(TARGET, prefix="lights") as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'backfill.sqlite3'}"


def test_migration_backfills_lights(tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    with empty_database(tmp_path) as url:
        sql = make_sql_engine(url)
        try:
            upgrade(sql, "0004")
            past, future = date(now.year - 1, 1, 10), (now + timedelta(days=60)).date()
            with sql.begin() as conn:
                conn.execute(text(
                    "INSERT INTO campaign (id, name, year, starts_on, investigation_ends_on, rectification_ends_on,"
                    " spot_check_starts_on, spot_check_ends_on, ends_on, spot_check_rate, max_sendbacks, is_current,"
                    " created_at) VALUES (1, 'c', 2023, '2023-10-17', '2023-10-20', '2023-11-30', '2023-12-01',"
                    " '2023-12-31', '2023-12-31', 0.3, 5, :t, :now)"), {"t": True, "now": now.replace(tzinfo=None)})
                for cid, stage, deadline in ((1, "rectifying", past), (2, "rectifying", future), (3, "closed", past),
                                             (4, "triage", None)):
                    conn.execute(text(
                        "INSERT INTO clue (id, campaign_id, source, enterprise_name, debtor, summary, stage, key_problem,"
                        " referred, sendback_count, deadline, created_by, created_at, updated_at) VALUES (:id, 1,"
                        " 'leadership', 'e', 'd', 's', :stage, :f, :f, 0, :deadline, 'office', :now, :now)"),
                        {"id": cid, "stage": stage, "deadline": deadline, "f": False, "now": now.replace(tzinfo=None)})
            upgrade(sql)
            with sql.connect() as conn:
                found = dict(conn.execute(text("SELECT id, light FROM clue")).all())
                assert found == {1: RED, 2: GREEN, 3: None, 4: GREEN}
                assert conn.execute(text("SELECT yellow_working_days FROM campaign")).scalar_one() == 3
        finally:
            sql.dispose()
