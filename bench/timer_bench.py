"""Timer throughput and firing delay with real `chengxin worker` processes.

1. Throughput: N instances (default 10,000) due at the same moment — the first day of the
   spot-check phase, 2023-12-01 00:00 Asia/Shanghai — advanced by `chengxin worker
   --now 2023-12-01T09:00` processes: one worker on SQLite, one and two workers on PostgreSQL.
   Figures: instances/s from the first firing to the last (and including worker start-up).
   Two kinds of instance:
   - the timer wave, tests/data/timer_wave.bpmn (timer → script → user task), started through
     the engine in one transaction: the sweep's own cost;
   - real clues: `--seed` key problems (default 100) walked with ClueDriver to approval, where
     they wait for the spot-check phase, then copied to N with fresh ids, task ids and
     re-hashed history chains (`clone_clues`). Their 11 KB workflow state makes SpiffWorkflow's
     own load, step and save the larger part of each firing.
2. Delay: `chengxin worker --interval 1` on the system clock, against instances due a few
   seconds ahead: fired_at − due per instance (from the timer_fired history events), and the
   worker's own firing-lag histogram scraped from its --metrics-port.

Run: .venv/bin/python bench/timer_bench.py [--count 10000] [--seed 100] [--kinds wave clues] [--pg URL] [--skip-pg]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

from engine import Engine, EngineSettings, FixedClock, SystemClock  # noqa: E402
from engine import history  # noqa: E402
from engine.clock import parse_moment  # noqa: E402
from engine.db.models import Clue, InstanceEvent, ProcessInstance  # noqa: E402
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


def throughput(label: str, url: str, kind: str, count: int, seed: int, workers: int, directory: Path) -> None:
    fresh(url)
    t0 = time.perf_counter()
    if kind == "wave":
        engine = Engine(EngineSettings(database_url=url), FixedClock(parse_moment("2023-11-30T09:00:00")))
        deploy_wave(engine)
        start_wave(engine, count, SPOT_CHECK_STARTS)
    else:
        engine = Engine(EngineSettings(database_url=url), FixedClock(parse_moment("2023-10-17T09:00:00")))
        prepare_engine(engine, spot_check_rate=0.0)
        for n in range(seed):
            clue = ClueDriver(engine, enterprise_name=f"随州市抽查样本{n}有限公司")
            clue.to_review(key=True)
            clue.review(approved=True)
        clone_clues(engine, count)
    created = time.perf_counter() - t0
    sql = reader(url)
    procs = [Worker(url, directory, f"{label}-{kind}-{workers}-{n}", now=WORKER_NOW, interval=0.5, batch=500).start()
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
        if kind == "wave":
            states = instance_states(sql)
            assert {s["fired"] for s in states.values()} == {1} and not half_written(states), "exactly once broken"
        else:
            with sql.connect() as conn:
                stages = dict(conn.execute(text("SELECT stage, count(*) FROM clue GROUP BY stage")).all())
            assert stages == {"spot_check": count}, stages
    finally:
        for w in procs:
            w.kill()
        sql.dispose()
    assert sum(e["advanced"] for e in exits) == count
    verified = engine.verify_history()
    engine.dispose()
    assert verified["intact"], verified
    assert first is not None
    rate = count / (finished - first)
    what = "timer wave" if kind == "wave" else "real clues"
    print(f"{label:<11} {what:<10} {workers} worker(s)  {count:,} instances: {finished - first:6.1f} s from first to "
          f"last firing = {rate:6.0f} instances/s  ({count / (finished - launched):.0f}/s including start-up; "
          f"split {[e['advanced'] for e in exits]}; made in {created:.0f} s)", flush=True)


def clone_clues(engine: Engine, target: int) -> None:
    """Copy the waiting clue instances until `target` exist: new clue and instance ids, new
    SpiffWorkflow task ids in the state, and each copy's history chain hashed afresh."""
    with engine.transaction() as ctx:
        session = ctx.session
        templates = list(session.scalars(select(ProcessInstance).where(ProcessInstance.business_key.is_not(None))))
        clues = {c.instance_id: c for c in session.scalars(select(Clue))}
        events = {i.id: list(session.scalars(select(InstanceEvent).where(InstanceEvent.instance_id == i.id)
                                             .order_by(InstanceEvent.seq))) for i in templates}
        instance_columns = [c.key for c in ProcessInstance.__table__.columns]
        clue_columns = [c.key for c in Clue.__table__.columns]
        next_instance = session.scalar(select(func.max(ProcessInstance.id))) + 1
        next_clue = session.scalar(select(func.max(Clue.id))) + 1
        made = len(templates)
        instances, clue_rows, event_rows = [], [], []
        while made < target:
            for template in templates:
                if made >= target:
                    break
                old_clue = clues[template.id]
                state = template.state
                for task_id in json.loads(state)["tasks"]:
                    state = state.replace(task_id, str(uuid.uuid4()))
                state = re.sub(rf'"clue_id": {old_clue.id}\b', f'"clue_id": {next_clue}', state)
                head = None
                for event in events[template.id]:
                    row = {c.key: getattr(event, c.key) for c in InstanceEvent.__table__.columns if c.key != "id"}
                    row.update(instance_id=next_instance, prev_hash=head)
                    row["hash"] = head = history.row_hash(row)
                    event_rows.append(row)
                instances.append({k: getattr(template, k) for k in instance_columns}
                                 | {"id": next_instance, "business_key": str(next_clue), "state": state,
                                    "history_head": head})
                clue_rows.append({k: getattr(old_clue, k) for k in clue_columns}
                                 | {"id": next_clue, "instance_id": next_instance,
                                    "enterprise_name": f"{old_clue.enterprise_name}·{next_clue}"})
                next_instance, next_clue, made = next_instance + 1, next_clue + 1, made + 1
            if len(instances) >= 2000 or made >= target:
                session.execute(insert(ProcessInstance.__table__), instances)
                session.execute(insert(Clue.__table__), clue_rows)
                session.execute(insert(InstanceEvent.__table__), event_rows)
                instances, clue_rows, event_rows = [], [], []
        if session.get_bind().dialect.name == "postgresql":
            for table in ("process_instance", "clue"):
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))


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
    for kind in args.kinds if args.count else []:
        for workers in worker_counts:
            with make_url() as url:
                throughput(label, url, kind, args.count, args.seed, workers, directory)
    for count in args.delay_counts:
        with make_url() as url:
            delay(label, url, count, directory)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=100, help="real clues walked through the engine, then copied")
    parser.add_argument("--kinds", nargs="*", choices=("wave", "clues"), default=["wave", "clues"])
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
