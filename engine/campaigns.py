"""The campaign calendar (实施步骤): phase dates per year, handed to processes as variables.

The office may move a phase date while the campaign runs (`update_calendar`) and open the next
year's campaign from a template, carrying the open clues over (`open_next_campaign`). Both give
the running instances the new phase variables and re-arm the timers already waiting for a
moved phase (engine.phase_timers); each change is in the security audit and in every touched
instance's history.
"""
from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import access, accounts, lights, phase_timers
from .clock import local_day_start
from .context import Context
from .db.calendar_models import CalendarChange
from .db.models import Campaign, Clue, Role
from .db.session import is_postgresql
from .errors import EngineError, NotFound, ValidationFailed

log = logging.getLogger(__name__)

DEFAULT_SPOT_CHECK_RATE = 0.3
DEFAULT_MAX_SENDBACKS = 5
# Instances rescheduled per transaction after a calendar change (~8 ms each).
BATCH_SIZE = 100
CARRY_OVER = "carry_over"  # CalendarChange.kind of carrying open clues into a new campaign
# The phase dates, in the order the phases follow each other.
PHASES = ("starts_on", "investigation_ends_on", "rectification_ends_on", "spot_check_starts_on",
          "spot_check_ends_on", "ends_on")


def plan_2023() -> dict[str, Any]:
    """Suizhou's 2023 plan, issued 2023-10-17 (seed/suizhou-credible-government-plan-2023.md)."""
    return dict(name="2023年加强诚信政府建设专项行动", year=2023, starts_on=date(2023, 10, 17),
                investigation_ends_on=date(2023, 10, 20), rectification_ends_on=date(2023, 11, 30),
                spot_check_starts_on=date(2023, 12, 1), spot_check_ends_on=date(2023, 12, 31),
                ends_on=date(2023, 12, 31))


def around(today: date) -> dict[str, Any]:
    """A calendar of the plan's shape placed so that `today` falls early in the spot-check phase."""
    starts = today - timedelta(days=50)
    return dict(name=f"{today.year}年加强诚信政府建设专项行动", year=today.year, starts_on=starts,
                investigation_ends_on=starts + timedelta(days=3), rectification_ends_on=today - timedelta(days=6),
                spot_check_starts_on=today - timedelta(days=5), spot_check_ends_on=today + timedelta(days=25),
                ends_on=today + timedelta(days=25))


def template_for(year: int) -> dict[str, Any]:
    """The 2023 plan's calendar moved to `year` (same months and days), for the next campaign."""
    plan = plan_2023()
    moved = {k: plan[k].replace(year=year) for k in PHASES}
    return dict(name=f"{year}年加强诚信政府建设专项行动", year=year, **moved)


def check_phase_order(calendar: dict[str, Any]) -> None:
    """:raises ValidationFailed: a phase date is missing, not a date, or before the previous one."""
    errors = {k: "请填写日期" for k in PHASES if not isinstance(calendar.get(k), date)}
    if errors:
        raise ValidationFailed(f"missing or invalid phase dates: {', '.join(errors)}", errors)
    for earlier, later in zip(PHASES, PHASES[1:]):
        if calendar[earlier] > calendar[later]:
            raise ValidationFailed(f"{later} is before {earlier}", {later: "日期早于上一阶段"})


def create_campaign(ctx: Context, calendar: dict[str, Any], spot_check_rate: float = DEFAULT_SPOT_CHECK_RATE,
                    max_sendbacks: int = DEFAULT_MAX_SENDBACKS, current: bool = True,
                    yellow_working_days: int = lights.DEFAULT_YELLOW_WORKING_DAYS) -> Campaign:
    """Add a campaign; the phases must follow each other.

    :raises ValidationFailed: dates out of order, a rate outside 0..1, a negative yellow threshold.
    """
    check_phase_order(calendar)
    if not 0 <= spot_check_rate <= 1:
        raise ValidationFailed("spot_check_rate must be between 0 and 1", {"spot_check_rate": "应在0到1之间"})
    if not 0 <= yellow_working_days <= 60:
        raise ValidationFailed("yellow_working_days must be between 0 and 60", {"yellow_working_days": "应在0到60之间"})
    if current:
        ctx.session.execute(update(Campaign).values(is_current=False))
    campaign = Campaign(**calendar, spot_check_rate=spot_check_rate, max_sendbacks=max_sendbacks,
                        yellow_working_days=yellow_working_days, is_current=current, created_at=ctx.now)
    ctx.session.add(campaign)
    ctx.session.flush()
    return campaign


