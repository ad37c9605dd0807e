"""Firing due timers. The instance row's indexed `next_timer_at` is the truth: a sweep finds
due instances with one query and never deserializes idle ones.

Due instances are claimed and advanced in groups of up to `GROUP_SIZE`, one transaction per
group: a commit (a WAL flush on PostgreSQL) and the ORM's per-flush work then count once per
group instead of once per instance, which is what lets a wave of thousands of phase timers
fire at over a thousand a second. Each instance's advance is still all-or-nothing, because
the group is: if anything in it raises, the whole group rolls back and its instances are
advanced again one per transaction (`claim_due_instances(..., among=[id])`), so the one that
fails goes to the error state alone and the rest advance.

On PostgreSQL the claim is `FOR UPDATE SKIP LOCKED`, so several workers can sweep at once
and no timer fires twice: a second worker skips rows another one holds, and once that one
commits the rows are no longer due (PostgreSQL re-checks the WHERE clause on the committed
row before locking it). SQLite transactions start `BEGIN IMMEDIATE`, so workers there take
turns, one group at a time. A worker that dies mid-transaction loses only that group's
uncommitted work: its rows are still due and the next sweep (of any worker) advances them.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import ColumnElement, Integer, Select, String, bindparam, select, type_coerce
from sqlalchemy.exc import OperationalError

from . import metrics
from .context import Context
from .db.bulk import flush_in_bulk
from .db.models import TIMER_STATUSES, HumanTask, InstanceStatus, ProcessInstance
from .db.session import is_postgresql
from .errors import Conflict
from .history import append_event, events_written_together
from .instances import rebuild_workflow, run_step
from .projections import hold_clues

log = logging.getLogger(__name__)
# Instances per transaction. Larger groups gain little past this, and a group holds its row
# locks (and, on SQLite, the database's one write lock) until it commits: 0.1 s for simple
# instances, about 0.18 s for clues (1.6-1.8 ms each), which is how long a person completing a
# task waits at most while a wave of timers fires.
GROUP_SIZE = 100
# The scheduler's default interval, the longest a sweep waits; a sweep with nothing due is two
# short indexed reads (the claim and the next timer), so sweeping every second costs little.
DEFAULT_INTERVAL = 1.0


class StopFlag(Protocol):
    """A `threading.Event` as far as a sweep is concerned: set means stop after this instance."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Fired:
    """What advancing one claimed instance did."""

    instance_id: int
    due_at: datetime        # the timer moment that made it due
    fired_at: datetime      # the transaction's moment
    still_due: bool         # its (new) earliest timer is already past as well
    status: InstanceStatus


Transaction = Callable[[], AbstractContextManager[Context]]


def fire_due(transaction: Transaction, limit: int | None = None, stop: StopFlag | None = None,
             skip: set[int] | None = None) -> int:
    """Advance every instance with a due timer, a group per transaction; returns how many.

    Each instance is advanced at most once per sweep, so one whose timer SpiffWorkflow does not
    fire (or that keeps failing) cannot keep the sweep busy forever. `limit` caps the instances
    claimed by this sweep; once `stop` is set the sweep commits the group so far after the
    instance in hand and ends (a worker's SIGTERM). `skip` (updated in place) carries the
    instances not to claim again from one batch of a sweep to the next.
    """
    skip = set() if skip is None else skip
    advanced = claimed_total = 0
    while limit is None or claimed_total < limit:
        if stop is not None and stop.is_set():
            break
        size = GROUP_SIZE if limit is None else min(GROUP_SIZE, limit - claimed_total)
        claimed: list[int] = []
        group: list[int] = []  # ids: the rows expire if the group rolls back
        stopping = False
        try:
            with transaction() as ctx:
                fired: list[Fired] = []
                instances = claim_due_instances(ctx, ctx.now, skip, size)
                group = [instance.id for instance in instances]
                clues = hold_clues(ctx, instances)  # referenced until the group is written
                with events_written_together(ctx.session):
                    for n, instance in enumerate(instances):
                        if n and stop is not None and stop.is_set():
                            stopping = True
                            break
                        claimed.append(instance.id)
                        fired.append(fire_timers_of(ctx, instance, flush=False))
                flush_in_bulk(ctx.session, insert=(HumanTask,), update_versioned=(ProcessInstance,))
                del clues
        except OperationalError:
            raise  # the database is unreachable or refused the transaction: the rows stay due
        except Exception as exc:  # noqa: BLE001 - the group rolled back whole; find the culprit alone
            if not group:
                raise
            log.warning("a group of %d instances failed (%s: %s); advancing them one per transaction",
                        len(group), type(exc).__name__, exc,
                        extra={"event": "timer_group_failed", "instances": len(group)})
            if not stopping:
                claimed = group
            fired = _fire_one_by_one(transaction, claimed, skip, stop)
        claimed_total += len(claimed)
        advanced += len(fired)
        for result in fired:
            _count(result, skip)
        if stopping or len(group) < size:
            break
    return advanced


