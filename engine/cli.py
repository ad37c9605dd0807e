"""`chengxin` command line: JSON on stdout; exit 0 ok, 2 invalid data, 3 conflict,
4 forbidden, 1 anything else (including not found)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import money
from .clock import FixedClock, SystemClock, parse_moment
from .engine import Engine
from .timers import DEFAULT_INTERVAL
from .errors import Conflict, DefinitionRejected, EngineError, Forbidden, ValidationFailed
from .settings import EngineSettings, default_database_url

EXIT_CODES: list[tuple[type[EngineError], int]] = [
    (ValidationFailed, 2), (DefinitionRejected, 2), (Conflict, 3), (Forbidden, 4)]


def _json_arg(text: str) -> Any:
    try:
        return money.loads_exact(text)  # 1e3 or 12.345 as an amount is refused, not rounded
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"--data is not valid JSON: {exc}", {"": "JSON 格式错误"}) from exc


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chengxin", description="诚信政府建设专项行动 问题线索办理系统")
    parser.add_argument("--db", default=os.environ.get("CHENGXIN_DATABASE_URL") or default_database_url(),
                        help="database URL (default: a SQLite file; also CHENGXIN_DATABASE_URL)")
    parser.add_argument("--now", help="fix the clock for this command (ISO date or datetime; naive = Asia/Shanghai)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create or upgrade the schema and deploy processes/")
    demo = sub.add_parser("demo", help="init, then load Suizhou's units, demo users, a campaign and sample clues")
    demo.add_argument("--calendar", choices=["2023"], help="use the 2023 plan's own dates")
    sub.add_parser("users")
    deploy = sub.add_parser("deploy", help="deploy BPMN and DMN files as new versions")
    deploy.add_argument("files", nargs="+")
    deploy.add_argument("--as", dest="user", default="system")
    sub.add_parser("definitions")
    clue = sub.add_parser("clue").add_subparsers(dest="clue_command", required=True)
    add = clue.add_parser("add")
    add.add_argument("--as", dest="user", required=True)
    add.add_argument("--data", required=True)
    add.add_argument("--confirm-warnings", action="store_true", help="submit unusual values (a past deadline, more paid than owed) as they are")
    clue.add_parser("show").add_argument("clue_id", type=int)
    tasks = sub.add_parser("tasks")
    tasks.add_argument("--as", dest="user", required=True)
    tasks.add_argument("--clue", type=int)
    task = sub.add_parser("task").add_subparsers(dest="task_command", required=True)
    for name in ("show", "claim", "release"):
        cmd = task.add_parser(name)
        cmd.add_argument("task_id")
        cmd.add_argument("--as", dest="user", required=True)
    complete = sub.add_parser("complete")
    complete.add_argument("task_id")
    complete.add_argument("--as", dest="user", required=True)
    complete.add_argument("--data", default="{}")
    complete.add_argument("--confirm-warnings", action="store_true", help="submit unusual values (a past deadline, more paid than owed) as they are")
    token = sub.add_parser("token", help="API tokens").add_subparsers(dest="token_command", required=True)
    create = token.add_parser("create", help="make a bearer token for USER (printed once)")
    create.add_argument("username")
    create.add_argument("--name", default="cli")
    sub.add_parser("tick", help="fire due timers")
    worker = sub.add_parser("worker", help="run the timer scheduler until SIGTERM or Ctrl-C (JSON logs on stderr)")
    worker.add_argument("--interval", type=positive_float, default=DEFAULT_INTERVAL,
                        help=f"seconds between sweeps (default {DEFAULT_INTERVAL:g})")
    worker.add_argument("--batch", type=positive_int, default=None,
                        help="instances per batch within a sweep (default: every due instance in one batch)")
    worker.add_argument("--metrics-port", type=int, default=None,
                        help="serve Prometheus metrics of this worker on this port (default: none)")
    worker.add_argument("--metrics-host", default="127.0.0.1")
    worker.add_argument("--log-level", default=os.environ.get("CHENGXIN_LOG_LEVEL", "INFO"))
    backup = sub.add_parser("backup", help="copy the whole database to PATH (SQLite online backup; pg_dump -Fc)")
    backup.add_argument("path")
    restore = sub.add_parser("restore", help="restore a backup into the (fresh, empty) database of --db")
    restore.add_argument("path")
    sub.add_parser("history").add_argument("clue_id", type=int)
    sub.add_parser("verify-history")
    sub.add_parser("credit-backfill", help="one-off: credit records of spot-check failures and referrals made earlier")
    return parser


def _dispatch(engine: Engine, args: argparse.Namespace) -> tuple[Any, int]:
    from . import demo
    commands: dict[str, Callable[[], Any]] = {
        "init": lambda: demo.initialise(engine),
        "demo": lambda: demo.load_demo(engine, calendar=args.calendar),
        "users": engine.users,
        "deploy": lambda: engine.deploy([(os.path.basename(f), open(f, encoding="utf-8").read())
                                         for f in args.files], args.user),
        "definitions": engine.definitions,
        "tasks": lambda: engine.tasks(args.user, args.clue),
        "complete": lambda: engine.complete_task(args.task_id, args.user, _json_arg(args.data),
                                                 args.confirm_warnings),
        "tick": lambda: {"advanced": engine.fire_due_timers()},
        "history": lambda: engine.clue_history(args.clue_id),
    }
    if args.command == "clue":
        if args.clue_command == "add":
            return engine.add_clue(args.user, _json_arg(args.data), args.confirm_warnings), 0
        return engine.show_clue(args.clue_id), 0
    if args.command == "task":
        action = {"show": engine.show_task, "claim": engine.claim_task, "release": engine.release_task}
        return action[args.task_command](args.task_id, args.user), 0
    if args.command == "token":
        from . import accounts
        return engine.run(accounts.create_token, args.username, args.name), 0
    if args.command == "worker":
        return _worker(engine, args), 0
    if args.command in ("backup", "restore"):
        from . import backup
        if args.command == "backup":
            return backup.backup(args.db, args.path), 0
        return backup.restore(args.db, args.path), 0
    if args.command == "credit-backfill":
        from .credit import backfill
        return {"added": engine.run(backfill)}, 0
    if args.command == "verify-history":
        result = engine.verify_history()
        return result, 0 if result["intact"] else 1
    return commands[args.command](), 0


def _worker(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from .logging_setup import configure_logging
    from .scheduler import periodic_jobs, run_worker
    configure_logging(args.log_level)
    if args.metrics_port is not None:
        from prometheus_client import REGISTRY, start_http_server

        from .metrics import EngineCollector
        REGISTRY.register(EngineCollector(engine))
        start_http_server(args.metrics_port, addr=args.metrics_host)
    return run_worker(engine, args.interval, args.batch, jobs=periodic_jobs(engine))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        clock = FixedClock(parse_moment(args.now)) if args.now else SystemClock()
        engine = Engine(EngineSettings(database_url=args.db), clock)
    except ValueError as exc:
        return _emit({"error": "invalid", "message": str(exc)}, 2)
    try:
        result, code = _dispatch(engine, args)
        return _emit(result, code)
    except EngineError as exc:
        code = next((c for cls, c in EXIT_CODES if isinstance(exc, cls)), 1)
        return _emit(exc.to_dict(), code)
    except Exception as exc:  # noqa: BLE001 - the CLI answers in JSON, never with a traceback
        return _emit({"error": "internal", "message": f"{type(exc).__name__}: {exc}"}, 1)
    finally:
        engine.dispose()


def _emit(payload: Any, code: int) -> int:
    json.dump(payload, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
