"""Jinja filters shared by the templates."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Flask, g

from engine import vocabulary
from engine.clock import SHANGHAI
from engine.money import of as money_of

from .db import engine


def localtime(value: str | datetime | None) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        return moment.isoformat()
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def due_day(value: str | datetime | None) -> str:
    """A deadline shown as the day it falls on: due at 00:00 means the end of the day before."""
    if not value:
        return ""
    moment = (datetime.fromisoformat(value) if isinstance(value, str) else value).astimezone(SHANGHAI)
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        moment -= timedelta(seconds=1)
    return moment.strftime("%Y-%m-%d")


def money(value: Any) -> str:
    return "" if value is None else f"{money_of(value):,.2f}"


def merge_page(args: dict[str, Any], page: int) -> str:
    return urlencode({**args, "page": max(1, page)})


def directory() -> dict[str, Any]:
    """The org directory's names and lists, read once per request (a few dozen rows)."""
    if "org_directory" not in g:
        g.org_directory = engine().run(vocabulary.directory)
    return g.org_directory  # type: ignore[no-any-return]


def org_name(code: str | None) -> str:
    """A unit or work-group code as its name in the directory."""
    return "" if not code else directory()["names"].get(code, code)


def init_app(app: Flask) -> None:
    app.add_template_global(vocabulary.label, "label")
    app.add_template_global(directory)
    app.add_template_filter(org_name)
    app.add_template_filter(vocabulary.yes_no, "yes_no")
    app.add_template_filter(localtime)
    app.add_template_filter(due_day)
    app.add_template_filter(money)
    app.add_template_filter(merge_page)
