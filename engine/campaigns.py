"""The campaign calendar (实施步骤): phase dates per year, handed to processes as variables."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .clock import local_day_start
from .context import Context
from .db.models import Campaign
from .errors import NotFound, ValidationFailed

DEFAULT_SPOT_CHECK_RATE = 0.3
DEFAULT_MAX_SENDBACKS = 5


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


def create_campaign(ctx: Context, calendar: dict[str, Any], spot_check_rate: float = DEFAULT_SPOT_CHECK_RATE,
                    max_sendbacks: int = DEFAULT_MAX_SENDBACKS, current: bool = True) -> Campaign:
    """Add a campaign; the phases must follow each other.

    :raises ValidationFailed: dates out of order or a rate outside 0..1.
    """
    order = ["starts_on", "investigation_ends_on", "rectification_ends_on", "spot_check_starts_on",
             "spot_check_ends_on", "ends_on"]
    for earlier, later in zip(order, order[1:]):
        if calendar[earlier] > calendar[later]:
            raise ValidationFailed(f"{later} is before {earlier}", {later: "日期早于上一阶段"})
    if not 0 <= spot_check_rate <= 1:
        raise ValidationFailed("spot_check_rate must be between 0 and 1", {"spot_check_rate": "应在0到1之间"})
    if current:
        ctx.session.execute(update(Campaign).values(is_current=False))
    campaign = Campaign(**calendar, spot_check_rate=spot_check_rate, max_sendbacks=max_sendbacks,
                        is_current=current, created_at=ctx.now)
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
            "phases": {k: getattr(campaign, k).isoformat() for k in (
                "starts_on", "investigation_ends_on", "rectification_ends_on", "spot_check_starts_on",
                "spot_check_ends_on", "ends_on")},
            "spot_check_rate": campaign.spot_check_rate, "max_sendbacks": campaign.max_sendbacks}
