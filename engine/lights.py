"""亮灯督办: the light of every open clue and READY task, stored and indexed, in one place.

The rule, for an item with a deadline (a clue's 整改期限, the last day, or a task's due moment):
  red     once the deadline has passed;
  yellow  from the day on which at most N working days are left after it up to the deadline
          (N = the campaign's `yellow_working_days`, default 3; working days follow the Chinese
          holiday calendar with its make-up days, engine.workdays);
  green   before that.
An open clue without a deadline yet is green; a closed or rejected clue has no light; a task
without a due date has none.

Each row stores its light and `light_changes_at`, the next moment the light changes by itself
(None when only a new step can change it: red, closed, no deadline). Projections write both
whenever they write the row; `refresh_lights` moves on only the rows whose moment has passed
(`WHERE light_changes_at <= now`, an index range), so a sweep over 100,000 clues touches just
the ones that changed. Between sweeps, readers use `current()` and `light_is()`, which apply a
passed change moment on the fly, so pages and filters are exact even before the sweep runs.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from .clock import SHANGHAI, as_utc, local_day_start
from .context import Context
from .db.models import Campaign, Clue, HumanTask
from .db.session import is_postgresql
from .workdays import add_working_days, last_working_day

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from .engine import Engine

log = logging.getLogger(__name__)

RED, YELLOW, GREEN = "red", "yellow", "green"
LIGHTS = (RED, YELLOW, GREEN)
CLOSED_STAGES = frozenset({"closed", "rejected"})
DEFAULT_YELLOW_WORKING_DAYS = 3
SWEEP_BATCH = 5000
SWEEP_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True)
class Light:
    value: str | None
    changes_at: datetime | None  # aware UTC; None: time alone will not change it


NO_LIGHT = Light(None, None)


# --- the rule ----------------------------------------------------------------------------------

def deadline_moment(day: date) -> datetime:
    """A deadline day ends at the following midnight in Asia/Shanghai (UTC)."""
    return as_utc(local_day_start(day + timedelta(days=1)))


@lru_cache(maxsize=4096)
def _yellow_day(last_day: date, working_days: int) -> date:
    # Years the holiday calendar lacks count Monday to Friday: a light must never fail a step.
    return add_working_days(last_working_day(last_day, strict=False), -working_days, strict=False)


def yellow_from(due: datetime, working_days: int) -> datetime:
    """The start of the first day with at most `working_days` working days left after it up to
    the deadline's last day (the day `due` falls in, or the day before when `due` is midnight)."""
    last_day = (due - timedelta(microseconds=1)).astimezone(SHANGHAI).date()
    return as_utc(local_day_start(_yellow_day(last_day, max(0, int(working_days)))))


def light_at(due: datetime | None, now: datetime, yellow_start: datetime | None, undated: str | None = None) -> Light:
    """The light at `now` given the due moment and the moment it turns yellow."""
    if due is None:
        return Light(undated, None)
    if now >= due:
        return Light(RED, None)
    if yellow_start is None or now >= yellow_start:
        return Light(YELLOW, due)
    return Light(GREEN, yellow_start)


def for_due(due: datetime | None, now: datetime, working_days: int, undated: str | None = None) -> Light:
    return light_at(due, now, yellow_from(due, working_days) if due is not None else None, undated)


def for_clue(stage: str | None, deadline: date | None, now: datetime, working_days: int) -> Light:
    if stage in CLOSED_STAGES:
        return NO_LIGHT
    return for_due(deadline_moment(deadline) if deadline is not None else None, now, working_days, undated=GREEN)


def for_task(due_at: datetime | None, now: datetime, working_days: int) -> Light:
    return for_due(due_at, now, working_days)


def advanced(stored: str | None, changes_at: datetime | None, due: datetime | None, now: datetime) -> Light:
    """The light of a stored row once `now` has reached its change moment.

    A green row's change moment is its yellow start, a yellow row's is its deadline, so the
    row's own change moment stands in for the campaign's threshold: no lookup needed.
    """
    if changes_at is None or now < changes_at:
        return Light(stored, changes_at)
    return light_at(due, now, changes_at if stored == GREEN else None, undated=stored)


def current(stored: str | None, changes_at: datetime | None, due: datetime | None, now: datetime) -> str | None:
    """What a reader shows: the stored light, moved on if the sweep has not reached it yet."""
    return advanced(stored, changes_at, due, now).value


def light_is(value: str, light: Any, changes_at: Any, overdue: ColumnElement[bool], now: datetime) -> ColumnElement[bool]:
    """SQL: rows whose light at `now` is `value` (stored columns only, no per-row date arithmetic).

    `overdue` is the row's "deadline has passed" condition. Rows past their change moment are
    taken as moved on: green → yellow (or red if overdue), yellow → red.
    """
    fresh = or_(changes_at.is_(None), changes_at > now)
    stale = changes_at <= now
    if value == GREEN:
        return and_(light == GREEN, fresh)
    if value == YELLOW:
        return or_(and_(light == YELLOW, fresh), and_(light == GREEN, stale, ~overdue))
    if value == RED:
        return or_(light == RED, and_(stale, overdue))
    raise ValueError(f"unknown light {value!r}")


