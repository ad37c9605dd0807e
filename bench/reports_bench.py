"""Time to generate the dispatch notice and the year-end summaries at 100,000 clues.

Fills the database with bench/webui_bench.py's builder (a few hundred clues walked through the
real engine, then copied in bulk), spreads the copies' registration over 30 days and lists every
97th for supervision (so both capped lists are long), then prints p50/p95 of the whole download
(Flask test client: the engine's aggregate queries, the charts and the .docx) of: the dispatch
notice for the whole period and for one week, the city's year-end summary and one unit's; and,
for the notice, how the time splits between the figures (queries) and the document (charts and
python-docx).

Run: .venv/bin/python bench/reports_bench.py [--clues 100000] [--repeat 5] [--pg URL] [--skip-pg]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webui_bench import copy_in_bulk, seed_real_clues  # noqa: E402

from engine import dispatch_notice  # noqa: E402
from engine.clock import FixedClock, parse_moment  # noqa: E402
from engine.db.session import make_sql_engine  # noqa: E402
from engine.demo import DEMO_PASSWORD  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from tests.factories import postgresql_schema, prepare_engine  # noqa: E402
from webui import create_app  # noqa: E402


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, -(-len(ordered) * 95 // 100) - 1)]


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    samples, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = call()
        samples.append((time.perf_counter() - t0) * 1000)
    return (*summary(samples), result)


def spread(engine: Any) -> None:
    """Registration spread over the 30 days before the clock; every 97th clue listed."""
    with engine.transaction() as ctx:
        connection = ctx.session.connection()
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("UPDATE clue SET created_at = created_at - mod(id, 30) * interval '1 day', "
                                       "listed_for_supervision = (mod(id, 97) = 0)")
            connection.exec_driver_sql("ANALYZE")
        else:
            connection.exec_driver_sql("UPDATE clue SET created_at = datetime(created_at, '-' || (id % 30) || ' days'), "
                                       "listed_for_supervision = (id % 97 = 0)")


def run(label: str, url: str, clues: int, repeat: int) -> None:
    sql = make_sql_engine(url)
    upgrade(sql)
    sql.dispose()
    clock = FixedClock(parse_moment("2023-11-15T10:00:00"))
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False, "DATABASE_URL": url,
                      "CLOCK": clock, "EVIDENCE_DIR": tempfile.mkdtemp()})
    engine = app.extensions["chengxin_engine"]
    t0 = time.perf_counter()
    prepare_engine(engine, password=DEMO_PASSWORD)
    seed_real_clues(engine)
    copy_in_bulk(engine, clues)
    spread(engine)
    print(f"{label}: filled {clues:,} clues in {time.perf_counter() - t0:.0f} s")
    client = app.test_client()
    client.post("/auth/login", data={"username": "office", "password": DEMO_PASSWORD})
    client.get("/reports/dispatch/notice.docx")  # warm up: fonts, templates, statements
    downloads = [
        ("notice, whole campaign", "/reports/dispatch/notice.docx?start=2023-10-17&end=2023-11-15"),
        ("notice, one week", "/reports/dispatch/notice.docx?start=2023-11-06&end=2023-11-12"),
        ("year-end, city", "/reports/year-end/city.docx"),
        ("year-end, one unit", "/reports/year-end/unit/zengdu.docx"),
        ("year-end page", "/reports/year-end"),
    ]
    for name, path in downloads:
        p50, p95, response = timed(lambda: client.get(path), repeat)
        assert response.status_code == 200, (path, response.status_code)
        print(f"{label:<11} {name:<24} p50 {p50:7.0f} ms  p95 {p95:7.0f} ms  {len(response.data) / 1024:6.0f} KiB")
    start, end = date(2023, 10, 17), date(2023, 11, 15)
    p50, _, data = timed(lambda: engine.run(dispatch_notice.notice_data, "office", start, end), repeat)
    print(f"{label:<11} {'notice: figures only':<24} p50 {p50:7.0f} ms  (overdue {data['overdue']['total']:,}, "
          f"listed {data['listed']['total']:,}, capped at {dispatch_notice.LIST_LIMIT})")
    p50, _, _ = timed(lambda: dispatch_notice.render_notice(data), repeat)
    print(f"{label:<11} {'notice: document only':<24} p50 {p50:7.0f} ms  (4 charts, python-docx)")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clues", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run("SQLite", f"sqlite:///{tmp}/bench.sqlite3", args.clues, args.repeat)
    if args.skip_pg:
        return
    with postgresql_schema(args.pg, "bench") as url:
        run("PostgreSQL", url, args.clues, args.repeat)


if __name__ == "__main__":
    main()
