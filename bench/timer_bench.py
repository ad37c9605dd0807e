"""Timer throughput and firing delay with real `chengxin worker` processes.

1. Throughput: N instances (default 10,000) due at the same moment — the first day of the
   spot-check phase, 2023-12-01 00:00 Asia/Shanghai — advanced by `chengxin worker
   --now 2023-12-01T09:00` processes: one worker on SQLite, one and two workers on PostgreSQL.
   Figures: instances/s from the first firing to the last (and including worker start-up).
   The instances run tests/data/timer_wave.bpmn (timer → script → user task), started through
   the engine in one transaction; a smaller sample of real clue instances (key problems
   approved and waiting for the spot-check phase, walked there with ClueDriver) gives the
   in-process cost of firing the real clue process for comparison.
2. Delay: `chengxin worker --interval 1` on the system clock, against instances due a few
   seconds ahead: fired_at − due per instance (from the timer_fired history events), and the
   worker's own firing-lag histogram scraped from its --metrics-port.

Run: .venv/bin/python bench/timer_bench.py [--count 10000] [--clues 200] [--pg URL] [--skip-pg]
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from sqlalchemy import text  # noqa: E402

from engine import Engine, EngineSettings, FixedClock, SystemClock  # noqa: E402
from engine.clock import parse_moment  # noqa: E402
from engine.db.session import make_sql_engine  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from tests.factories import ClueDriver, postgresql_schema, prepare_engine  # noqa: E402
from tests.timer_wave import Worker, deploy_wave, fired_count, half_written, instance_states, reader, start_wave  # noqa: E402

SPOT_CHECK_STARTS = "2023-12-01T00:00:00+08:00"  # plan_2023(): spot_check_starts_on
WORKER_NOW = "2023-12-01T09:00:00"


def fresh(url: str) -> None:
    sql = make_sql_engine(url)
    upgrade(sql)
    sql.dispose()


def throughput(label: str, url: str, count: int, workers: int, directory: Path) -> dict[str, float]:
    fresh(url)
    engine = Engine(EngineSettings(database_url=url), FixedClock(parse_moment("2023-11-30T09:00:00")))
    t0 = time.perf_counter()
    deploy_wave(engine)
    start_wave(engine, count, SPOT_CHECK_STARTS)
    created = time.perf_counter() - t0
    sql = reader(url)
    procs = [Worker(url, directory, f"{label}-{workers}-{n}", now=WORKER_NOW, interval=0.5, batch=500).start()
             for n in range(workers)]
    try:
        launched = time.perf_counter()
        first = None
        while True:
            done = fired_count(sql)
            if done and first is None:
                first = time.perf_counter()
            if done >= count:
                break
            dead = [w for w in procs if not w.alive()]
            if dead:
                raise RuntimeError(f"worker died: {dead[0].stderr_tail()}")
            time.sleep(0.1)  # a count over the history every poll: often enough, not so often it slows the worker
        finished = time.perf_counter()
        exits = [w.stop() for w in procs]
        states = instance_states(sql)
    finally:
        for w in procs:
            w.kill()
        sql.dispose()
    assert sum(e["advanced"] for e in exits) == count
    assert {s["fired"] for s in states.values()} == {1} and not half_written(states), "exactly once broken"
    verified = engine.verify_history()
    engine.dispose()
    assert verified["intact"], verified
    assert first is not None
    rate = count / (finished - first)
    print(f"{label:<11} {workers} worker(s)  {count:,} instances: {finished - first:6.1f} s from first to last firing "
          f"= {rate:6.0f} instances/s  ({count / (finished - launched):.0f}/s including start-up; "
          f"split {[e['advanced'] for e in exits]}; created in {created:.0f} s)", flush=True)
    return {"rate": rate}


def real_clues(label: str, url: str, clues: int) -> None:
    """In-process: the real clue process waking at the spot-check phase."""
    fresh(url)
    engine = Engine(EngineSettings(database_url=url), FixedClock(parse_moment("2023-10-17T09:00:00")))
    prepare_engine(engine, spot_check_rate=0.0)
    t0 = time.perf_counter()
    for n in range(clues):
        clue = ClueDriver(engine, enterprise_name=f"随州市抽查样本{n}有限公司")
        clue.to_review(key=True)
        clue.review(approved=True)
    walked = time.perf_counter() - t0
    engine.clock.set(parse_moment("2023-12-01T09:00:00"))  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    fired = engine.fire_due_timers()
    elapsed = time.perf_counter() - t0
    with engine.transaction() as ctx:
        stages = dict(ctx.session.execute(text("SELECT stage, count(*) FROM clue GROUP BY stage")).all())
    engine.dispose()
    assert fired == clues and stages.get("spot_check") == clues, (fired, stages)
    print(f"{label:<11} real clue process, {clues} key problems at the spot-check phase, in-process: "
          f"{clues / elapsed:6.0f} instances/s ({elapsed / clues * 1000:.1f} ms each; walking them there took "
          f"{walked:.0f} s)", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def delay(label: str, url: str, count: int, directory: Path, lead_seconds: float = 8.0) -> None:
    """`chengxin worker --interval 1` on the system clock; instances due `lead_seconds` ahead."""
    fresh(url)
    engine = Engine(EngineSettings(database_url=url), SystemClock())
    deploy_wave(engine)
    due = datetime.now(timezone.utc) + timedelta(seconds=lead_seconds)
    start_wave(engine, count, due.isoformat())
    assert datetime.now(timezone.utc) < due - timedelta(seconds=2), "creating took too long; raise lead_seconds"
    port = free_port()
    worker = Worker(url, directory, f"{label}-delay-{count}", interval=1.0,
                    extra=["--metrics-port", str(port)]).start()
    sql = reader(url)
    try:
        deadline = time.monotonic() + lead_seconds + 120
        while fired_count(sql) < count:
            if time.monotonic() > deadline or not worker.alive():
                raise RuntimeError(f"worker did not finish: {worker.stderr_tail()}")
            time.sleep(0.05)
        scraped = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        worker.stop()
        with sql.connect() as conn:
            fired_at = [r[0] for r in conn.execute(text("SELECT at FROM instance_event WHERE kind = 'timer_fired'"))]
    finally:
        worker.kill()
        sql.dispose()
        engine.dispose()
    naive_due = due.replace(tzinfo=None)
    lags = sorted(((at.replace(tzinfo=None) if isinstance(at, datetime) else datetime.fromisoformat(at))
                   - naive_due).total_seconds() for at in fired_at)
    lag_sum = lag_count = 0.0
    for family in text_string_to_metric_families(scraped):
        for sample in family.samples:
            if sample.name == "chengxin_timer_firing_lag_seconds_sum":
                lag_sum = sample.value
            elif sample.name == "chengxin_timer_firing_lag_seconds_count":
                lag_count = sample.value
    p95 = lags[max(0, int(len(lags) * 0.95) - 1)]
    print(f"{label:<11} delay, worker --interval 1, {count:,} due together: fired_at − due min {lags[0]:.2f} s, "
          f"median {statistics.median(lags):.2f} s, p95 {p95:.2f} s, max {lags[-1]:.2f} s "
          f"(worker's histogram: mean {lag_sum / lag_count:.2f} s over {int(lag_count)})", flush=True)


def run(label: str, make_url: Any, args: argparse.Namespace, directory: Path, worker_counts: list[int]) -> None:
    for workers in worker_counts if args.count else []:
        with make_url() as url:
            throughput(label, url, args.count, workers, directory)
    if args.clues:
        with make_url() as url:
            real_clues(label, url, args.clues)
    for count in args.delay_counts:
        with make_url() as url:
            delay(label, url, count, directory)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--clues", type=int, default=200, help="real clue instances for the comparison (0: skip)")
    parser.add_argument("--delay-counts", type=int, nargs="*", default=[100, 1000])
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; due moment {SPOT_CHECK_STARTS}",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        counter = iter(range(1000))

        class SqliteFile:
            def __enter__(self) -> str:
                return f"sqlite:///{directory / f'bench{next(counter)}.sqlite3'}"

            def __exit__(self, *exc: Any) -> None:
                return None

        if not args.skip_sqlite:
            run("SQLite", SqliteFile, args, directory, [1])
        if not args.skip_pg:
            run("PostgreSQL", lambda: postgresql_schema(args.pg, "bench"), args, directory, [1, 2])
    print(f"load average {os.getloadavg()[0]:.1f} at the end", flush=True)


if __name__ == "__main__":
    main()
