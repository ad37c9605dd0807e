"""APScheduler wiring only: one interval job that asks the engine to fire due timers.

The job holds no state that matters (the database's `next_timer_at` column is the truth), so
losing the scheduler loses nothing; `max_instances=1` keeps sweeps in one process from
overlapping, and several processes may sweep at once (`timers.py`). A sweep works through
every due instance, in batches of `batch` when given; the engine advances them a group per
transaction (`timers.py`).

After each sweep the job looks up the next timer to come and, if that falls due before the
job's next run, moves the run to that moment: a timer then fires within a few hundredths of a
second of due instead of up to an interval late.

`run_worker` (for `chengxin worker`) stops on SIGTERM or SIGINT after the instance in hand: its
group is committed with the instances done so far. The signal only sets a flag that the sweep
checks between instances.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from . import metrics
from .clock import SHANGHAI
from .engine import Engine
from .timers import DEFAULT_INTERVAL

log = logging.getLogger(__name__)
JOB_ID = "fire_due_timers"
# Other periodic jobs (lights, reminders, e-mail) join a scheduler through these: each is
# called with the scheduler before it starts, e.g. `lambda s: lights.register_jobs(s, engine)`.
JobRegistrar = Callable[[BaseScheduler], None]


def periodic_jobs(engine: Engine) -> list[JobRegistrar]:
    """Every job besides the timer sweep: lights, the reminder ladder, the digest, e-mail and the
    batches of a campaign calendar change.

    Each takes its rows with skip-locked claims or idempotent markers, so running it in every
    worker is safe.
    """
    from . import campaigns, lights, notifications
    return [lambda s: lights.register_jobs(s, engine),
            lambda s: notifications.register_jobs(s, engine, engine.settings.smtp),
            lambda s: campaigns.register_jobs(s, engine)]


class TimerSweep:
    """The scheduled job. Remembers its last run, for the health check and the worker's exit."""

    def __init__(self, engine: Engine, batch: int | None = None, stop: threading.Event | None = None,
                 interval_seconds: float = DEFAULT_INTERVAL) -> None:
        if batch is not None and batch < 1:
            raise ValueError("batch must be at least 1")
        self.engine, self.batch, self.interval = engine, batch, interval_seconds
        self.scheduler: BaseScheduler | None = None  # set by add_timer_sweep
        self.stop = stop or threading.Event()
        self.sweeps = self.advanced_total = 0
        self.last_started: datetime | None = None
        self.last_finished: datetime | None = None
        self.last_advanced = 0
        self.last_error: str | None = None

    def __call__(self) -> int:
        started, t0 = datetime.now(timezone.utc), time.perf_counter()
        self.last_started = started
        advanced, batches, skip = 0, 0, set()
        try:
            while not self.stop.is_set():
                fired = self.engine.fire_due_timers(limit=self.batch, stop=self.stop, skip=skip)
                advanced += fired
                batches += 1
                if self.batch is None or fired < self.batch:
                    break
                log.info("batch done, more due", extra={"event": "timer_batch", "advanced": fired,
                                                        "advanced_so_far": advanced})
            self._wake_for_next_timer()
            self.last_error = None
        except Exception as exc:  # noqa: BLE001 - e.g. the database is down; the next sweep retries
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("timer sweep failed", extra={"event": "timer_sweep_failed", "advanced": advanced})
        finally:
            elapsed = time.perf_counter() - t0
            self.sweeps += 1
            self.advanced_total += advanced
            self.last_advanced = advanced
            self.last_finished = datetime.now(timezone.utc)
            metrics.SWEEP_SECONDS.observe(elapsed)
        if advanced:
            log.info("advanced %d instance(s) with due timers", advanced,
                     extra={"event": "timer_sweep", "advanced": advanced, "batches": batches,
                            "seconds": round(elapsed, 3), "per_second": round(advanced / elapsed, 1) if elapsed else None,
                            "stopping": self.stop.is_set()})
        return advanced

    def _wake_for_next_timer(self) -> None:
        if self.scheduler is None or self.stop.is_set():
            return
        delay = self.engine.seconds_to_next_timer()
        # With a frozen clock (--now) the next timer is either due already (the next sweep takes
        # it) or far away; only one within an interval can come before the next run.
        if delay is None or not 0 < delay < self.interval:
            return
        # Due means strictly past (timers.claim_due_instances), hence a margin; at least 50 ms
        # ahead, so that this run has ended (max_instances=1) when the moved one comes due.
        wake = datetime.now(SHANGHAI) + timedelta(seconds=max(delay, 0.05) + 0.01)
        job = self.scheduler.get_job(JOB_ID)
        if job is not None and (job.next_run_time is None or wake < job.next_run_time):
            job.modify(next_run_time=wake)

    def state(self, scheduler: BackgroundScheduler | None = None) -> dict[str, Any]:
        """What /healthz shows of an in-process scheduler."""
        return {
            "in_process": True,
            "running": bool(scheduler.running) if scheduler is not None else None,
            "interval_seconds": getattr(scheduler, "chengxin_interval", None) if scheduler is not None else None,
            "sweeps": self.sweeps,
            "last_sweep_started": self.last_started.isoformat() if self.last_started else None,
            "last_sweep_finished": self.last_finished.isoformat() if self.last_finished else None,
            "last_sweep_advanced": self.last_advanced,
            "last_error": self.last_error,
        }


