"""The security audit (等保 2.0): who signed in, was refused, changed an account or took data away.

Rows are written in the caller's transaction. Refusals are counted, not listed: one row per
(actor, kind, route) and minute with a `count`, so that a script hammering a forbidden page
cannot bury the log (the assessment found 9,419 rows of 403s).
"""
from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from .context import Context
from .db.models import SecurityEvent

# At most this many distinct paths are kept on one counted row: enough to see what was tried.
COUNTED_PATHS = 10


def record(ctx: Context, actor: str, kind: str, target: str | None = None, remote_addr: str | None = None,
           **detail: Any) -> None:
    """Record a security-relevant event in the caller's transaction."""
    ctx.session.add(SecurityEvent(at=ctx.now, actor=actor, kind=kind, target=target, remote_addr=remote_addr,
                                  detail=detail or None))


def record_counted(ctx: Context, actor: str, kind: str, target: str, remote_addr: str | None = None,
                   path: str | None = None, **detail: Any) -> None:
    """Count an event on this minute's row for (actor, kind, target), adding one if there is none.

    Two processes counting the first event of a minute at once may each add a row; that is two
    rows, not thousands.
    """
    minute = ctx.now.replace(second=0, microsecond=0)
    query = select(SecurityEvent).where(
        SecurityEvent.actor == actor, SecurityEvent.kind == kind, SecurityEvent.target == target,
        SecurityEvent.at >= minute, SecurityEvent.at < minute + timedelta(minutes=1),
    ).order_by(SecurityEvent.id).limit(1).with_for_update()
    row = ctx.session.scalar(query)
    if row is None:
        record(ctx, actor, kind, target, remote_addr, **detail, count=1, paths=[path] if path else [])
        return
    counted = dict(row.detail or {})  # a new dict: the JSON column only notices reassignment
    counted.update(detail)
    counted["count"] = int(counted.get("count", 1)) + 1
    paths = list(counted.get("paths") or [])
    if path and path not in paths and len(paths) < COUNTED_PATHS:
        paths.append(path)
    counted["paths"] = paths
    if remote_addr and row.remote_addr != remote_addr:
        counted["other_addresses"] = True
    row.detail = counted


def record_refusal(ctx: Context, actor: str, route: str, path: str, remote_addr: str | None = None,
                   method: str | None = None, reason: str | None = None) -> None:
    """A request refused with 403, counted per (actor, route) and minute."""
    record_counted(ctx, actor, "refused", route, remote_addr, path=path, method=method, reason=reason)


def record_download(ctx: Context, actor: str, what: str, target: str | None = None, filters: Any = None,
                    **detail: Any) -> None:
    """Someone took data out of the system: an export, a document or a file (`what` names which);
    `filters` (a query dataclass or a dict) says which rows."""
    if filters is not None:
        detail["filters"] = _filters(filters)
    record(ctx, actor, "download", target, None, what=what, **{k: v for k, v in detail.items() if v not in (None, {})})


def _filters(query: Any) -> dict[str, str]:
    values = dataclasses.asdict(query) if dataclasses.is_dataclass(query) else dict(query)
    return {k: str(v) for k, v in values.items() if v not in (None, "") and k not in ("page", "per_page")}
