"""Firing due timers. The instance row's indexed `next_timer_at` is the truth: a sweep finds
due instances with one query and never deserializes idle ones.

Each due instance is advanced in its own transaction. On PostgreSQL the claim is
`FOR UPDATE SKIP LOCKED`, so several workers can sweep at once and no timer fires twice: a
second worker skips a row another one holds, and once that one commits the row is no longer
due (PostgreSQL re-checks the WHERE clause on the committed row before locking it). SQLite
transactions start `BEGIN IMMEDIATE`, so workers there take turns, one instance at a time.
A worker that dies mid-transaction loses only that transaction: the row is still due and the
next sweep (of any worker) advances it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Select, String, bindparam, select, type_coerce

from .context import Context
from .db.models import InstanceStatus, ProcessInstance
from .db.session import is_postgresql
from .history import append_event
from .instances import rebuild_workflow, run_step

SWEPT = (InstanceStatus.running, InstanceStatus.waiting)


class StopFlag(Protocol):
    """A `threading.Event` as far as a sweep is concerned: set means stop after this instance."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Fired:
    """What advancing one claimed instance did."""

    instance_id: int
    due_at: datetime        # the timer moment that made it due
    still_due: bool         # its (new) earliest timer is already past as well
    status: InstanceStatus


def claim_due_instance(ctx: Context, now: datetime, skip: set[int]) -> ProcessInstance | None:
    """Lock one instance whose earliest timer is past (strictly, as SpiffWorkflow compares).

    `skip` holds the few instances this sweep already advanced that are due again; every other
    advanced instance has a later (or no) timer and no longer matches.
    """
    postgresql = is_postgresql(ctx.session)
    if skip:
        query = _claim_query(postgresql).where(ProcessInstance.id.not_in(skip))
    else:
        query = _CLAIM_PG if postgresql else _CLAIM_SQLITE
    return ctx.session.scalar(query, {"now": now})


def _claim_query(postgresql: bool) -> Select[tuple[ProcessInstance]]:
    # The status test is an expression no index serves, so the planner walks the due index in
    # order and stops at the first row; SQLite would otherwise pick the status index (every
    # instance is running or waiting) and sort the whole table on every claim. Ordering by
    # the indexed column alone (no tie-breaker) lets PostgreSQL stop at the first row too.
    status = type_coerce(ProcessInstance.status, String).concat("")
    query = (select(ProcessInstance)
             .where(ProcessInstance.next_timer_at < bindparam("now"), status.in_([s.value for s in SWEPT]))
             .order_by(ProcessInstance.next_timer_at).limit(1)
             .execution_options(populate_existing=True))
    return query.with_for_update(skip_locked=True) if postgresql else query


# Built once: a statement object that is reused keeps its SQL cache key, which SQLAlchemy would
# otherwise work out again on every claim (a sizeable part of a claim's cost).
_CLAIM_SQLITE, _CLAIM_PG = _claim_query(False), _claim_query(True)


def fire_timers_of(ctx: Context, instance: ProcessInstance) -> Fired:
    """Advance one claimed instance past every timer that is due."""
    due_at = instance.next_timer_at
    assert due_at is not None
    workflow = rebuild_workflow(ctx, instance)
    run_step(ctx, instance, workflow, lambda: None)
    still_due = (instance.status in SWEPT and instance.next_timer_at is not None
                 and instance.next_timer_at < ctx.now)
    return Fired(instance.id, due_at, still_due, instance.status)


def mark_failed(ctx: Context, instance_id: int, message: str) -> None:
    """Park an instance whose advance crashed, so the sweep moves on and a person sees why."""
    instance = ctx.session.get(ProcessInstance, instance_id, with_for_update=True)
    if instance is None:
        return
    instance.status = InstanceStatus.error
    instance.error_message = message
    append_event(ctx.session, instance, ctx.now, "system", "error", ctx.hash_alg, data={"message": message})