def current_campaign(session: Session) -> Campaign:
    """:raises NotFound: no campaign has been opened."""
    campaign = session.scalar(select(Campaign).where(Campaign.is_current.is_(True)))
    if campaign is None:
        raise NotFound("no current campaign: run `chengxin demo` or open a campaign first")
    return campaign


def _end_of(day: date) -> str:
    return local_day_start(day + timedelta(days=1)).isoformat()


def process_variables(campaign: Campaign) -> dict[str, Any]:
    """Phase moments as ISO strings with +08:00 (SPIFF_NOTES pitfalls 1 and 2)."""
    return {
        "campaign_id": campaign.id,
        "investigation_end": _end_of(campaign.investigation_ends_on),
        "rectification_end": _end_of(campaign.rectification_ends_on),
        "spot_check_start": local_day_start(campaign.spot_check_starts_on).isoformat(),
        "spot_check_end": _end_of(campaign.spot_check_ends_on),
        "campaign_end": _end_of(campaign.ends_on),
        "spot_check_rate": campaign.spot_check_rate,
        "max_sendbacks": campaign.max_sendbacks,
    }


def campaign_summary(campaign: Campaign) -> dict[str, Any]:
    return {"id": campaign.id, "name": campaign.name, "year": campaign.year,
            "phases": {k: getattr(campaign, k).isoformat() for k in PHASES},
            "spot_check_rate": campaign.spot_check_rate, "max_sendbacks": campaign.max_sendbacks,
            "yellow_working_days": campaign.yellow_working_days, "is_current": campaign.is_current}


# --- the office changes the calendar ---------------------------------------------------------------

def calendar_of(ctx: Context, username: str) -> dict[str, Any]:
    """The current campaign's calendar and the earlier campaigns, for the office.

    :raises Forbidden: not the office. :raises NotFound: no campaign yet.
    """
    access.require_role(access.get_user(ctx.session, username), Role.office)
    current = current_campaign(ctx.session)
    others = ctx.session.scalars(select(Campaign).where(Campaign.id != current.id).order_by(Campaign.year.desc()))
    changes = ctx.session.scalars(select(CalendarChange).where(CalendarChange.campaign_id == current.id)
                                  .order_by(CalendarChange.id.desc()).limit(5))
    return {**campaign_summary(current), "earlier": [campaign_summary(c) for c in others],
            "changes": [change_progress(c) for c in changes]}


