"""Server time of the handler pages with a year's worth of data.

Fills a database with 100,000 clues in every stage — a few hundred walked through the real
engine, then copied in bulk (clue rows, their READY tasks) so that list pages see realistic
volumes — and prints p50/p95 server time (Flask test client, rendering included) for the
inbox, the ledger (first page, a filtered page, a deep page), a clue page and a task
submit, on SQLite and PostgreSQL; plus the time to export 10,000 rows and import 5,000.

Run: .venv/bin/python bench/webui_bench.py [--clues 100000] [--pg URL]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl import Workbook  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

from engine import problem_list  # noqa: E402
from engine.clock import FixedClock, parse_moment  # noqa: E402
from engine.db.models import Clue, HumanTask  # noqa: E402
from engine.db.session import make_sql_engine  # noqa: E402
from engine.demo import DEMO_PASSWORD  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from tests.factories import postgresql_schema, ClueDriver, prepare_engine  # noqa: E402
from webui import create_app  # noqa: E402

SEED_PER_STAGE = 40


def seed_real_clues(engine: Any) -> None:
    """Real instances in each stage, assigned to zengdu so the unit's inbox has work."""
    for n in range(SEED_PER_STAGE):
        for stage in ("triage", "assigning", "planning", "reviewing", "closed"):
            clue = ClueDriver(engine, enterprise_name=f"随州市样本企业{stage}{n}有限公司")
            if stage == "triage":
                continue
            clue.triage(category=("arrears_public", "policy", "investment")[n % 3] if stage != "closed" else "arrears_public")
            if stage == "assigning":
                continue
            clue.assign(deadline="2023-11-%02d" % (1 + n % 28))
            if stage == "planning":
                continue
            clue.plan()
            clue.report()
            if stage == "closed":
                clue.review(approved=True)


def copy_in_bulk(engine: Any, target: int) -> None:
    """Duplicate the seeded clue rows (and their READY tasks) until `target` clues exist."""
    with engine.transaction() as ctx:
        session = ctx.session
        columns = [c for c in Clue.__table__.columns if c.key not in ("id", "instance_id")]
        base = session.scalar(select(func.count()).select_from(Clue))
        templates = session.execute(select(*columns, Clue.id)).all()
        tasks = {row.clue_id: row for row in session.scalars(select(HumanTask))}
        next_id = session.scalar(select(func.max(Clue.id))) + 1
        batch, task_batch = [], []
        while base < target:
            for row in templates:
                if base >= target:
                    break
                values = {c.key: getattr(row, c.key) for c in columns}
                values["id"] = next_id
                batch.append(values)
                task = tasks.get(row.id)
                if task is not None:
                    task_batch.append({c.key: getattr(task, c.key) for c in HumanTask.__table__.columns}
                                      | {"id": str(uuid.uuid4()), "clue_id": next_id})
                next_id += 1
                base += 1
            if len(batch) >= 5000 or base >= target:
                session.execute(insert(Clue), batch)
                if task_batch:
                    session.execute(insert(HumanTask), task_batch)
                batch, task_batch = [], []
        if session.get_bind().dialect.name == "postgresql":
            # Ids were given explicitly: move the sequence past them for clues made later.
            session.execute(text("SELECT setval(pg_get_serial_sequence('clue', 'id'), (SELECT max(id) FROM clue))"))


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - t0) * 1000)
        status = getattr(response, "status_code", 200)
        assert status < 400, status
    return summary(samples)


