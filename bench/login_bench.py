"""Sign-in answer times for a real account and an unknown name, wrong password and blocked.

    .venv/bin/python bench/login_bench.py [--rounds N]

Prints the median milliseconds of each case on a fresh SQLite database: the four should pair up
(real = unknown), so that timing does not tell which names exist (issue 18 item 10).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import Engine, EngineSettings, accounts  # noqa: E402
from engine.migrate import upgrade  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as folder:
        engine = Engine(EngineSettings(database_url=f"sqlite:///{folder}/bench.sqlite3"))
        upgrade(engine.sql_engine)
        engine.create_users([("office", "综合办公室", "office", None, None)], password="Chengxin#2023")
        results: dict[str, list[float]] = {}
        for n in range(rounds):
            for case, name in (("real, wrong password", "office"), ("unknown name", f"nobody{n}")):
                for attempt in range(6):  # five counted failures, then one blocked attempt
                    label = f"{case}{', blocked' if attempt == 5 else ''}"
                    started = time.perf_counter()
                    engine.run(lambda ctx: accounts.authenticate(ctx, name, "Wrong#Guess2023", f"10.1.{n}.1"))
                    results.setdefault(label, []).append((time.perf_counter() - started) * 1000)
        for label, times in results.items():
            print(f"{label:32s} median {statistics.median(times):7.1f} ms  (n={len(times)})")
        engine.dispose()


if __name__ == "__main__":
    main()
