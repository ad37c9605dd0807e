"""Real `chengxin worker` processes against one database (PostgreSQL or SQLite, per run).

2,000 instances fall due together. On PostgreSQL two workers claim them with
`FOR UPDATE SKIP LOCKED`; on SQLite they take turns through `BEGIN IMMEDIATE`. Either way
every timer fires exactly once, a worker killed mid-batch leaves nothing half-written, and
SIGTERM ends a worker after the instance in hand.
"""
from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import Engine

from ..conftest import ON_POSTGRESQL
from ..timer_wave import Worker, deploy_wave, fired_count, half_written, instance_states, reader, start_wave, wait_until

COUNT = 2000
DUE = "2023-12-01T00:00:00+08:00"  # the first day of the spot-check phase
NOW = "2023-12-01T09:00:00"        # the workers' (frozen) clock: every timer is due


@pytest.fixture
def wave(bare_engine: Engine) -> Engine:
    deploy_wave(bare_engine)
    ids = start_wave(bare_engine, COUNT, DUE)
    assert len(ids) == COUNT
    return bare_engine


@pytest.fixture
def workers(database_url: str, tmp_path: Path) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:  # whatever a failing test left running
        worker.kill()


def spawn(started: list[Worker], url: str, tmp_path: Path, name: str, **options: object) -> Worker:
    worker = Worker(url, tmp_path / "workers", name, now=NOW, **options)  # type: ignore[arg-type]
    started.append(worker.start())
    return worker


def assert_each_fired_once(states: dict[int, dict[str, object]]) -> None:
    assert len(states) == COUNT
    assert half_written(states) == []
    assert {s["fired"] for s in states.values()} == {1}, "a timer fired twice or not at all"
    assert all(s["tasks"] == ["fired"] for s in states.values())


def assert_json_logs(worker: Worker) -> list[dict[str, object]]:
    lines = worker.log_lines()  # every stderr line parses as JSON
    assert all({"ts", "level", "logger", "msg", "pid"} <= line.keys() for line in lines)
    events = [line.get("event") for line in lines]
    assert "worker_started" in events and "worker_stopped" in events
    return lines


def test_two_workers_fire_every_timer_exactly_once(wave: Engine, database_url: str, tmp_path: Path,
                                                   workers: list[Worker]) -> None:
    sql = reader(database_url)
    try:
        first = spawn(workers, database_url, tmp_path, "first", batch=100)
        second = spawn(workers, database_url, tmp_path, "second", batch=100)
        wait_until(lambda: fired_count(sql) >= COUNT, 90, workers, f"{COUNT} timers")
        exits = [first.stop(), second.stop()]
        states = instance_states(sql)
    finally:
        sql.dispose()
    assert_each_fired_once(states)
    assert sum(e["advanced"] for e in exits) == COUNT  # the workers' own account agrees
    if ON_POSTGRESQL:
        assert all(e["advanced"] > 0 for e in exits), exits  # both really worked at once
    for worker in (first, second):
        sweeps = [line for line in assert_json_logs(worker) if line.get("event") == "timer_sweep"]
        assert sum(int(line["advanced"]) for line in sweeps) == next(
            e["advanced"] for w, e in zip((first, second), exits) if w is worker)
    assert wave.verify_history() == {"intact": True, "instances_checked": COUNT}


def test_killed_worker_loses_nothing_and_fires_nothing_twice(wave: Engine, database_url: str, tmp_path: Path,
                                                             workers: list[Worker]) -> None:
    sql = reader(database_url)
    try:
        doomed = spawn(workers, database_url, tmp_path, "doomed", batch=50)
        wait_until(lambda: fired_count(sql) >= 300, 60, workers, "the first worker's progress")
        doomed.signal(signal.SIGKILL)  # mid-batch, most likely mid-transaction
        assert doomed.wait(10) == -signal.SIGKILL
        after_kill = instance_states(sql)
        fired_before_restart = sum(s["fired"] for s in after_kill.values())
        assert 300 <= fired_before_restart < COUNT
        assert half_written(after_kill) == []  # each instance wholly before or wholly after its timer

        successor = spawn(workers, database_url, tmp_path, "successor", batch=50)
        wait_until(lambda: fired_count(sql) >= COUNT, 90, [successor], "the rest of the timers")
        exit_line = successor.stop()
        states = instance_states(sql)
    finally:
        sql.dispose()
    assert_each_fired_once(states)
    assert exit_line["advanced"] == COUNT - fired_before_restart
    assert wave.verify_history() == {"intact": True, "instances_checked": COUNT}


def test_sigterm_stops_after_the_instance_in_hand(wave: Engine, database_url: str, tmp_path: Path,
                                                  workers: list[Worker]) -> None:
    sql = reader(database_url)
    try:
        worker = spawn(workers, database_url, tmp_path, "stopping")  # one batch: every due instance
        wait_until(lambda: fired_count(sql) >= 200, 60, workers, "progress")
        exit_line = worker.stop(timeout=10)
        states = instance_states(sql)
    finally:
        sql.dispose()
    fired = sum(s["fired"] for s in states.values())
    assert exit_line["advanced"] == fired < COUNT  # stopped mid-sweep, and said how far it got
    assert half_written(states) == []
    lines = assert_json_logs(worker)
    assert any(line.get("event") == "worker_stopping" and line.get("signal") == "SIGTERM" for line in lines)
    assert wave.verify_history()["intact"] is True
