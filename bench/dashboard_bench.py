"""Server time of the dashboard and the ranking at 100,000 clues, on SQLite and PostgreSQL.

Fills the database with bench/webui_bench.py's builder (a few hundred clues walked through the
real engine, then copied in bulk), then prints p50/p95 server time (Flask test client, rendering
included) of: the dashboard page (overview, weekly trend, timeline), each /api/stats chart
request, the whole dashboard (page plus its six chart requests, added up), and the ranking page
for units and for groups — as the office (all clues) and as a work group (its own clues).
The covering indexes it once tried with --indexes are in the schema since migration 0011.
With --url it measures an already filled database instead (upgraded first), e.g. to compare
two versions of the code on the same data. "whole dashboard" adds up the server time of the
page and its six chart requests (the page's script fetches the charts concurrently). Each
block starts with the load average, since a busy machine inflates every figure.

Run: .venv/bin/python bench/dashboard_bench.py [--clues 100000] [--repeat 30] [--pg URL] [--skip-pg] [--skip-sqlite]
     .venv/bin/python bench/dashboard_bench.py --url URL [--repeat 30]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import webui_bench  # noqa: E402
from webui_bench import copy_in_bulk, seed_real_clues, summary  # noqa: E402

from engine.demo import DEMO_PASSWORD  # noqa: E402

BY = ("category", "source", "stage", "unit", "group", "light")


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float, list[float]]:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.status_code
    return summary(samples) + (samples,)


def measure(app: Any, label: str, repeat: int) -> None:
    for user in ("office", "group"):
        print(f"{label:<16} {user:<7} load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        client = app.test_client()
        client.post("/auth/login", data={"username": user, "password": DEMO_PASSWORD})
        client.get("/dashboard/")  # warm caches (templates, statements)
        p50, p95, _ = timed(lambda: client.get("/api/clues?per_page=1"), repeat)
        show(label, user, "baseline /api/clues 1 row", p50, p95)  # the ledger's count and one row, for scale
        page_p50, page_p95, page_samples = timed(lambda: client.get("/dashboard/"), repeat)
        show(label, user, "dashboard page", page_p50, page_p95)
        whole = list(page_samples)
        for by in BY:
            p50, p95, samples = timed(lambda: client.get(f"/api/stats?by={by}"), repeat)
            whole = [a + b for a, b in zip(whole, samples)]
            show(label, user, f"/api/stats?by={by}", p50, p95)
        show(label, user, "whole dashboard (7 calls)", *summary(whole))
        p50, p95, _ = timed(lambda: client.get("/api/stats?by=unit&category=arrears_public&overdue=1"), repeat)
        show(label, user, "/api/stats filtered", p50, p95)
        for level in ("unit", "group"):
            p50, p95, _ = timed(lambda: client.get(f"/dashboard/ranking?level={level}"), repeat)
            show(label, user, f"ranking {level}", p50, p95)


def show(label: str, user: str, what: str, p50: float, p95: float) -> None:
    print(f"{label:<16} {user:<7} {what:<26} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms", flush=True)


def run(label: str, url: str, clues: int, repeat: int, fill: bool = True) -> None:
    t0 = time.perf_counter()
    app, engine = webui_bench.bench_app(url, fill)
    if fill:
        seed_real_clues(engine)
        copy_in_bulk(engine, clues)
        # What autovacuum does after a bulk load (it is off on this machine's PostgreSQL): fresh
        # statistics, and on PostgreSQL a visibility map, without which no scan is index-only.
        # VACUUM cannot run in a transaction; SQLite's ANALYZE must (the engine's connections
        # always BEGIN, and closing one rolls back what was not committed).
        if engine.sql_engine.dialect.name == "postgresql":
            with engine.sql_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            with engine.transaction() as ctx:
                ctx.session.connection().exec_driver_sql("ANALYZE")
        print(f"{label}: filled {clues:,} clues in {time.perf_counter() - t0:.0f} s", flush=True)
    measure(app, label, repeat)
    engine.dispose()


def main() -> None:
    parser = webui_bench.database_arguments(argparse.ArgumentParser())
    parser.add_argument("--clues", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--url", help="measure this already filled database (no filling)")
    parser.add_argument("--seed-per-stage", type=int, default=webui_bench.SEED_PER_STAGE,
                        help="clues walked through the engine per stage before the bulk copy")
    args = parser.parse_args()
    webui_bench.SEED_PER_STAGE = args.seed_per_stage
    if args.url:
        run("SQLite" if args.url.startswith("sqlite") else "PostgreSQL", args.url, 0, args.repeat, fill=False)
        return
    webui_bench.on_each_database(args, lambda label, url: run(label, url, args.clues, args.repeat))


if __name__ == "__main__":
    main()