def _fire_one_by_one(transaction: Transaction, ids: list[int], skip: set[int], stop: StopFlag | None) -> list[Fired]:
    """Advance each of `ids` that is still due in its own transaction; a failing one goes to the
    error state, one whose lock or connection is lost waits for the next sweep."""
    fired: list[Fired] = []
    for instance_id in ids:
        if fired and stop is not None and stop.is_set():
            break
        try:
            with transaction() as ctx:
                claimed = claim_due_instances(ctx, ctx.now, skip, 1, among=[instance_id])
                if not claimed:
                    continue  # another worker advanced it meanwhile
                fired.append(fire_timers_of(ctx, claimed[0]))
        except (Conflict, OperationalError) as exc:
            skip.add(instance_id)
            log.warning("instance %s skipped until the next sweep: %s", instance_id, exc,
                        extra={"event": "timer_skipped", "instance_id": instance_id})
        except Exception as exc:  # noqa: BLE001 - one broken instance must not stop the sweep
            skip.add(instance_id)
            metrics.timer_failed()
            log.exception("advancing instance %s failed", instance_id,
                          extra={"event": "timer_failed", "instance_id": instance_id})
            with transaction() as ctx:
                mark_failed(ctx, instance_id, f"{type(exc).__name__}: {exc}")
    return fired


def _count(result: Fired, skip: set[int]) -> None:
    if result.still_due:
        skip.add(result.instance_id)
    metrics.timer_fired(result.fired_at - result.due_at, result.status.value)
    if result.status == InstanceStatus.error:
        log.warning("instance %s stopped with an error after its timer", result.instance_id,
                    extra={"event": "timer_error_state", "instance_id": result.instance_id})


def claim_due_instances(ctx: Context, now: datetime, skip: set[int], limit: int,
                        among: list[int] | None = None) -> list[ProcessInstance]:
    """Lock up to `limit` instances whose earliest timer is past (strictly, as SpiffWorkflow
    compares), earliest first; only those in `among` when given.

    `skip` holds the few instances this sweep already advanced that are due again; every other
    advanced instance has a later (or no) timer and no longer matches.
    """
    postgresql = is_postgresql(ctx.session)
    if skip or among is not None:
        query = _claim_query(postgresql)
        if skip:
            query = query.where(ProcessInstance.id.not_in(skip))
        if among is not None:
            query = query.where(ProcessInstance.id.in_(among))
    else:
        query = _CLAIM_PG if postgresql else _CLAIM_SQLITE
    return list(ctx.session.scalars(query, {"now": now, "limit": limit}))


def next_due(ctx: Context, now: datetime) -> datetime | None:
    """The earliest timer still to come (after `now`) of an instance whose timers fire."""
    return ctx.session.scalar(_NEXT_DUE, {"now": now})


def _timers_fire() -> ColumnElement[bool]:
    # The status test is an expression no index serves (see _claim_query).
    return type_coerce(ProcessInstance.status, String).concat("").in_([s.value for s in TIMER_STATUSES])


def _claim_query(postgresql: bool) -> Select[tuple[ProcessInstance]]:
    # The status test is an expression no index serves, so the planner walks the due index in
    # order and stops after `limit` rows; SQLite would otherwise pick the status index (every
    # instance is running or waiting) and sort the whole table on every claim. Ordering by
    # the indexed column alone (no tie-breaker) lets PostgreSQL stop early too.
    query = (select(ProcessInstance)
             .where(ProcessInstance.next_timer_at < bindparam("now"), _timers_fire())
             .order_by(ProcessInstance.next_timer_at).limit(bindparam("limit", type_=Integer))
             .execution_options(populate_existing=True))
    return query.with_for_update(skip_locked=True) if postgresql else query


# Built once: a statement object that is reused keeps its SQL cache key, which SQLAlchemy would
# otherwise work out again on every claim (a sizeable part of a claim's cost).
_CLAIM_SQLITE, _CLAIM_PG = _claim_query(False), _claim_query(True)
# The same walk of the due index, upwards from now, to the first instance whose timers fire.
_NEXT_DUE = (select(ProcessInstance.next_timer_at)
             .where(ProcessInstance.next_timer_at > bindparam("now"), _timers_fire())
             .order_by(ProcessInstance.next_timer_at).limit(1))


def fire_timers_of(ctx: Context, instance: ProcessInstance, flush: bool = True) -> Fired:
    """Advance one claimed instance past every timer that is due.

    With `flush=False` its rows stay pending in the session, to be written with the rest of
    its group in one flush.
    """
    due_at = instance.next_timer_at
    assert due_at is not None
    workflow = rebuild_workflow(ctx, instance)
    run_step(ctx, instance, workflow, lambda: None, flush=flush)
    still_due = (instance.status in TIMER_STATUSES and instance.next_timer_at is not None
                 and instance.next_timer_at < ctx.now)
    return Fired(instance.id, due_at, ctx.now, still_due, instance.status)


def mark_failed(ctx: Context, instance_id: int, message: str) -> None:
    """Park an instance whose advance crashed, so the sweep moves on and a person sees why."""
    instance = ctx.session.get(ProcessInstance, instance_id, with_for_update=True)
    if instance is None:
        return
    instance.status = InstanceStatus.error
    instance.error_message = message
    append_event(ctx.session, instance, ctx.now, "system", "error", ctx.hash_alg, data={"message": message})
