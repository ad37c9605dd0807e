"""排名: responsible units and work groups ranked by how they handle their clues.

Per unit (the clue's responsible unit) or group (its leading work group), over the clues the
user may see, optionally only those registered between `start` and `end` (Asia/Shanghai days):

- clues: all of them; closed: 销号 (stage closed);
- on_time_rate: closed on or before the deadline day ÷ clues that fell due (closed, or open
  and past the deadline); None when none fell due;
- overdue: open and past the deadline day (the ledger's overdue=1);
- avg_days_to_close: mean days from registration to 销号 of the closed ones; None without any;
- sendbacks: send-backs (退回重新整改, counted by the process in `clue.sendback_count`: by the
  reviewer and after a failed spot check);
- spot_check_failures: spot checks (Task_spot_check completed) whose result was not genuine
  (真改实改), counted over the history, since a clue may be checked more than once.

Each is one aggregate query; ranks follow on-time rate (higher first), then overdue (fewer),
then average days (fewer); equal keys share a rank.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, select
from sqlalchemy.orm import Session

from . import access, lights
from .clues import OPEN_STAGES
from .context import Context
from .db.models import Clue, InstanceEvent
from .db.session import is_postgresql
from .errors import ValidationFailed
from .stats import local_day, names, on_dashboard_index, query_of, require_dashboard
from .ledger import _where

LEVELS = {"unit": Clue.responsible_unit, "group": Clue.work_group}
SPOT_CHECK_TASK = "Task_spot_check"
GENUINE = "genuine"


def _days_to_close(session: Session) -> ColumnElement[Any]:
    if is_postgresql(session):
        return func.extract("epoch", Clue.closed_at - Clue.created_at) / 86400.0
    return func.julianday(Clue.closed_at) - func.julianday(Clue.created_at)


def _filters(start: date | None, end: date | None) -> dict[str, Any]:
    if start is not None and end is not None and start > end:
        raise ValidationFailed("start is after end", {"end": "结束日期早于开始日期"})
    return {k: v for k, v in (("registered_from", start), ("registered_to", end)) if v is not None}


def ranking(ctx: Context, username: str, level: str, start: date | None = None,
            end: date | None = None) -> list[dict[str, Any]]:
    """The ranking of units or groups (see the module's docstring), best first.

    :raises ValidationFailed: an unknown level, start after end.
    """
    if level not in LEVELS:
        raise ValidationFailed("level must be unit or group", {"level": "应为 unit 或 group"})
    column = LEVELS[level]
    user = access.get_user(ctx.session, username)
    where = [*_where(user, query_of(_filters(start, end)), ctx.now), column.is_not(None)]
    now = ctx.now
    closed = Clue.stage == "closed"
    overdue = Clue.stage.in_(OPEN_STAGES) & lights.clue_overdue(now)
    on_time = closed & (Clue.deadline.is_(None) | (local_day(ctx.session, Clue.closed_at) <= Clue.deadline))
    key = column.label("code")
    rows = ctx.session.execute(on_dashboard_index(select(
        key, func.count(),
        func.count().filter(closed),
        func.count().filter(on_time),
        func.count().filter(overdue),
        func.avg(_days_to_close(ctx.session)).filter(closed),
        func.sum(Clue.sendback_count),
    ).where(*where).group_by(key), user, level)).all()
    failed = _spot_check_failures(ctx, column, where)
    labels = names(ctx.session, level)
    result = []
    for code, clues, n_closed, n_on_time, n_overdue, avg_days, sendbacks in rows:
        n_closed, n_overdue = int(n_closed or 0), int(n_overdue or 0)
        fell_due = n_closed + n_overdue
        result.append({
            "code": code, "name": labels.get(code, code), "clues": int(clues), "closed": n_closed,
            "on_time": int(n_on_time or 0),
            "on_time_rate": round(int(n_on_time or 0) / fell_due, 4) if fell_due else None,
            "overdue": n_overdue,
            "avg_days_to_close": round(float(avg_days), 1) if avg_days is not None else None,
            "sendbacks": int(sendbacks or 0), "spot_check_failures": failed.get(code, 0),
        })
    result.sort(key=_order)
    rank, previous = 0, None
    for position, row in enumerate(result, start=1):
        if _order(row)[:3] != previous:
            rank, previous = position, _order(row)[:3]
        row["rank"] = rank
    return result


def _order(row: dict[str, Any]) -> tuple[Any, ...]:
    rate = row["on_time_rate"]
    days = row["avg_days_to_close"]
    return (rate is None, -(rate or 0.0), row["overdue"], days is None, days or 0.0, row["code"])


def _spot_check_failures(ctx: Context, column: Any, where: list[ColumnElement[bool]]) -> dict[str, int]:
    """Failed spot checks per unit or group: the failures per instance (a derived table over the
    few completed spot checks) joined to the clue. Joined this way round, both databases start
    from the events; a plain join let SQLite walk every clue in scope and probe instance_event
    for each (~200 ms at 100k clues)."""
    result = cast(InstanceEvent.data["result"].as_string(), String)
    failures = (select(InstanceEvent.instance_id, func.count().label("n"))
                .where(InstanceEvent.kind == "task_completed", InstanceEvent.element_id == SPOT_CHECK_TASK,
                       result != GENUINE)
                .group_by(InstanceEvent.instance_id).subquery("failures"))
    rows = ctx.session.execute(
        select(column, func.sum(failures.c.n))
        .select_from(failures)
        .join(Clue, Clue.instance_id == failures.c.instance_id)
        .where(*where)
        .group_by(column)).all()
    return {code: int(n) for code, n in rows}


def ranking_page(ctx: Context, username: str, level: str, start: date | None = None,
                 end: date | None = None) -> dict[str, Any]:
    """The ranking page: both levels' tables are not needed at once, one level at a time.

    :raises Forbidden: a role without the dashboard.
    """
    require_dashboard(access.get_user(ctx.session, username))
    return {"level": level, "start": start.isoformat() if start else None, "end": end.isoformat() if end else None,
            "items": ranking(ctx, username, level, start, end)}
