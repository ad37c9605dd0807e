"""Tables for referral receipts and government credit records (issue 6; migration 0008)."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, Code, Money, Text200, Utc
from .models import Clue, HumanTask, InstanceEvent


class ReferralReceipt(Base):
    """The discipline office's receipt of a referred clue's dossier (移送材料签收), once per clue.

    The same receipt is an event in the clue's hash chain (`event_seq`, `event_hash`);
    `history_head_before` is the head hash the dossier carried when it was received.
    """

    __tablename__ = "referral_receipt"
    id: Mapped[int] = mapped_column(primary_key=True)
    clue_id: Mapped[int] = mapped_column(ForeignKey("clue.id"), unique=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    received_by: Mapped[Code]
    received_at: Mapped[Utc] = mapped_column(index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    history_head_before: Mapped[Optional[str]] = mapped_column(String(128))
    event_seq: Mapped[int]
    event_hash: Mapped[str] = mapped_column(String(128))


class CreditRecord(Base):
    """A government credit record (政务信用记录): a confirmed broken promise of the defaulting body.

    One per confirming step of a clue (`source_task_id`: the user task whose completion
    confirmed it — a failed spot-check or the decision that referred the clue).
    """

    __tablename__ = "credit_record"
    __table_args__ = (UniqueConstraint("clue_id", "source_task_id"),
                      Index("ix_credit_record_confirmed_at_id", "confirmed_at", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    clue_id: Mapped[int] = mapped_column(ForeignKey("clue.id"), index=True)
    instance_id: Mapped[Optional[int]] = mapped_column(ForeignKey("process_instance.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    subject_name: Mapped[Text200] = mapped_column(index=True)  # the defaulting body (clue.debtor)
    enterprise_name: Mapped[Text200]
    uscc: Mapped[Optional[str]] = mapped_column(String(18))
    category: Mapped[Optional[Code]] = mapped_column(index=True)
    responsible_unit: Mapped[Optional[Code]] = mapped_column(index=True)
    work_group: Mapped[Optional[Code]]
    basis: Mapped[Code] = mapped_column(index=True)  # spot_check_failed | referred
    spot_check_result: Mapped[Optional[Code]]
    finding: Mapped[Optional[str]] = mapped_column(Text)
    amount_owed: Mapped[Optional[Money]]
    amount_paid: Mapped[Optional[Money]]
    confirmed_at: Mapped[Utc]
    confirmed_by: Mapped[Code]
    source_task_id: Mapped[str] = mapped_column(String(36))
    event_seq: Mapped[Optional[int]]
    created_at: Mapped[Utc]


__all__ = ["CreditRecord", "ReferralReceipt"]


# Issue 6: the dashboard's and the ranking's covering indexes on clue (migration 0011; why and
# how they are used: engine.stats.on_dashboard_index), and human_task(created_at) for the task
# list's "waiting since before" filter.
_DASHBOARD_COLUMNS = (Clue.stage, Clue.category, Clue.source, Clue.deadline, Clue.light, Clue.light_changes_at,
                      Clue.created_at, Clue.closed_at, Clue.amount_owed, Clue.amount_paid, Clue.sendback_count,
                      Clue.listed_for_supervision, Clue.referred)  # type: ignore[attr-defined]
Index("ix_clue_dashboard_group", Clue.work_group, Clue.responsible_unit, *_DASHBOARD_COLUMNS)
Index("ix_clue_dashboard_unit", Clue.responsible_unit, Clue.work_group, *_DASHBOARD_COLUMNS)
Index("ix_human_task_created_at", HumanTask.created_at)
# The ranking's failed spot checks: the completions of one task, by instance (engine.ranking).
Index("ix_instance_event_element_kind", InstanceEvent.element_id, InstanceEvent.kind, InstanceEvent.instance_id)
