"""Engine cost against SpiffWorkflow's own, for the full close path of a clue.

Prints, for SQLite and PostgreSQL in one run:
- raw SpiffWorkflow in memory (same diagram, same restricted script engine): lifecycles/s
  and ms per task completion;
- the engine with persistence (a transaction per operation: load, run, projections,
  hash-chained history, save): the same figures and the ratio;
- the cost of one completion after 0 and after 10 send-backs.

Run: .venv/bin/python bench/engine_bench.py [--lifecycles N] [--pg URL]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from engine import Engine, EngineSettings, FixedClock  # noqa: E402
from engine.campaigns import plan_2023, process_variables  # noqa: E402
from engine.clock import clock_active, install_spiff_clock, parse_moment  # noqa: E402
from engine.db.models import Campaign  # noqa: E402
from engine.db.session import make_sql_engine  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from engine.scripts import make_script_engine  # noqa: E402
from engine.settings import PACKAGE_ROOT  # noqa: E402
from tests.factories import postgresql_schema, INTAKE, prepare_engine  # noqa: E402

TRIAGE = {"accepted": True, "category": "arrears_public", "level": "city", "key_problem": False}
ASSIGN = {"responsible_unit": "zengdu", "deadline": "2023-11-20"}
PLAN = {"measures": "分期支付", "plan_deadline": "2023-11-15", "responsible_leader": "局长",
        "responsible_person": "张伟", "contact_phone": "13800000001"}
REPORT = {"amount_paid": 1000.0, "feedback": "已支付", "completed_on": "2023-11-10"}
APPROVE = {"approved": True, "opinion": "同意"}
SEND_BACK = {"approved": False, "opinion": "退回", "new_deadline": None}
CLOSE_PATH = [("Task_triage", "office", TRIAGE), ("Task_assign", "group", ASSIGN), ("Task_plan", "unit", PLAN),
              ("Task_report", "unit", REPORT), ("Task_review", "office", APPROVE)]


def clue_spec() -> tuple[Any, Any]:
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(PACKAGE_ROOT / "processes/clue_handling.bpmn"))
    parser.add_dmn_file(str(PACKAGE_ROOT / "processes/triage_routing.dmn"))
    return parser.get_spec("clue_handling"), parser.get_subprocess_specs("clue_handling")


def raw_spiff(lifecycles: int) -> dict[str, float]:
    install_spiff_clock()
    spec, subs = clue_spec()
    clock = FixedClock(parse_moment("2023-10-17T09:00:00"))
    script_engine = make_script_engine(clock, 1.0)
    campaign = Campaign(id=1, spot_check_rate=0.0, max_sendbacks=5, **plan_2023())
    variables = {**{k: v for k, v in INTAKE.items()}, **process_variables(campaign), "clue_id": 1}
    per_task: list[float] = []
    with clock_active(clock):
        started = time.perf_counter()
        for _ in range(lifecycles):
            _raw_lifecycle(spec, subs, script_engine, variables, per_task)
        elapsed = time.perf_counter() - started
    return {"lifecycles_per_s": lifecycles / elapsed, "ms_per_completion": statistics.median(per_task) * 1000}


def _raw_lifecycle(spec: Any, subs: Any, script_engine: Any, variables: dict[str, Any], per_task: list[float]) -> None:
    if True:
        wf = BpmnWorkflow(spec, subs, script_engine=script_engine)
        wf.task_tree.data.update(variables)
        wf.do_engine_steps()
        for name, _user, data in CLOSE_PATH:
            t0 = time.perf_counter()
            task = wf.get_next_task(state=TaskState.READY, spec_name=name)
            task.data.update(data)
            task.run()
            wf.refresh_timers()
            wf.do_engine_steps()
            per_task.append(time.perf_counter() - t0)
        assert wf.is_completed()


def raw_after_sendbacks(sendbacks: int, samples: int = 15) -> tuple[float, float]:
    """SpiffWorkflow's own growth: (in-memory ms, with state-only dump+load ms) for one review."""
    from engine.serializer import dump_workflow, load_workflow
    spec, subs = clue_spec()
    clock = FixedClock(parse_moment("2023-10-17T09:00:00"))
    script_engine = make_script_engine(clock, 1.0)
    campaign = Campaign(id=1, spot_check_rate=0.0, max_sendbacks=50, **plan_2023())
    memory, persisted = [], []
    with clock_active(clock):
        for _ in range(samples):
            wf = BpmnWorkflow(spec, subs, script_engine=script_engine)
            wf.task_tree.data.update({**INTAKE, **process_variables(campaign), "clue_id": 1})
            wf.do_engine_steps()
            steps = CLOSE_PATH[:-1] + [("Task_review", "office", SEND_BACK), ("Task_report", "unit", REPORT)] * sendbacks
            for name, _user, data in steps:
                task = wf.get_next_task(state=TaskState.READY, spec_name=name)
                task.data.update(data)
                task.run()
                wf.refresh_timers()
                wf.do_engine_steps()
            state = dump_workflow(wf)
            t0 = time.perf_counter()
            wf = load_workflow(state, spec, subs)
            wf.script_engine = script_engine
            t1 = time.perf_counter()
            task = wf.get_next_task(state=TaskState.READY, spec_name="Task_review")
            task.data.update(SEND_BACK)
            task.run()
            wf.refresh_timers()
            wf.do_engine_steps()
            t2 = time.perf_counter()
            dump_workflow(wf)
            t3 = time.perf_counter()
            memory.append(t2 - t1)
            persisted.append(t3 - t0)
    return statistics.median(memory) * 1000, statistics.median(persisted) * 1000


