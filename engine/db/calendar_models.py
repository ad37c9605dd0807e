"""The record of one campaign calendar change and how far its rescheduling has got (migration 0010)."""
from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Code, Utc


class CalendarChange(Base):
    """One change of a campaign's phase dates (engine.campaigns.update_calendar), or the carrying
    over of the open clues of `from_campaign_id` into a new campaign (kind "carry_over",
    engine.campaigns.open_next_campaign).

    The change itself is committed at once; the running instances are then given the new
    phase variables in batches, each batch its own transaction that also moves `cursor` (the
    highest instance id handled) — so an interrupted run resumes after the last committed batch
    and no instance is handled twice.
    """

    __tablename__ = "calendar_change"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    at: Mapped[Utc]
    actor: Mapped[Code]
    actor_role: Mapped[Optional[Code]]
    phases: Mapped[dict[str, Any]]          # phase → [from, to] (ISO dates)
    variables: Mapped[list[Any]]            # the process variables the moved phases feed
    total: Mapped[int]                      # instances to look at when the change was made
    cursor: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)       # instances looked at
    updated: Mapped[int] = mapped_column(default=0)    # instances whose variables changed
    timers: Mapped[int] = mapped_column(default=0)     # waiting timers rescheduled
    failures: Mapped[dict[str, Any]]        # instance id → why it could not be rescheduled
    finished_at: Mapped[Optional[Utc]] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(20), default="calendar", server_default="calendar")
    from_campaign_id: Mapped[Optional[int]] = mapped_column(ForeignKey("campaign.id"))
