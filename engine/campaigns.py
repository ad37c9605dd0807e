"""The campaign calendar (实施步骤): phase dates per year, handed to processes as variables.

The office may move a phase date while the campaign runs (`update_calendar`) and open the next
year's campaign from a template, carrying the open clues over (`open_next_campaign`). Both give
the running instances the new phase variables and re-arm the timers already waiting for a
moved phase (engine.phase_timers); each change is in the security audit and in every touched
instance's history.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import access, accounts, lights, phase_timers
from .clock import local_day_start
from .context import Context
from .db.models import Campaign, Clue, Role
from .errors import NotFound, ValidationFailed

DEFAULT_SPOT_CHECK_RATE = 0.3
DEFAULT_MAX_SENDBACKS = 5
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
    return {**campaign_summary(current), "earlier": [campaign_summary(c) for c in others]}


def update_calendar(ctx: Context, username: str, changes: dict[str, date], campaign_id: int | None = None
                    ) -> dict[str, Any]:
    """Move phase dates of the current campaign (or of `campaign_id`) and everything waiting on them.

    Running instances get the new phase variables; timers already armed from a moved phase
    (awaiting the spot-check phase, a unit's self-inspection deadline, ...) are re-armed, and a
    moment moved into the past fires at once. Recorded in the security audit (calendar_changed,
    before and after) and in each instance's history (calendar_changed, timer_rescheduled).

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
    # The campaign's start is no process variable: moving only it touches no instance.
    for instance_id in phase_timers.instances_of_campaign(ctx, campaign.id) if new_variables else []:
        done = phase_timers.move_variables(
            ctx, instance_id, new_variables, user.username, user.role.value, "calendar_changed",
            {"campaign_id": campaign.id, "phases": result["changed"]}, campaign_id=campaign.id)
        if done is not None:
            result["instances_updated"] += 1
            result["timers_rescheduled"] += len(done["timers"])
    return {"campaign": campaign_summary(campaign), **result}


def open_next_campaign(ctx: Context, username: str, calendar: dict[str, Any], carry_over: bool = True,
                       **options: Any) -> dict[str, Any]:
    """Open a new campaign (e.g. from `template_for(year)`), make it current and, with
    `carry_over`, move the previous campaign's open clues into it.

    Each carried clue keeps its instance and history: the clue row points at the new campaign,
    the instance gets the new campaign's variables (timers waiting for a phase follow the new
    calendar) and records `carried_over`. Options: spot_check_rate, max_sendbacks,
    yellow_working_days (default: the previous campaign's).

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
    if carry_over and previous is not None:
        variables = process_variables(campaign)
        open_clues = ctx.session.scalars(select(Clue).where(
            Clue.campaign_id == previous.id, Clue.stage.not_in(lights.CLOSED_STAGES)).order_by(Clue.instance_id))
        for clue in list(open_clues):
            clue.campaign_id = campaign.id
            carried.append(clue.id)
            if clue.instance_id is not None:
                phase_timers.move_variables(
                    ctx, clue.instance_id, variables, user.username, user.role.value, "carried_over",
                    {"from_campaign": previous.id, "to_campaign": campaign.id}, always_record=True)
            lights.store_clue_light(ctx, clue)  # the new campaign's threshold, even if no step ran
    return {"campaign": campaign_summary(campaign), "previous": previous.id if previous else None,
            "carried": carried}


def _locked_campaign(ctx: Context, campaign_id: int | None) -> Campaign:
    query = select(Campaign).with_for_update()
    query = query.where(Campaign.id == campaign_id) if campaign_id is not None else query.where(
        Campaign.is_current.is_(True))
    campaign = ctx.session.scalar(query)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} does not exist" if campaign_id is not None else "no current campaign")
    return campaign
