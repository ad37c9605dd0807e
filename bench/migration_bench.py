"""Cost of moving instances between process versions (engine/version_migration.py).

Seeds real clue instances in every stage with bench/webui_bench.py's builder, deploys version 2
of the clue process (triage retitled: every unfinished instance can move), then times the dry
run over all unfinished instances, the batch migration (one transaction per instance) and the
undo of every move, on SQLite and PostgreSQL.

Run: .venv/bin/python bench/migration_bench.py [--per-stage 40] [--pg URL] [--skip-pg]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import webui_bench  # noqa: E402

from engine import Engine, EngineSettings  # noqa: E402
from engine import version_migration as vm  # noqa: E402
from engine.clock import FixedClock, parse_moment  # noqa: E402
from engine.db.session import make_sql_engine  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from tests.factories import postgresql_schema, prepare_engine  # noqa: E402

PROCESSES = Path(__file__).resolve().parent.parent / "processes"


def run(label: str, url: str, per_stage: int) -> None:
    sql = make_sql_engine(url)
    upgrade(sql)
    sql.dispose()
    engine = Engine(EngineSettings(database_url=url), FixedClock(parse_moment("2023-10-17T09:00:00")))
    prepare_engine(engine)
    webui_bench.SEED_PER_STAGE = per_stage
    webui_bench.seed_real_clues(engine)
    bpmn = (PROCESSES / "clue_handling.bpmn").read_text(encoding="utf-8").replace('name="分析研判"', 'name="分析研判（二版）"')
    engine.deploy([("clue_handling.bpmn", bpmn), ("triage_routing.dmn", (PROCESSES / "triage_routing.dmn").read_text())])
    t0 = time.perf_counter()
    dry = engine.run(vm.dry_run, "designer", "clue_handling", 1, 2)
    dry_s = time.perf_counter() - t0
    ids = [i["instance_id"] for i in dry["items"] if i["can_move"]]
    t0 = time.perf_counter()
    result = vm.migrate_many(engine.run, "designer", ids, 2)
    move_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for moved in result["moved"]:
        engine.run(vm.undo_migration, "designer", moved["id"])
    undo_s = time.perf_counter() - t0
    n = len(dry["items"])
    print(f"{label:<11} dry run {n} instances: {dry_s * 1000:7.0f} ms ({dry_s * 1000 / max(n, 1):.2f} ms each); "
          f"migrate {len(result['moved'])}: {move_s * 1000:7.0f} ms ({move_s * 1000 / max(len(ids), 1):.2f} ms each); "
          f"undo: {undo_s * 1000 / max(len(ids), 1):.2f} ms each; refused {len(result['refused'])}; "
          f"history intact: {engine.verify_history()['intact']}")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-stage", type=int, default=40)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/bench.sqlite3", args.per_stage)
    if not args.skip_pg:
        with postgresql_schema(args.pg, "bench") as url:
            run("PostgreSQL", url, args.per_stage)


if __name__ == "__main__":
    main()
