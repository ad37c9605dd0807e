"""`chengxin` entry point: the engine's commands plus `serve` (the engine may not import the web UI)."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from engine import cli as engine_cli
from engine.timers import DEFAULT_INTERVAL

log = logging.getLogger("chengxin.serve")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "serve" not in argv:
        return engine_cli.main(argv)
    parser = argparse.ArgumentParser(prog="chengxin serve", description="run the web UI and the timer scheduler")
    parser.add_argument("--db", default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--no-scheduler", action="store_true", help="when `chengxin worker` runs elsewhere")
    parser.add_argument("--sweep-interval", type=engine_cli.positive_float, default=DEFAULT_INTERVAL,
                        help=f"seconds between timer sweeps of the in-process scheduler (default {DEFAULT_INTERVAL:g})")
    parser.add_argument("--batch", type=engine_cli.positive_int, default=None,
                        help="instances per batch within a sweep (default: all due at once)")
    parser.add_argument("--log-level", default=os.environ.get("CHENGXIN_LOG_LEVEL", "INFO"))
    args = parser.parse_args([a for a in argv if a != "serve"])
    from waitress import serve

    from engine.logging_setup import configure_logging
    from engine.scheduler import periodic_jobs, start_in_background

    from . import create_app
    configure_logging(args.log_level)
    app = create_app({"DATABASE_URL": args.db} if args.db else None)
    stop = threading.Event()
    scheduler = None
    if not args.no_scheduler:
        web_engine = app.extensions["chengxin_engine"]
        scheduler = start_in_background(web_engine, args.sweep_interval, args.batch, stop,
                                        jobs=periodic_jobs(web_engine))
        app.extensions["chengxin_scheduler"] = scheduler

    def on_sigterm(_signum: int, _frame: Any) -> None:
        # waitress stops on SystemExit; the sweep then ends after the instance in hand.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    log.info("serving", extra={"event": "serve_started", "host": args.host, "port": args.port,
                               "scheduler": scheduler is not None, "sweep_interval": args.sweep_interval})
    try:
        serve(app, host=args.host, port=args.port, threads=args.threads)
    finally:
        stop.set()
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        log.info("stopped", extra={"event": "serve_stopped"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
