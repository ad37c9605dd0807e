"""`chengxin` entry point: the engine's commands plus `serve` (the engine may not import the web UI)."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from engine import cli as engine_cli


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
    args = parser.parse_args([a for a in argv if a != "serve"])
    from waitress import serve

    from engine.scheduler import start_in_background

    from . import create_app
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    app = create_app({"DATABASE_URL": args.db} if args.db else None)
    scheduler = None if args.no_scheduler else start_in_background(app.extensions["chengxin_engine"])
    try:
        serve(app, host=args.host, port=args.port, threads=args.threads)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
