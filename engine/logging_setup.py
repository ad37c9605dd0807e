"""Structured logs for `chengxin worker` and `chengxin serve`: one JSON object per line on stderr.

Every line has `ts` (Beijing time with its +08:00 offset, ISO 8601 with milliseconds: the time
every page shows, and still one exact instant), `level`, `logger`, `msg` and `pid`;
whatever a call passes in `extra=` (`event`, `instance_id`, `advanced`, ...) is added as
fields, and a traceback goes in `exc`. Plain stdlib logging: `log.info("...", extra={...})`.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from typing import IO, Any

from .clock import SHANGHAI

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, SHANGHAI).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in payload:
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


def configure_logging(level: str | int = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """Send all logging to `stream` (stderr) as JSON lines; quiet the chattier libraries."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # SpiffWorkflow logs every task state change at INFO (five lines per timer firing); the
    # verified history already records what happened, so only its warnings and errors are kept.
    for noisy in ("apscheduler", "alembic", "spiff"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