def summary(samples: list[float]) -> tuple[float, float]:
    """Median and nearest-rank 95th percentile."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[-(-len(ordered) * 95 // 100) - 1]


def bench_app(url: str, fill: bool = True, **prepare: Any) -> tuple[Any, Any]:
    """A migrated database at `url`, the app on it (clock fixed in the 2023 campaign) and its engine,
    prepared (units, users, campaign, processes) unless `fill` is false (a database filled before)."""
    sql = make_sql_engine(url)
    upgrade(sql)
    sql.dispose()
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False, "DATABASE_URL": url,
                      "CLOCK": FixedClock(parse_moment("2023-11-15T10:00:00")), "EVIDENCE_DIR": tempfile.mkdtemp()})
    engine = app.extensions["chengxin_engine"]
    if fill:
        prepare_engine(engine, password=DEMO_PASSWORD, **prepare)
    return app, engine


def database_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    return parser


def on_each_database(args: argparse.Namespace, run: Callable[[str, str], None]) -> None:
    """run(label, url) on a fresh SQLite file, then in a fresh PostgreSQL schema (unless skipped)."""
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run("SQLite", f"sqlite:///{tmp}/bench.sqlite3")
    if not args.skip_pg:
        with postgresql_schema(args.pg, "bench") as url:
            run("PostgreSQL", url)


def problem_list_file(rows: int) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["source", "enterprise_name", "debtor", "summary", "amount_owed"])
    for i in range(rows):
        sheet.append(["letters_visits", f"导入企业{i}有限公司", f"某局{i}", "工程款拖欠", 10000 + i])
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def run(label: str, url: str, clues: int, repeat: int) -> None:
    t0 = time.perf_counter()
    app, engine = bench_app(url)
    seed_real_clues(engine)
    copy_in_bulk(engine, clues)
    # Copied task rows share their original's instance, so submits are measured on fresh clues.
    fresh = [ClueDriver(engine, enterprise_name=f"随州市计时企业{n}有限公司") for n in range(repeat)]
    for clue in fresh:
        clue.triage()
        clue.assign(deadline="2023-11-30")
    real_tasks = [{"id": clue.task_id("Task_plan"), "name": "Task_plan"} for clue in fresh]
    print(f"{label}: filled {clues:,} clues in {time.perf_counter() - t0:.0f} s")
    office, unit = app.test_client(), app.test_client()
    for client, user in ((office, "office"), (unit, "unit")):
        client.post("/auth/login", data={"username": user, "password": DEMO_PASSWORD})
    deep = clues // 50 - 5
    pages: list[tuple[str, Callable[[], Any]]] = [
        ("inbox (unit)", lambda: unit.get("/inbox/")),
        ("inbox (office)", lambda: office.get("/inbox/")),
        ("ledger first page", lambda: office.get("/ledger/")),
        ("ledger filtered", lambda: office.get("/ledger/?category=policy&stage=assigning&q=样本")),
        (f"ledger page {deep}", lambda: office.get(f"/ledger/?page={deep}")),
        ("clue page", lambda: office.get("/clues/5")),
    ]
    for name, call in pages:
        p50, p95 = timed(call, repeat)
        print(f"{label:<11} {name:<22} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
    submits = []
    for task in real_tasks[:repeat]:
        data = ({"measures": "分期支付", "plan_deadline": "2023-11-20", "responsible_leader": "局长",
                 "responsible_person": "张伟", "contact_phone": "13800000001"} if task["name"] == "Task_plan" else
                {"amount_paid": "1000", "feedback": "已支付", "completed_on": "2023-11-15"})
        t0 = time.perf_counter()
        response = unit.post(f"/tasks/{task['id']}", data=data)
        submits.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 302, response.status_code
    submits.sort()
    print(f"{label:<11} {'task submit':<22} p50 {statistics.median(submits):7.1f} ms  "
          f"p95 {submits[max(0, int(len(submits) * 0.95) - 1)]:7.1f} ms  ({len(submits)} submits)")
    t0 = time.perf_counter()
    response = office.get("/ledger/export.xlsx?stage=triage")
    print(f"{label:<11} export {response.headers['X-Row-Count']} rows: {time.perf_counter() - t0:.1f} s")
    content = problem_list_file(5000)
    t0 = time.perf_counter()
    result = engine.run(problem_list.import_problem_list, "office", content)
    print(f"{label:<11} import {result['imported']} rows: {time.perf_counter() - t0:.1f} s")
    engine.dispose()


def main() -> None:
    parser = database_arguments(argparse.ArgumentParser())
    parser.add_argument("--clues", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    on_each_database(args, lambda label, url: run(label, url, args.clues, args.repeat))


if __name__ == "__main__":
    main()
