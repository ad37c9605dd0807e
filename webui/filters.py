"""Jinja filters shared by the templates."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask

from engine.clock import SHANGHAI


def localtime(value: str | datetime | None) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        return moment.isoformat()
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def merge_page(args: dict[str, Any], page: int) -> str:
    return urlencode({**args, "page": max(1, page)})


def init_app(app: Flask) -> None:
    app.add_template_filter(localtime)
    app.add_template_filter(merge_page)