def durable(engine: Engine, lifecycles: int) -> dict[str, float]:
    per_task: list[float] = []
    total = 0.0
    for _ in range(lifecycles):
        t0 = time.perf_counter()
        created = engine.add_clue("office", INTAKE)
        total += time.perf_counter() - t0
        task_id = engine.tasks("office", created["clue_id"])["items"][0]["id"]
        for name, user, data in CLOSE_PATH:
            t0 = time.perf_counter()
            result = engine.complete_task(task_id, user, data)
            spent = time.perf_counter() - t0
            per_task.append(spent)
            total += spent
            task_id = result["next_tasks"][0]["id"] if result["next_tasks"] else ""
        assert result["status"] == "completed", result
    return {"lifecycles_per_s": lifecycles / total, "ms_per_completion": statistics.median(per_task) * 1000}


def after_sendbacks(engine: Engine, sendbacks: int, clues: int) -> float:
    """Median ms of completing the review task after `sendbacks` earlier send-backs."""
    samples = []
    for _ in range(clues):
        created = engine.add_clue("office", INTAKE)
        task_id = engine.tasks("office", created["clue_id"])["items"][0]["id"]
        for name, user, data in CLOSE_PATH[:-1]:
            task_id = engine.complete_task(task_id, user, data)["next_tasks"][0]["id"]
        for _ in range(sendbacks):
            task_id = engine.complete_task(task_id, "office", SEND_BACK)["next_tasks"][0]["id"]
            task_id = engine.complete_task(task_id, "unit", REPORT)["next_tasks"][0]["id"]
        t0 = time.perf_counter()
        engine.complete_task(task_id, "office", SEND_BACK)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def make_engine(url: str) -> Engine:
    sql = make_sql_engine(url)
    upgrade(sql)
    sql.dispose()
    engine = Engine(EngineSettings(database_url=url), FixedClock(parse_moment("2023-10-17T09:00:00")))
    prepare_engine(engine, spot_check_rate=0.0, max_sendbacks=50)
    return engine


def run(label: str, url: str, lifecycles: int, raw: dict[str, float]) -> None:
    engine = make_engine(url)
    try:
        durable(engine, 20)  # warm the spec cache and the connection pool
        result = durable(engine, lifecycles)
        zero = after_sendbacks(engine, 0, 15)
        ten = after_sendbacks(engine, 10, 15)
    finally:
        engine.dispose()
    ratio = result["ms_per_completion"] / raw["ms_per_completion"]
    print(f"{label:<11} engine+persistence  {result['lifecycles_per_s']:8.1f} lifecycles/s  "
          f"{result['ms_per_completion']:6.2f} ms/completion  ratio to in-memory {ratio:5.1f}x")
    print(f"{label:<11} completion after  0 send-backs {zero:6.2f} ms, after 10 send-backs {ten:6.2f} ms "
          f"(x{ten / zero:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lifecycles", type=int, default=200)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    raw_spiff(20)
    raw = raw_spiff(args.lifecycles)
    print(f"close path = intake + {len(CLOSE_PATH)} completions; {args.lifecycles} lifecycles; medians")
    print(f"{'in-memory':<11} raw SpiffWorkflow    {raw['lifecycles_per_s']:8.1f} lifecycles/s  "
          f"{raw['ms_per_completion']:6.2f} ms/completion")
    for k in (0, 10):
        memory, persisted = raw_after_sendbacks(k)
        print(f"{'in-memory':<11} review after {k:2d} send-backs: step {memory:6.2f} ms; "
              f"with state-only load+save {persisted:6.2f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/bench.sqlite3", args.lifecycles, raw)
    with postgresql_schema(args.pg, "bench") as url:
        run("PostgreSQL", url, args.lifecycles, raw)


if __name__ == "__main__":
    main()
