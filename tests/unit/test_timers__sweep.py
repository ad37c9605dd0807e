"""The timer sweep in one process: failures, stopping, batches, real-time firing, logs, metrics."""
from __future__ import annotations

import io
import json
import logging
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from engine import Engine, EngineSettings, SystemClock
from engine import metrics, timers
from engine.cli import build_parser
from engine.context import Context
from engine.db.models import InstanceEvent, ProcessInstance
from engine.logging_setup import JsonFormatter, configure_logging
from engine.scheduler import TimerSweep, start_in_background, sweep_of

from ..timer_wave import deploy_wave, half_written, instance_states, reader, start_wave

DUE = "2023-12-01T00:00:00+08:00"


@pytest.fixture
def wave(bare_engine: Engine) -> Engine:
    deploy_wave(bare_engine)
    return bare_engine


def states(engine: Engine, url: str) -> dict[int, dict[str, object]]:
    sql = reader(url)
    try:
        return instance_states(sql)
    finally:
        sql.dispose()


def test_nothing_fires_before_its_moment_and_everything_once_after(wave: Engine, database_url: str) -> None:
    start_wave(wave, 5, DUE)
    wave.clock.set("2023-11-30T23:59:59")  # type: ignore[attr-defined]
    assert wave.fire_due_timers() == 0
    wave.clock.set("2023-12-01T00:00:01")  # type: ignore[attr-defined]
    assert wave.fire_due_timers() == 5
    assert wave.fire_due_timers() == 0
    after = states(wave, database_url)
    assert {s["fired"] for s in after.values()} == {1} and half_written(after) == []


def test_failing_instances_go_to_error_and_the_sweep_continues(wave: Engine, database_url: str,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    ids = start_wave(wave, 6, DUE)
    broken_script = wave.run(lambda ctx: __import__("engine.instances", fromlist=["x"]).start_instance(
        ctx, "timer_wave", {"due": DUE, "divisor": 0}, "system", None).id)
    corrupt = ids[2]
    with wave.transaction() as ctx:  # a blob that no longer loads: the advance itself raises
        ctx.session.execute(update(ProcessInstance).where(ProcessInstance.id == corrupt).values(state="{not json"))
    wave.clock.set("2023-12-01T09:00:00")  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger="engine.timers"):
        assert wave.fire_due_timers() == 6  # five good ones and the script failure; the corrupt one failed
    assert wave.fire_due_timers() == 0      # neither failure is retried forever
    with wave.transaction() as ctx:
        rows = {i.id: i for i in ctx.session.scalars(select(ProcessInstance))}
        errors = {e.instance_id: e for e in ctx.session.scalars(select(InstanceEvent).where(InstanceEvent.kind == "error"))}
    assert rows[corrupt].status.value == "error" and "JSONDecodeError" in (rows[corrupt].error_message or "")
    assert rows[broken_script].status.value == "error" and rows[broken_script].error_element == "Script_check"
    assert set(errors) == {corrupt, broken_script}
    assert all(rows[i].status.value == "running" for i in ids if i != corrupt)
    failed = [r for r in caplog.records if getattr(r, "event", None) == "timer_failed"]
    assert [r.instance_id for r in failed] == [corrupt] and failed[0].exc_info  # type: ignore[attr-defined]
    assert wave.verify_history()["intact"] is True


class StopAfter:
    """A stop flag that is raised once `n` instances have been handled."""

    def __init__(self, n: int) -> None:
        self.calls, self.n = 0, n

    def is_set(self) -> bool:
        self.calls += 1
        return self.calls > self.n


def test_a_set_stop_flag_ends_the_sweep_between_instances(wave: Engine, database_url: str) -> None:
    start_wave(wave, 10, DUE)
    wave.clock.set("2023-12-01T09:00:00")  # type: ignore[attr-defined]
    assert wave.fire_due_timers(stop=StopAfter(3)) == 3
    after = states(wave, database_url)
    assert sum(s["fired"] for s in after.values()) == 3 and half_written(after) == []
    assert wave.fire_due_timers() == 7


def test_batches_cover_every_due_instance_in_one_sweep(wave: Engine) -> None:
    start_wave(wave, 10, DUE)
    wave.clock.set("2023-12-01T09:00:00")  # type: ignore[attr-defined]
    sweep = TimerSweep(wave, batch=3)
    assert sweep() == 10 and sweep.sweeps == 1 and sweep.last_advanced == 10
    assert sweep() == 0 and sweep.advanced_total == 10