def clue_overdue(now: datetime) -> ColumnElement[bool]:
    """SQL: the clue's deadline day is over (in Asia/Shanghai)."""
    return Clue.deadline < now.astimezone(SHANGHAI).date()


def task_overdue(now: datetime) -> ColumnElement[bool]:
    return HumanTask.due_at <= now


# --- writing -------------------------------------------------------------------------------------

def working_days_of(session: Session, campaign_id: Any) -> int:
    """The campaign's yellow threshold (an identity-map lookup after the first in a session)."""
    try:
        campaign = session.get(Campaign, int(campaign_id)) if campaign_id is not None else None
    except (TypeError, ValueError):
        campaign = None
    if campaign is None or campaign.yellow_working_days is None:
        return DEFAULT_YELLOW_WORKING_DAYS
    # The identity map holds objects weakly: without a reference the campaign is dropped as
    # soon as this returns, and every step of a timer group would query it again.
    session.info.setdefault("chengxin.campaigns_held", {})[campaign.id] = campaign
    return campaign.yellow_working_days


def store_clue_light(ctx: Context, clue: Clue) -> None:
    light = for_clue(clue.stage, clue.deadline, ctx.now, working_days_of(ctx.session, clue.campaign_id))
    clue.light, clue.light_changes_at = light.value, light.changes_at
    # Always written with the row: a sweep that moved this light on concurrently (from the
    # deadline as it was) must not survive because the value we computed looks unchanged.
    flag_modified(clue, "light")
    flag_modified(clue, "light_changes_at")


def store_task_light(row: HumanTask, now: datetime, working_days: int, due_changed: bool = False) -> None:
    light = for_task(row.due_at, now, working_days)
    if (row.light, row.light_changes_at) != (light.value, light.changes_at) or due_changed:
        row.light, row.light_changes_at = light.value, light.changes_at
    if due_changed:  # as for clues: never leave a concurrent sweep's light from the old due date
        flag_modified(row, "light")
        flag_modified(row, "light_changes_at")


# --- the sweep -----------------------------------------------------------------------------------

def refresh_lights(ctx: Context, limit: int = SWEEP_BATCH) -> int:
    """Move on the lights whose change moment has passed (at most `limit` clues and `limit`
    tasks); returns how many rows changed. Rows being written by a step right now are skipped
    on PostgreSQL (the step stores its own light) and taken by the next sweep."""
    now = ctx.now
    changed = 0
    for model, due_of in ((Clue, lambda row: deadline_moment(row.deadline) if row.deadline else None),
                          (HumanTask, lambda row: row.due_at)):
        due_column = model.deadline if model is Clue else model.due_at
        query = (select(model.id, model.light, model.light_changes_at, due_column)
                 .where(model.light_changes_at <= now)
                 .order_by(model.light_changes_at, model.id).limit(limit))
        if is_postgresql(ctx.session):
            query = query.with_for_update(skip_locked=True)
        updates = []
        for row in ctx.session.execute(query):
            light = advanced(row.light, row.light_changes_at, due_of(row), now)
            updates.append({"id": row.id, "light": light.value, "light_changes_at": light.changes_at})
        if updates:
            ctx.session.execute(update(model), updates)
            changed += len(updates)
    return changed


def recompute_lights(ctx: Context, campaign_id: int | None = None) -> int:
    """Recompute every open clue's light (of one campaign, or all) and every READY task's from
    scratch: after a campaign's yellow threshold changes or when the clock was set back."""
    changed = 0
    clues = select(Clue).where(Clue.stage.not_in(CLOSED_STAGES))
    if campaign_id is not None:
        clues = clues.where(Clue.campaign_id == campaign_id)
    for clue in ctx.session.scalars(clues.execution_options(yield_per=1000)):
        before = (clue.light, clue.light_changes_at)
        store_clue_light(ctx, clue)
        changed += before != (clue.light, clue.light_changes_at)
    tasks = select(HumanTask, Clue.campaign_id).outerjoin(Clue, Clue.id == HumanTask.clue_id)
    if campaign_id is not None:
        tasks = tasks.where(Clue.campaign_id == campaign_id)
    current_id = ctx.session.scalar(select(Campaign.id).where(Campaign.is_current.is_(True)))
    for row, clue_campaign in ctx.session.execute(tasks):
        before = (row.light, row.light_changes_at)
        store_task_light(row, ctx.now, working_days_of(ctx.session, clue_campaign or current_id))
        changed += before != (row.light, row.light_changes_at)
    ctx.session.flush()
    return changed


def register_jobs(scheduler: BaseScheduler, engine: Engine, interval_seconds: float = SWEEP_INTERVAL_SECONDS) -> None:
    """Add the lights sweep to an APScheduler scheduler (each batch is one transaction)."""

    def sweep() -> None:
        total = 0
        while True:
            changed = engine.run(refresh_lights, limit=SWEEP_BATCH)
            total += changed
            if changed < SWEEP_BATCH:
                break
        if total:
            log.info("moved on %d light(s)", total)

    scheduler.add_job(sweep, "interval", seconds=interval_seconds, max_instances=1, coalesce=True,
                      id="refresh_lights")
