"""Operational figures: Prometheus metrics and the health check, without any web framework.

Two kinds of figure:
- **Events in this process** (timer firing lag, instances advanced, failures, sweep time): the
  standard `prometheus_client` metrics on its default registry, observed by
  `Engine.fire_due_timers` and the scheduler. Each process (`chengxin serve`, every
  `chengxin worker --metrics-port`) exposes its own.
- **State of the database** (instances by status, waiting/due/overdue timers): computed on
  every scrape by a few aggregate queries over indexed columns (`EngineCollector`), so any
  process reports the same numbers and nothing is kept in memory.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from .context import Context
from .db.models import TIMER_STATUSES, InstanceStatus, ProcessInstance

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger(__name__)

# A timer counts as overdue (the scheduler is behind, or not running) this long after its moment.
OVERDUE_AFTER = timedelta(seconds=60)

TIMER_LAG = Histogram(
    "chengxin_timer_firing_lag_seconds",
    "Time between a timer's due moment and the commit that advanced its instance.",
    buckets=(0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300, 3600, 86400),
)
INSTANCES_ADVANCED = Counter(
    "chengxin_timer_instances_advanced_total",
    "Instances advanced by the timer sweep, by their status afterwards.", ["status"],
)
TIMER_FAILURES = Counter(
    "chengxin_timer_failures_total",
    "Instances whose advance raised and that were put in the error state.",
)
SWEEP_SECONDS = Histogram(
    "chengxin_timer_sweep_seconds", "Duration of one timer sweep (all due instances).",
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300),
)


def timer_fired(lag: timedelta, status: str) -> None:
    TIMER_LAG.observe(max(lag.total_seconds(), 0.0))
    INSTANCES_ADVANCED.labels(status).inc()


def timer_failed() -> None:
    TIMER_FAILURES.inc()


# --- the database's state ------------------------------------------------------------------
def instances_by_status(ctx: Context) -> dict[str, int]:
    counts = {status.value: 0 for status in InstanceStatus}
    for status, count in ctx.session.execute(
            select(ProcessInstance.status, func.count()).group_by(ProcessInstance.status)):
        counts[status.value if isinstance(status, InstanceStatus) else str(status)] = count
    return counts


def timer_counts(ctx: Context, overdue_after: timedelta = OVERDUE_AFTER) -> dict[str, Any]:
    """Waiting timers, those past their moment (due), those past it by more than `overdue_after`."""
    pending = ProcessInstance.next_timer_at.is_not(None) & ProcessInstance.status.in_(TIMER_STATUSES)
    due = pending & (ProcessInstance.next_timer_at < ctx.now)
    overdue = pending & (ProcessInstance.next_timer_at < ctx.now - overdue_after)
    row = ctx.session.execute(select(
        func.count().filter(pending), func.count().filter(due), func.count().filter(overdue),
        func.min(ProcessInstance.next_timer_at).filter(due),
    ).select_from(ProcessInstance).where(ProcessInstance.next_timer_at.is_not(None))).one()
    oldest: datetime | None = row[3]
    return {"waiting": row[0], "due": row[1], "overdue": row[2],
            "oldest_due_age_seconds": (ctx.now - oldest).total_seconds() if oldest is not None else 0.0}


def snapshot(ctx: Context) -> dict[str, Any]:
    return {"instances": instances_by_status(ctx), "timers": timer_counts(ctx)}


class EngineCollector(Collector):
    """Database gauges, computed when Prometheus scrapes (register on a registry of your own)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("chengxin_database_up", "1 if the last scrape could query the database.")
        started = time.perf_counter()
        try:
            data = self.engine.run(snapshot)
        except Exception:  # noqa: BLE001 - a scrape must answer even when the database does not
            log.exception("metrics scrape could not query the database", extra={"event": "metrics_db_error"})
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        by_status = GaugeMetricFamily("chengxin_instances", "Process instances by status.", labels=["status"])
        for status, count in sorted(data["instances"].items()):
            by_status.add_metric([status], count)
        yield by_status
        timers = data["timers"]
        yield GaugeMetricFamily("chengxin_timers_waiting", "Instances waiting for a timer (running or waiting).",
                                value=timers["waiting"])
        yield GaugeMetricFamily("chengxin_timers_due", "Instances whose earliest timer's moment has passed.",
                                value=timers["due"])
        yield GaugeMetricFamily(
            "chengxin_timers_overdue",
            f"Due timers still unfired {int(OVERDUE_AFTER.total_seconds())} s after their moment (scheduler behind or down).",
            value=timers["overdue"])
        yield GaugeMetricFamily("chengxin_timers_oldest_due_age_seconds",
                                "Age of the oldest unfired due timer (0 when none is due).",
                                value=timers["oldest_due_age_seconds"])
        yield GaugeMetricFamily("chengxin_metrics_query_seconds", "Time the database gauges took to compute.",
                                value=time.perf_counter() - started)


# --- health ----------------------------------------------------------------------------------
def migration_state(engine: Engine) -> dict[str, Any]:
    """The schema's revision(s) against the newest migration script."""
    from alembic.script import ScriptDirectory

    from .migrate import alembic_config
    heads = sorted(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.sql_engine.connect() as conn:
        current = sorted(r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version")))
    return {"current": current, "head": heads, "at_head": current == heads}


def health(engine: Engine, scheduler: dict[str, Any] | None = None) -> tuple[dict[str, Any], bool]:
    """(report, healthy). Unhealthy: the database cannot be queried or its schema is not at head.

    `scheduler` is what the caller knows of an in-process scheduler (None: it runs elsewhere).
    Due timers are reported either way; overdue ones make the report `degraded`, not unhealthy,
    so a load balancer keeps a web process whose separate worker has stopped.
    """
    report: dict[str, Any] = {"status": "ok"}
    try:
        with engine.sql_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        report["database"] = {"reachable": True, "dialect": engine.sql_engine.dialect.name}
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        report["database"] = {"reachable": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        report["status"] = "fail"
        report["scheduler"] = scheduler or {"in_process": False}
        return report, False
    try:
        report["migrations"] = migration_state(engine)
    except Exception as exc:  # noqa: BLE001 - e.g. an empty database without alembic_version
        report["migrations"] = {"at_head": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    report["scheduler"] = scheduler or {"in_process": False}
    try:
        report["timers"] = engine.run(timer_counts)
    except Exception as exc:  # noqa: BLE001
        report["timers"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    healthy = bool(report["migrations"].get("at_head"))
    if not healthy:
        report["status"] = "fail"
    elif report["timers"].get("overdue") or (report["scheduler"].get("in_process")
                                              and not report["scheduler"].get("running")):
        report["status"] = "degraded"
    return report, healthy
