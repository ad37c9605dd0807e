"""The app's engine: views call `engine().run(function, ...)`, one transaction per call."""
from __future__ import annotations

from flask import current_app

from engine import Engine


def engine() -> Engine:
    return current_app.extensions["chengxin_engine"]
