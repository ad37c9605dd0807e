"""Firing due timers. The instance row's indexed `next_timer_at` is the truth: a sweep finds
due instances with one query and never deserializes idle ones.

Each due instance is advanced in its own transaction. On PostgreSQL the claim is
`FOR UPDATE SKIP LOCKED`, so several workers can sweep at once and no timer fires twice;
SQLite has one writer at a time anyway.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from .context import Context
from .db.models import InstanceStatus, ProcessInstance
from .db.session import is_postgresql
from .history import append_event
from .instances import rebuild_workflow, run_step

SWEPT = (InstanceStatus.running, InstanceStatus.waiting)


def claim_due_instance(ctx: Context, now: datetime, skip: set[int]) -> ProcessInstance | None:
    """Lock one instance whose earliest timer is past (strictly, as SpiffWorkflow compares)."""
    query = (select(ProcessInstance)
             .where(ProcessInstance.next_timer_at < now, ProcessInstance.status.in_(SWEPT))
             .order_by(ProcessInstance.next_timer_at, ProcessInstance.id).limit(1)
             .execution_options(populate_existing=True))
    if skip:
        query = query.where(ProcessInstance.id.not_in(skip))
    if is_postgresql(ctx.session):
        query = query.with_for_update(skip_locked=True)
    return ctx.session.scalar(query)


def fire_timers_of(ctx: Context, instance: ProcessInstance) -> None:
    """Advance one claimed instance past every timer that is due."""
    workflow = rebuild_workflow(ctx, instance)
    run_step(ctx, instance, workflow, lambda: None)


def mark_failed(ctx: Context, instance_id: int, message: str) -> None:
    """Park an instance whose advance crashed, so the sweep moves on and a person sees why."""
    instance = ctx.session.get(ProcessInstance, instance_id, with_for_update=True)
    if instance is None:
        return
    instance.status = InstanceStatus.error
    instance.error_message = message
    append_event(ctx.session, instance, ctx.now, "system", "error", ctx.hash_alg, data={"message": message})