def update_calendar(ctx: Context, username: str, changes: dict[str, date], campaign_id: int | None = None,
                    inline: int | None = None) -> dict[str, Any]:
    """Move phase dates of the current campaign (or of `campaign_id`) and everything waiting on them.

    Running instances get the new phase variables; timers already armed from a moved phase
    (awaiting the spot-check phase, a unit's self-inspection deadline, ...) are re-armed, and a
    moment moved into the past fires at once. Recorded in the security audit (calendar_changed,
    before and after), as a `CalendarChange` row and in each instance's history
    (calendar_changed, timer_rescheduled).

    The first `inline` (default BATCH_SIZE) instances are rescheduled in this transaction; the
    rest (`pending` in the result) in batches by `run_calendar_batches` (a scheduler job), each
    its own transaction.

    :raises Forbidden: not the office. :raises ValidationFailed: unknown field, not a date, or the
        phases out of order. :raises NotFound: no such campaign.
    """
    user = access.get_user(ctx.session, username)
    access.require_role(user, Role.office)
    campaign = _locked_campaign(ctx, campaign_id)
    unknown = {k: "不是专项行动日程字段" for k in changes if k not in PHASES}
    if unknown:
        raise ValidationFailed(f"not a phase date: {', '.join(unknown)}", unknown)
    before = {k: getattr(campaign, k) for k in PHASES}
    check_phase_order({**before, **changes})
    moved = {k: v for k, v in changes.items() if before[k] != v}
    result: dict[str, Any] = {"changed": {k: [before[k].isoformat(), v.isoformat()] for k, v in moved.items()},
                              "instances_updated": 0, "timers_rescheduled": 0}
    if not moved:
        return {"campaign": campaign_summary(campaign), **result}
    old_variables = process_variables(campaign)
    for name, value in moved.items():
        setattr(campaign, name, value)
    new_variables = {k: v for k, v in process_variables(campaign).items() if old_variables[k] != v}
    accounts.audit(ctx, user.username, "calendar_changed", target=f"campaign:{campaign.id}",
                   before={k: before[k].isoformat() for k in moved}, after={k: v.isoformat() for k, v in moved.items()})
    result.update(change_id=None, pending=0)
    # The campaign's start is no process variable: moving only it touches no instance.
    if not new_variables:
        return {"campaign": campaign_summary(campaign), **result}
    change = CalendarChange(campaign_id=campaign.id, at=ctx.now, actor=user.username, actor_role=user.role.value,
                            phases=result["changed"], variables=sorted(new_variables),
                            total=phase_timers.count_instances_of_campaign(ctx, campaign.id), cursor=0, done=0,
                            updated=0, timers=0, failures={})
    ctx.session.add(change)
    ctx.session.flush()
    inline = BATCH_SIZE if inline is None else inline
    if inline > 0:
        # The first batch in this transaction: a timer that cannot be re-armed refuses the whole
        # change here, and a small campaign is rescheduled before the office sees the page again.
        _reschedule(ctx, change, campaign, inline, strict=True)
    result.update(instances_updated=change.updated, timers_rescheduled=change.timers, change_id=change.id,
                  pending=_pending(change))
    return {"campaign": campaign_summary(campaign), **result}


# --- rescheduling a calendar change in batches ------------------------------------------------

def reschedule_batch(ctx: Context, change_id: int, limit: int = BATCH_SIZE) -> dict[str, Any] | None:
    """Give the next `limit` instances of a calendar change the campaign's phase variables and
    re-arm their waiting timers; moves the change's cursor past them (all in the caller's
    transaction, so an interrupted batch is done again in full, never in part).

    Returns the change's progress, or None when it is finished or another worker holds it.
    An instance whose timer cannot be re-armed is listed in the change's failures and skipped.
    """
    query = select(CalendarChange).where(CalendarChange.id == change_id, CalendarChange.finished_at.is_(None))
    change = ctx.session.scalar(query.with_for_update(skip_locked=True) if is_postgresql(ctx.session)
                                else query)
    if change is None:
        return None
    # Locked like update_calendar does, so a newer change of the same dates cannot slip in
    # between reading the dates and writing them into an instance.
    campaign = ctx.session.scalar(select(Campaign).where(Campaign.id == change.campaign_id).with_for_update())
    assert campaign is not None
    handled = _reschedule(ctx, change, campaign, limit, strict=False)
    return {**change_progress(change), "batch": handled}


def run_calendar_batches(engine: Any, batch: int = BATCH_SIZE, stop: Any = None) -> int:
    """Work through every unfinished calendar change, one batch per transaction; returns how
    many instances were handled. `engine` is anything with `run(operation, *args)`; `stop` (a
    threading.Event) ends the run between batches."""
    handled = 0
    for change_id in engine.run(unfinished_changes):
        while not (stop is not None and stop.is_set()):
            before = handled
            progress = engine.run(reschedule_batch, change_id, batch)
            if progress is None:
                break
            handled += progress["batch"]
            if progress["finished_at"] is not None or handled == before:
                break
    return handled


