"""Cost of the designer's pages and operations (engine/designer.py, webui/designer.py).

Seeds real clue instances with bench/webui_bench.py's builder, copies process_instance rows in
bulk (with a placeholder state: the listing never reads it) until there are --instances of them
spread over two versions of the clue process, then prints p50/p95 server time of the
definitions page (its one GROUP BY over process_instance), a version page, the diff page, the
modeler page, and the engine time of validating and of diffing the clue process, on SQLite and
PostgreSQL.

Run: .venv/bin/python bench/designer_bench.py [--instances 100000] [--pg URL] [--skip-pg]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import webui_bench  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from engine import designer  # noqa: E402
from engine.db.models import ProcessInstance  # noqa: E402
from engine.demo import DEMO_PASSWORD  # noqa: E402

PROCESSES = Path(__file__).resolve().parent.parent / "processes"


def copy_instances(engine: object, target: int) -> None:
    """Duplicate instance rows (placeholder state) until `target` instances exist."""
    with engine.transaction() as ctx:  # type: ignore[attr-defined]
        session = ctx.session
        columns = [c for c in ProcessInstance.__table__.columns if c.key != "id"]
        templates = session.execute(select(*columns)).all()
        count = session.scalar(select(func.count()).select_from(ProcessInstance))
        batch = []
        while count < target:
            for row in templates:
                if count >= target:
                    break
                values = {c.key: getattr(row, c.key) for c in columns}
                values.update(state="{}", business_key=None, history_head=None)
                batch.append(values)
                count += 1
                if len(batch) >= 5000:
                    session.execute(insert(ProcessInstance), batch)
                    batch = []
        if batch:
            session.execute(insert(ProcessInstance), batch)


def run(label: str, url: str, instances: int, repeat: int) -> None:
    t0 = time.perf_counter()
    app, engine = webui_bench.bench_app(url)
    webui_bench.SEED_PER_STAGE = 10
    webui_bench.seed_real_clues(engine)
    bpmn = (PROCESSES / "clue_handling.bpmn").read_text(encoding="utf-8")
    changed = bpmn.replace(">accepted == True<", ">accepted == True and amount_owed &gt;= 0<")
    engine.run(designer.deploy_edit, "designer", ("clue_handling", 1), "clue_handling.bpmn", changed)
    webui_bench.seed_real_clues(engine)  # the same again, on version 2
    copy_instances(engine, instances)
    if url.startswith("postgresql"):
        # What autovacuum does on a live database: statistics and the visibility map, so the
        # count can be an index-only scan.
        with engine.sql_engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE process_instance")
    print(f"{label}: filled {instances:,} instances in {time.perf_counter() - t0:.0f} s")
    client = app.test_client()
    client.post("/auth/login", data={"username": "designer", "password": DEMO_PASSWORD})
    pages = [
        ("definitions page", lambda: client.get("/designer/")),
        ("version page", lambda: client.get("/designer/processes/clue_handling/2")),
        ("diff page", lambda: client.get("/designer/processes/clue_handling/diff?old=1&new=2")),
        ("modeler page", lambda: client.get("/designer/processes/clue_handling/2/edit")),
        ("validate (JSON)", lambda: client.post("/designer/processes/clue_handling/2/validate",
                                                json={"filename": "clue_handling.bpmn", "xml": changed})),
        ("diff_xml alone", lambda: designer.diff_xml(bpmn, changed)),
    ]
    for name, call in pages:
        p50, p95 = webui_bench.timed(call, repeat)
        print(f"{label:<11} {name:<18} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
    engine.dispose()


def main() -> None:
    parser = webui_bench.database_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    webui_bench.on_each_database(args, lambda label, url: run(label, url, args.instances, args.repeat))


if __name__ == "__main__":
    main()
