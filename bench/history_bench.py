"""Server time of the supervisor's instance pages.

- the instance page (GET /instances/<id>: workflow loaded for visits and timers, history
  verified, timeline rendered) and the timeline alone (engine.instance_view.timeline) of a
  clue sent back 10 times;
- the instance list at 100,000 instances: first page, filtered pages, the errors inbox and a
  deep page.

The data set is bench/webui_bench.py's (a few hundred clues walked through the real engine,
then copied in bulk to 100,000 clues with their READY tasks); each copied clue then gets a
process_instance row of its own in bulk, with the status its stage implies (some suspended,
some in error). Copies carry a placeholder workflow state: the list never reads it, and the
instance page is measured on a real instance. p50/p95 over --repeat requests (Flask test
client, rendering included), on SQLite and PostgreSQL.

Run: .venv/bin/python bench/history_bench.py [--instances 100000] [--repeat 40] [--pg URL] [--skip-pg]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text  # noqa: E402

from bench.webui_bench import (bench_app, copy_in_bulk, database_arguments, on_each_database,  # noqa: E402
                               seed_real_clues, summary)
from engine import instance_view  # noqa: E402
from engine.db.models import Clue, InstanceStatus, ProcessDefinition, ProcessInstance  # noqa: E402
from engine.demo import DEMO_PASSWORD  # noqa: E402
from tests.factories import ClueDriver  # noqa: E402

SENDBACKS = 10
STATUS_OF_STAGE = {"closed": InstanceStatus.completed, "rejected": InstanceStatus.completed,
                   "awaiting_spot_check": InstanceStatus.waiting}


def timed(call: Any, repeat: int) -> tuple[float, float, float]:
    """p50 and p95 wall-clock ms, and p50 CPU ms of this process (the Python side, and SQLite's
    queries, which run in-process; a shared, busy machine inflates wall time, not CPU time)."""
    walls, cpus = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        response = call()
        walls.append((time.perf_counter() - w0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)
        assert getattr(response, "status_code", 200) < 400
    return (*summary(walls), statistics.median(cpus))


def clue_with_sendbacks(engine: Any, sendbacks: int) -> ClueDriver:
    clue = ClueDriver(engine, enterprise_name="随州市多次退回企业有限公司")
    clue.triage()
    clue.assign(deadline="2023-11-30")
    clue.plan()
    for n in range(sendbacks):
        clue.report(paid=1000 * (n + 1))
        clue.review(False, new_deadline=f"2023-12-{n + 1:02d}")
    clue.report()
    return clue


def instances_in_bulk(engine: Any) -> None:
    """A process_instance row for every clue copied without one, and its tasks moved onto it."""
    with engine.transaction() as ctx:
        session = ctx.session
        definition = session.scalar(select(ProcessDefinition).where(ProcessDefinition.process_id == "clue_handling"))
        offset = (session.scalar(select(func.max(ProcessInstance.id))) or 0) + 1
        rows = session.execute(select(Clue.id, Clue.stage, Clue.created_at).where(Clue.instance_id.is_(None))
                               .order_by(Clue.id)).all()
        first = rows[0].id if rows else 0
        batch = []
        for n, (clue_id, stage, created_at) in enumerate(rows):
            status = STATUS_OF_STAGE.get(stage, InstanceStatus.running)
            if n % 997 == 0:
                status = InstanceStatus.error
            elif n % 499 == 0:
                status = InstanceStatus.suspended
            batch.append({
                "id": offset + clue_id - first, "definition_id": definition.id, "process_id": "clue_handling",
                "business_key": str(clue_id), "status": status, "version": 1, "serializer_version": "bench",
                "state": "{}", "started_by": "office", "created_at": created_at, "updated_at": created_at,
                "next_timer_at": created_at + timedelta(days=40) if status == InstanceStatus.waiting else None,
                "error_message": "ZeroDivisionError: division by zero" if status == InstanceStatus.error else None,
                "error_element": "Script_sendback" if status == InstanceStatus.error else None,
                "history_count": 0,
            })
            if len(batch) >= 5000:
                session.execute(insert(ProcessInstance), batch)
                batch = []
        if batch:
            session.execute(insert(ProcessInstance), batch)
        session.execute(text("UPDATE clue SET instance_id = id + :shift WHERE instance_id IS NULL"),
                        {"shift": offset - first})
        session.execute(text("UPDATE human_task SET instance_id = (SELECT c.instance_id FROM clue c "
                             "WHERE c.id = human_task.clue_id) WHERE clue_id IS NOT NULL"))
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT setval(pg_get_serial_sequence('process_instance', 'id'), "
                                 "(SELECT max(id) FROM process_instance))"))
            session.execute(text("ANALYZE"))
        else:
            session.execute(text("ANALYZE"))


def run(label: str, url: str, instances: int, repeat: int) -> None:
    t0 = time.perf_counter()
    app, engine = bench_app(url, max_sendbacks=SENDBACKS + 5)
    looped = clue_with_sendbacks(engine, SENDBACKS)
    seed_real_clues(engine)
    copy_in_bulk(engine, instances)
    instances_in_bulk(engine)
    with engine.transaction() as ctx:
        total = ctx.session.scalar(select(func.count()).select_from(ProcessInstance))
    print(f"{label}: filled {total:,} instances in {time.perf_counter() - t0:.0f} s")
    supervisor = app.test_client()
    supervisor.post("/auth/login", data={"username": "supervisor", "password": DEMO_PASSWORD})
    detail = engine.run(instance_view.instance_detail, "supervisor", looped.instance_id)
    assert detail["visits"]["Task_report"] == SENDBACKS + 1 and detail["chain"]["intact"]
    print(f"{label:<11} instance with {SENDBACKS} send-backs: {len(detail['timeline'])} events, "
          f"{detail['visits']['Task_report']} visits of Task_report")
    deep = total // 50 - 5
    pages: list[tuple[str, Any]] = [
        (f"instance page ({SENDBACKS} send-backs)", lambda: supervisor.get(f"/instances/{looped.instance_id}")),
        ("instance detail (engine)", lambda: engine.run(instance_view.instance_detail, "supervisor",
                                                        looped.instance_id)),
        ("timeline (engine)", lambda: engine.run(instance_view.timeline, looped.instance_id)),
        ("list first page", lambda: supervisor.get("/instances/")),
        ("list running+rectifying", lambda: supervisor.get("/instances/?status=running&stage=rectifying")),
        ("list overdue", lambda: supervisor.get("/instances/?overdue=1")),
        ("list unit zengdu", lambda: supervisor.get("/instances/?unit=zengdu")),
        ("list waiting on unit", lambda: supervisor.get("/instances/?waiting_on=unit:zengdu")),
        ("list process+version", lambda: supervisor.get("/instances/?process_id=clue_handling&version=1")),
        ("errors inbox", lambda: supervisor.get("/instances/errors")),
        ("list as group", None),
        (f"list page {deep}", lambda: supervisor.get(f"/instances/?page={deep}")),
    ]
    group = app.test_client()
    group.post("/auth/login", data={"username": "group", "password": DEMO_PASSWORD})
    pages[10] = ("list as group", lambda: group.get("/instances/"))
    print(f"{label:<11} load average before timing: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name, call in pages:
        p50, p95, cpu = timed(call, repeat)
        print(f"{label:<11} {name:<32} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  (CPU p50 {cpu:6.1f} ms)")
    engine.dispose()


def main() -> None:
    parser = database_arguments(argparse.ArgumentParser())
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    on_each_database(args, lambda label, url: run(label, url, args.instances, args.repeat))


if __name__ == "__main__":
    main()
