"""The discipline office's receipt of a referral: one act, whichever page it is done on.

Signing the dossier page (referral.record_receipt) completes the 纪检监察受理 task when it is
still waiting; completing that task writes the receipt when it is not yet written (called by
clue_projection in the task's own transaction). Either way there is one `referral_receipt`
row and one `referral_received` event in the hash chain.
"""
from __future__ import annotations

from sqlalchemy import select

from .context import Context
from .db.models import Clue, InstanceEvent, ProcessInstance, User
from .db.report_models import ReferralReceipt
from .history import append_event
from .notifications import notify

RECEIPT_KIND = "referral_received"
RECEIPT_FORM = "referral"


def receipt_of(ctx: Context, clue_id: int) -> ReferralReceipt | None:
    return ctx.session.scalar(select(ReferralReceipt).where(ReferralReceipt.clue_id == clue_id))


def write_receipt(ctx: Context, user: User, clue: Clue, instance: ProcessInstance, note: str) -> ReferralReceipt:
    """Append the receipt event and row, and tell the office; the caller checked it is the first."""
    head_before = instance.history_head
    event = append_event(ctx.session, instance, ctx.now, user.username, RECEIPT_KIND, ctx.hash_alg,
                         actor_role=user.role.value, element_name="移送材料签收",
                         data={"note": note, "history_head_before": head_before})
    receipt = ReferralReceipt(clue_id=clue.id, instance_id=instance.id, received_by=user.username,
                              received_at=ctx.now, note=note, history_head_before=head_before,
                              event_seq=event.seq, event_hash=event.hash)
    ctx.session.add(receipt)
    instance.updated_at = ctx.now
    ctx.session.flush()
    notify(ctx, ["role:office"], "referral_received", f"线索 #{clue.id}「{clue.enterprise_name}」移送材料已签收",
           f"签收人：{user.display_name}" + (f"\n签收意见：{note}" if note else ""), clue_id=clue.id)
    return receipt


def receive_by_task(ctx: Context, clue: Clue, instance: ProcessInstance, task_id: str, data: dict[str, object]) -> None:
    """The 纪检监察受理 task was completed: that is the receipt too, unless the dossier page
    already recorded it."""
    if receipt_of(ctx, clue.id) is not None:
        return
    # Projections run without autoflush, so the completion event of this very step is still
    # only in the session.
    pending = [e for e in ctx.session.new if isinstance(e, InstanceEvent) and e.task_id == task_id
               and e.kind == "task_completed"]
    actor = pending[-1].actor if pending else ctx.session.scalar(select(InstanceEvent.actor).where(
        InstanceEvent.instance_id == instance.id, InstanceEvent.task_id == task_id,
        InstanceEvent.kind == "task_completed").order_by(InstanceEvent.seq.desc()).limit(1))
    user = ctx.session.scalar(select(User).where(User.username == actor)) if actor else None
    if user is None:
        return
    write_receipt(ctx, user, clue, instance, str(data.get("note") or "")[:2000])