def unfinished_changes(ctx: Context) -> list[int]:
    """Calendar changes whose rescheduling has not finished, oldest first."""
    return list(ctx.session.scalars(select(CalendarChange.id).where(CalendarChange.finished_at.is_(None))
                                    .order_by(CalendarChange.id)))


def calendar_changes(ctx: Context, username: str, limit: int = 5) -> list[dict[str, Any]]:
    """The newest calendar changes of the current campaign with their progress, for the office.

    :raises Forbidden: not the office. :raises NotFound: no campaign yet.
    """
    access.require_role(access.get_user(ctx.session, username), Role.office)
    campaign = current_campaign(ctx.session)
    return [change_progress(c) for c in ctx.session.scalars(
        select(CalendarChange).where(CalendarChange.campaign_id == campaign.id)
        .order_by(CalendarChange.id.desc()).limit(limit))]


def change_progress(change: CalendarChange) -> dict[str, Any]:
    return {"id": change.id, "kind": change.kind, "from_campaign": change.from_campaign_id,
            "at": change.at.isoformat(), "actor": change.actor, "phases": change.phases,
            "total": change.total, "done": change.done, "updated": change.updated, "timers": change.timers,
            "failures": dict(change.failures), "pending": _pending(change),
            "finished_at": change.finished_at.isoformat() if change.finished_at else None}


def register_jobs(scheduler: BaseScheduler, engine: Any, batch: int = BATCH_SIZE, seconds: float = 3) -> None:
    """Reschedule unfinished calendar changes every few seconds; logs failures, never raises."""
    def job() -> None:
        try:
            handled = run_calendar_batches(engine, batch)
            if handled:
                log.info("calendar change: %d instance(s) rescheduled", handled,
                         extra={"event": "calendar_batches", "instances": handled})
        except Exception:  # noqa: BLE001 - the next run resumes after the last committed batch
            log.exception("rescheduling a calendar change failed")
    scheduler.add_job(job, "interval", seconds=seconds, id="calendar_batches", max_instances=1, coalesce=True,
                      replace_existing=True)


def _pending(change: CalendarChange) -> int:
    return 0 if change.finished_at is not None else max(change.total - change.done, 1)


def _reschedule(ctx: Context, change: CalendarChange, campaign: Campaign, limit: int, strict: bool) -> int:
    current = process_variables(campaign)
    # The campaign's values now, not those of the change: an older change still in progress
    # must not put back a date that a newer change has moved again.
    values = {name: current[name] for name in change.variables}
    carry = change.kind == CARRY_OVER
    ids = phase_timers.instances_of_campaign(ctx, campaign.id, after=change.cursor, limit=limit, clues_only=carry)
    failures = dict(change.failures)
    if carry:
        # Only instances still on the old campaign's variables: a clue registered in the new
        # campaign after it opened is listed too, and is left alone.
        kind, record, of_campaign = ("carried_over", {"from_campaign": change.from_campaign_id,
                                                      "to_campaign": campaign.id}, change.from_campaign_id)
    else:
        kind, record, of_campaign = ("calendar_changed", {"campaign_id": campaign.id, "phases": change.phases,
                                                          "change_id": change.id}, campaign.id)
    for instance_id in ids:
        if strict:
            done = phase_timers.move_variables(ctx, instance_id, values, change.actor, change.actor_role,
                                               kind, record, campaign_id=of_campaign, always_record=carry)
        else:
            try:
                with ctx.session.begin_nested():
                    done = phase_timers.move_variables(ctx, instance_id, values, change.actor, change.actor_role,
                                                       kind, record, campaign_id=of_campaign, always_record=carry)
            except EngineError as exc:
                failures[str(instance_id)] = str(exc)[:500]
                done = None
        change.done += 1
        if done is not None:
            change.updated += 1
            change.timers += len(done["timers"])
        change.cursor = instance_id
    change.failures = failures
    if len(ids) < limit:
        change.finished_at = ctx.now
    return len(ids)


