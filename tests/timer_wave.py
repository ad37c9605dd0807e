"""Many instances whose timers fall due together, for the worker tests and bench/timer_bench.py.

`tests/data/timer_wave.bpmn`: start → timer at the `due` variable → script → user task
(stage `fired`). Instances are started through the engine, all in one transaction.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import create_engine, text

from engine import Engine
from engine.instances import start_instance

ROOT = Path(__file__).resolve().parent.parent
WAVE_BPMN = ROOT / "tests" / "data" / "timer_wave.bpmn"


def deploy_wave(engine: Engine) -> None:
    engine.deploy([(WAVE_BPMN.name, WAVE_BPMN.read_text(encoding="utf-8"))])


def start_wave(engine: Engine, count: int, due: str, **variables: Any) -> list[int]:
    """Start `count` instances waiting for `due` (ISO datetime with offset) in one transaction."""
    def start_all(ctx: Any) -> list[int]:
        return [start_instance(ctx, "timer_wave", {"due": due, "divisor": 1, "n": n, **variables}, "system", None).id
                for n in range(count)]
    return engine.run(start_all)


def reader(url: str) -> SqlEngine:
    """A plain engine for looking at the database from outside (no BEGIN IMMEDIATE on SQLite)."""
    return create_engine(url)


def fired_count(sql: SqlEngine) -> int:
    with sql.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM instance_event WHERE kind = 'timer_fired'")).scalar() or 0


def instance_states(sql: SqlEngine) -> dict[int, dict[str, Any]]:
    """Per instance: timer_fired events, READY task rows (stage), next_timer_at, status, history count."""
    with sql.connect() as conn:
        rows = {r.id: {"fired": 0, "tasks": [], "next_timer_at": r.next_timer_at, "status": r.status,
                       "history_count": r.history_count, "events": 0}
                for r in conn.execute(text("SELECT id, next_timer_at, status, history_count FROM process_instance "
                                           "WHERE process_id = 'timer_wave'"))}
        for instance_id, kind, count in conn.execute(text(
                "SELECT instance_id, kind, count(*) FROM instance_event GROUP BY instance_id, kind")):
            if instance_id in rows:
                rows[instance_id]["events"] += count
                if kind == "timer_fired":
                    rows[instance_id]["fired"] = count
        for instance_id, stage in conn.execute(text("SELECT instance_id, stage FROM human_task")):
            if instance_id in rows:
                rows[instance_id]["tasks"].append(stage)
    return rows


def half_written(states: dict[int, dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Instances whose rows disagree: each must be wholly before its timer or wholly after it."""
    bad = []
    for instance_id, s in states.items():
        before = (s["fired"] == 0 and s["tasks"] == [] and s["next_timer_at"] is not None
                  and s["status"] == "waiting" and s["events"] == s["history_count"])
        after = (s["fired"] == 1 and s["tasks"] == ["fired"] and s["next_timer_at"] is None
                 and s["status"] == "running" and s["events"] == s["history_count"])
        if not (before or after):
            bad.append((instance_id, s))
    return bad


@dataclass
class Worker:
    """One `chengxin worker` subprocess; its stdout and stderr go to files."""

    url: str
    directory: Path
    name: str
    now: str | None = None
    interval: float = 0.5
    batch: int | None = None
    extra: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        command = [sys.executable, "-m", "engine.cli", "--db", self.url]
        if self.now:
            command += ["--now", self.now]
        command += ["worker", "--interval", str(self.interval), *self.extra]
        if self.batch:
            command += ["--batch", str(self.batch)]
        self.directory.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err, env=env)
        return self

    @property
    def stdout_path(self) -> Path:
        return self.directory / f"{self.name}.out"

    @property
    def stderr_path(self) -> Path:
        return self.directory / f"{self.name}.err"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self, timeout: float = 20) -> dict[str, Any]:
        """SIGTERM, wait, and return the worker's exit line (it must exit 0)."""
        self.signal(signal.SIGTERM)
        code = self.wait(timeout)
        assert code == 0, f"{self.name} exited {code}: {self.stderr_tail()}"
        return json.loads(self.stdout_path.read_text())

    def kill(self) -> None:
        if self.alive():
            self.signal(signal.SIGKILL)
            self.wait(10)

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stderr_path.read_text().splitlines() if line.strip()]

    def stderr_tail(self) -> str:
        return self.stderr_path.read_text()[-3000:] if self.stderr_path.exists() else ""


def wait_until(condition: Callable[[], bool], timeout: float, workers: list[Worker], what: str,
               poll: float = 0.05) -> float:
    """Poll `condition` until it holds; fail early if a worker died. Returns the seconds waited."""
    started = time.monotonic()
    while not condition():
        for worker in workers:
            if not worker.alive():
                raise AssertionError(f"{worker.name} exited early while waiting for {what}: {worker.stderr_tail()}")
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(poll)
    return time.monotonic() - started