def test_an_instance_still_due_after_its_advance_does_not_loop_a_batched_sweep(
        wave: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    start_wave(wave, 4, DUE)
    wave.clock.set("2023-12-01T09:00:00")  # type: ignore[attr-defined]
    calls: list[int] = []

    def advances_nothing(ctx: Context, instance: ProcessInstance, flush: bool = True) -> timers.Fired:
        calls.append(instance.id)  # as if SpiffWorkflow did not fire a timer the column says is due
        return timers.Fired(instance.id, instance.next_timer_at, ctx.now, True, instance.status)  # type: ignore[arg-type]

    monkeypatch.setattr(timers, "fire_timers_of", advances_nothing)
    sweep = TimerSweep(wave, batch=3)
    assert sweep() == 4 and sorted(calls) == sorted(set(calls))  # each claimed once, then the sweep ends
    assert sweep() == 4 and len(calls) == 8                       # and once again by the next sweep


def lags_under_the_scheduler(database_url: str, count: int, due_in: float, interval: float) -> list[float]:
    """Start `count` instances due `due_in` seconds from now, run the in-process scheduler on the
    system clock until they have fired (10 s at most), and return fired_at − due per instance."""
    engine = Engine(EngineSettings(database_url=database_url), SystemClock())
    try:
        deploy_wave(engine)
        due = engine.clock.now() + timedelta(seconds=due_in)
        start_wave(engine, count, due.isoformat())
        stop = threading.Event()
        scheduler = start_in_background(engine, interval_seconds=interval, stop=stop)  # sweeps once at start
        try:
            deadline = time.monotonic() + due_in + 10
            while time.monotonic() < deadline and sweep_of(scheduler).advanced_total < count:  # type: ignore[union-attr]
                time.sleep(0.05)
        finally:
            stop.set()
            scheduler.shutdown(wait=True)
        with engine.transaction() as ctx:
            fired = list(ctx.session.scalars(select(InstanceEvent.at).where(InstanceEvent.kind == "timer_fired")))
        assert len(fired) == count
        return [(at - due).total_seconds() for at in fired]
    finally:
        engine.dispose()


def test_the_running_scheduler_fires_within_two_seconds_of_due(database_url: str) -> None:
    lags = lags_under_the_scheduler(database_url, 20, due_in=1.5, interval=0.5)
    assert min(lags) > 0 and max(lags) < 2.0, lags


def test_the_scheduler_wakes_at_the_next_timer_instead_of_waiting_out_its_interval(database_url: str) -> None:
    lags = lags_under_the_scheduler(database_url, 5, due_in=2, interval=30)  # the next run would be 30 s on
    assert min(lags) > 0 and max(lags) < 0.5, lags


def test_worker_and_sweep_options() -> None:
    parser = build_parser()
    args = parser.parse_args(["worker", "--interval", "0.5", "--batch", "200"])
    assert (args.interval, args.batch) == (0.5, 200)
    assert parser.parse_args(["worker"]).interval == 1.0
    for bad in (["worker", "--interval", "0"], ["worker", "--batch", "0"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_log_lines_are_json_with_the_extra_fields() -> None:
    stream = io.StringIO()
    handler = configure_logging("INFO", stream)
    try:
        log = logging.getLogger("engine.test")
        log.info("advanced %d", 3, extra={"event": "timer_sweep", "advanced": 3})
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed", extra={"instance_id": 7})
        logging.getLogger("apscheduler.scheduler").info("quiet")  # libraries' chatter stays out
        logging.getLogger("spiff.task").info("State changed to READY")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 2
    assert lines[0]["msg"] == "advanced 3" and lines[0]["event"] == "timer_sweep" and lines[0]["level"] == "info"
    assert lines[1]["instance_id"] == 7 and "ValueError: boom" in lines[1]["exc"]
    assert lines[0]["ts"].endswith("+08:00") and isinstance(lines[0]["pid"], int)
    assert isinstance(handler.formatter, JsonFormatter)


def test_metrics_count_instances_timers_and_lag(wave: Engine) -> None:
    start_wave(wave, 3, DUE)
    start_wave(wave, 2, "2023-12-01T08:59:30+08:00")
    start_wave(wave, 1, "2024-01-01T00:00:00+08:00")
    wave.clock.set("2023-12-01T09:00:00")  # type: ignore[attr-defined]
    snapshot = wave.run(metrics.snapshot)
    assert snapshot["instances"]["waiting"] == 6 and snapshot["instances"]["running"] == 0
    timers = snapshot["timers"]
    assert (timers["waiting"], timers["due"], timers["overdue"]) == (6, 5, 3)
    assert timers["oldest_due_age_seconds"] == 9 * 3600
    before = metrics.TIMER_LAG._sum.get()  # noqa: SLF001 - the client library keeps no public reader
    assert wave.fire_due_timers() == 5
    assert metrics.TIMER_LAG._sum.get() - before == pytest.approx(3 * 9 * 3600 + 2 * 30)  # noqa: SLF001
    after = wave.run(metrics.snapshot)
    assert after["instances"]["running"] == 5 and after["timers"]["due"] == 0