def open_next_campaign(ctx: Context, username: str, calendar: dict[str, Any], carry_over: bool = True,
                       **options: Any) -> dict[str, Any]:
    """Open a new campaign (e.g. from `template_for(year)`), make it current and, with
    `carry_over`, move the previous campaign's open clues into it.

    Each carried clue keeps its instance and history: the clue row points at the new campaign
    at once, and the instance gets the new campaign's variables (timers waiting for a phase
    follow the new calendar) and records `carried_over`. The first BATCH_SIZE instances are moved
    in this transaction; the rest in batches by `run_calendar_batches`, each its own transaction
    (a `carry_over` CalendarChange with its progress, `pending` in the result), so that carrying
    thousands of clues never holds the database for long. Options: spot_check_rate,
    max_sendbacks, yellow_working_days (default: the previous campaign's).

    :raises Forbidden: not the office. :raises ValidationFailed: bad calendar or a year that
        already has a campaign.
    """
    user = access.get_user(ctx.session, username)
    access.require_role(user, Role.office)
    previous = ctx.session.scalar(select(Campaign).where(Campaign.is_current.is_(True)).with_for_update())
    if not isinstance(calendar.get("year"), int) or not calendar.get("name"):
        raise ValidationFailed("the calendar needs a year and a name",
                               {k: "请填写" for k in ("year", "name") if not calendar.get(k)} or {"year": "应为整数"})
    if ctx.session.scalar(select(Campaign.id).where(Campaign.year == calendar.get("year"))) is not None:
        raise ValidationFailed(f"a campaign for {calendar.get('year')} exists already", {"year": "该年度的专项行动已存在"})
    if previous is not None:
        for name in ("spot_check_rate", "max_sendbacks", "yellow_working_days"):
            options.setdefault(name, getattr(previous, name))
    campaign = create_campaign(ctx, calendar, current=True, **options)
    accounts.audit(ctx, user.username, "campaign_opened", target=f"campaign:{campaign.id}",
                   previous=previous.id if previous else None, carry_over=carry_over,
                   phases=campaign_summary(campaign)["phases"])
    carried: list[int] = []
    change: CalendarChange | None = None
    if carry_over and previous is not None:
        open_clues = list(ctx.session.scalars(select(Clue).where(
            Clue.campaign_id == previous.id, Clue.stage.not_in(lights.CLOSED_STAGES)).order_by(Clue.instance_id)))
        for clue in open_clues:
            clue.campaign_id = campaign.id
            carried.append(clue.id)
            lights.store_clue_light(ctx, clue)  # the new campaign's threshold, even if no step ran
        change = CalendarChange(campaign_id=campaign.id, kind=CARRY_OVER, from_campaign_id=previous.id, at=ctx.now,
                                actor=user.username, actor_role=user.role.value, phases={},
                                variables=sorted(process_variables(campaign)),
                                total=sum(1 for c in open_clues if c.instance_id is not None), cursor=0, done=0,
                                updated=0, timers=0, failures={})
        ctx.session.add(change)
        ctx.session.flush()
        # As for a calendar change: an instance whose timer cannot be re-armed refuses the whole
        # opening here, and a small campaign is carried over before the office sees the page.
        _reschedule(ctx, change, campaign, BATCH_SIZE, strict=True)
    return {"campaign": campaign_summary(campaign), "previous": previous.id if previous else None,
            "carried": carried, "change_id": change.id if change else None,
            "pending": _pending(change) if change else 0}


def _locked_campaign(ctx: Context, campaign_id: int | None) -> Campaign:
    query = select(Campaign).with_for_update()
    query = query.where(Campaign.id == campaign_id) if campaign_id is not None else query.where(
        Campaign.is_current.is_(True))
    campaign = ctx.session.scalar(query)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} does not exist" if campaign_id is not None else "no current campaign")
    return campaign
