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
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webui_bench import (bench_app, copy_in_bulk, database_arguments, on_each_database,  # noqa: E402
                         seed_real_clues, summary)

from engine import dispatch_notice  # noqa: E402
from engine.demo import DEMO_PASSWORD  # noqa: E402


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
    t0 = time.perf_counter()
    app, engine = bench_app(url)
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
    parser = database_arguments(argparse.ArgumentParser())
    parser.add_argument("--clues", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    on_each_database(args, lambda label, url: run(label, url, args.clues, args.repeat))


if __name__ == "__main__":
    main()
