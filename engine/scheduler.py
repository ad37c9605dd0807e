"""APScheduler wiring only: one interval job that asks the engine to fire due timers.

The job holds no state (the database's `next_timer_at` column is the truth), so losing the
scheduler loses nothing; `max_instances=1` keeps sweeps in one process from overlapping.
"""
from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from .clock import SHANGHAI
from .engine import Engine

log = logging.getLogger(__name__)


def add_timer_sweep(scheduler: BaseScheduler, engine: Engine, interval_seconds: float) -> None:
    def sweep() -> None:
        fired = engine.fire_due_timers()
        if fired:
            log.info("advanced %d instance(s) with due timers", fired)

    scheduler.add_job(sweep, "interval", seconds=interval_seconds, max_instances=1, coalesce=True,
                      id="fire_due_timers")


def start_in_background(engine: Engine, interval_seconds: float = 2.0) -> BackgroundScheduler:
    """For `chengxin serve`: the sweep runs in a thread of the web process."""
    scheduler = BackgroundScheduler(timezone=SHANGHAI)
    add_timer_sweep(scheduler, engine, interval_seconds)
    scheduler.start()
    return scheduler


def run_worker(engine: Engine, interval_seconds: float = 2.0) -> None:
    """Sweep due timers every `interval_seconds` until interrupted (`chengxin worker`)."""
    scheduler = BlockingScheduler(timezone=SHANGHAI)
    add_timer_sweep(scheduler, engine, interval_seconds)
    log.info("timer worker started: sweeping every %.1f s", interval_seconds)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
