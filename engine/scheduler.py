"""APScheduler wiring only: one interval job that asks the engine to fire due timers.

The job holds no state (the database's `next_timer_at` column is the truth), so losing the
scheduler loses nothing; `max_instances=1` keeps sweeps in one process from overlapping.
"""
from __future__ import annotations

import logging

from apscheduler.schedulers.blocking import BlockingScheduler

from .clock import SHANGHAI
from .engine import Engine

log = logging.getLogger(__name__)


def run_worker(engine: Engine, interval_seconds: float = 2.0) -> None:
    """Sweep due timers every `interval_seconds` until interrupted."""
    scheduler = BlockingScheduler(timezone=SHANGHAI)

    def sweep() -> None:
        fired = engine.fire_due_timers()
        if fired:
            log.info("advanced %d instance(s) with due timers", fired)

    scheduler.add_job(sweep, "interval", seconds=interval_seconds, max_instances=1, coalesce=True,
                      id="fire_due_timers")
    log.info("timer worker started: sweeping every %.1f s", interval_seconds)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