def add_timer_sweep(scheduler: BackgroundScheduler, engine: Engine, interval_seconds: float = DEFAULT_INTERVAL,
                    batch: int | None = None, stop: threading.Event | None = None) -> TimerSweep:
    if interval_seconds <= 0:
        raise ValueError("interval must be positive")
    sweep = TimerSweep(engine, batch, stop, interval_seconds)
    sweep.scheduler = scheduler
    # The first sweep runs at once, not one interval after start-up.
    scheduler.add_job(sweep, "interval", seconds=interval_seconds, max_instances=1, coalesce=True,
                      id=JOB_ID, next_run_time=datetime.now(SHANGHAI), misfire_grace_time=None)
    scheduler.chengxin_interval = interval_seconds  # type: ignore[attr-defined]
    return sweep


def start_in_background(engine: Engine, interval_seconds: float = DEFAULT_INTERVAL, batch: int | None = None,
                        stop: threading.Event | None = None, jobs: Sequence[JobRegistrar] = ()
                        ) -> BackgroundScheduler:
    """For `chengxin serve`: the sweep runs in a thread of the web process.

    The job (a `TimerSweep`) is `scheduler.get_job(JOB_ID).func`; set its `stop` before
    `shutdown(wait=True)` to end a running sweep after its current instance.
    """
    scheduler = BackgroundScheduler(timezone=SHANGHAI)
    add_timer_sweep(scheduler, engine, interval_seconds, batch, stop)
    for register in jobs:
        register(scheduler)
    scheduler.start()
    log.info("timer scheduler started in process", extra={"event": "scheduler_started",
                                                          "interval_seconds": interval_seconds, "batch": batch})
    return scheduler


def sweep_of(scheduler: BackgroundScheduler) -> TimerSweep | None:
    job = scheduler.get_job(JOB_ID)
    return job.func if job is not None and isinstance(job.func, TimerSweep) else None


def run_worker(engine: Engine, interval_seconds: float = DEFAULT_INTERVAL, batch: int | None = None,
               stop: threading.Event | None = None, handle_signals: bool = True,
               jobs: Sequence[JobRegistrar] = ()) -> dict[str, Any]:
    """Sweep due timers every `interval_seconds` until SIGTERM/SIGINT (or `stop` is set).

    Returns totals for the worker's exit line.
    """
    stop = stop or threading.Event()
    if handle_signals:
        def on_signal(signum: int, _frame: Any) -> None:
            log.info("signal %s: stopping after the current instance", signal.Signals(signum).name,
                     extra={"event": "worker_stopping", "signal": signal.Signals(signum).name})
            stop.set()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, on_signal)
    scheduler = BackgroundScheduler(timezone=SHANGHAI)
    sweep = add_timer_sweep(scheduler, engine, interval_seconds, batch, stop)
    for register in jobs:
        register(scheduler)
    scheduler.start()
    log.info("timer worker started: sweeping every %.1f s", interval_seconds,
             extra={"event": "worker_started", "interval_seconds": interval_seconds, "batch": batch})
    try:
        while not stop.wait(0.2):
            if not scheduler.running:
                break
    finally:
        stop.set()
        scheduler.shutdown(wait=True)  # the running sweep ends after its current transaction
    result = {"worker": "stopped", "advanced": sweep.advanced_total, "sweeps": sweep.sweeps}
    log.info("timer worker stopped", extra={"event": "worker_stopped", **result})
    return result
