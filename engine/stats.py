"""The figures the office runs the campaign from (数据看板): counts and money per key, the
overview, the weekly trend and the phase timeline.

Every figure is one aggregate query (GROUP BY in the database) over the same WHERE clause the
ledger uses (`ledger._where`: the user's visibility scope plus the ledger's filters), so a
figure and the ledger filtered the same way always agree, and a chart segment drills down to
`/ledger/?<filters>&<by>=<key>`.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Date, Integer, Select, and_, case, cast, func, literal, literal_column, or_, select, text
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.orm import Session

from . import access, lights, money
from .campaigns import current_campaign
from .clock import SHANGHAI
from .clues import OPEN_STAGES
from .context import Context
from .db.models import Clue, OrgUnit, Role, User, WorkGroup
from .db.stats_models import MONEY_INDEXES
from .db.session import is_postgresql
from .errors import NotFound, ValidationFailed
from .ledger import LABELS, LedgerQuery, _where

BY = ("category", "source", "stage", "unit", "group", "light")
# Who may open the dashboard and ranking pages (a group sees its own group's clues only);
# /api/stats answers every signed-in user, scoped like the ledger.
DASHBOARD_ROLES = (Role.office, Role.supervisor, Role.group, Role.discipline, Role.admin)
DEFAULT_WEEKS = 12
OFFICE_NAME = "综合办公室"
NOT_SET = "未填写"
PHASE_NAMES = {"investigation": "摸底排查", "rectification": "集中整改", "spot_check": "实地督查", "summary": "总结提升"}


# --- shared pieces -----------------------------------------------------------------------------

# Two narrow covering indexes (migration 0011, declared in engine.db.report_models) hold every
# column a figure, the overview, the trend or the ranking reads, one led by the work group and
# one by the responsible unit, so each aggregate reads ~120 bytes an entry instead of ~1 KB
# clue rows, and a group's or a unit's clues are one range of its index.
GROUP_INDEX = "ix_clue_dashboard_group"
UNIT_INDEX = "ix_clue_dashboard_unit"

# SQLAlchemy renders FROM hints for a few dialects only; SQLite's is `INDEXED BY <index>` after
# the table name. Only statements that ask for a "sqlite" hint (this module's) are affected.
if SQLiteCompiler.get_from_hint_text.__qualname__.startswith("SQLCompiler."):
    SQLiteCompiler.get_from_hint_text = lambda self, table, text: text  # type: ignore[method-assign]


def on_dashboard_index(statement: Select[Any], user: User, by: str | None = None) -> Select[Any]:
    """`statement` (an aggregate over clue) made to read the covering index that fits the
    user's scope on SQLite.

    Why force it: given the choice, SQLite's planner takes an index led by a GROUP BY key
    (ix_clue_category_money …) to skip a sort, or an index on a filter column (deadline <),
    and then fetches each wide clue row (2–4× slower), or scans the table. With the covering index a
    figure costs at most one scan of that index, whatever the filters. PostgreSQL plans well
    on its own (no hint).
    """
    if user.role in (Role.group, Role.spotcheck):
        name = GROUP_INDEX
    elif user.role == Role.unit:
        name = UNIT_INDEX
    else:
        name = GROUP_INDEX if by == "group" else UNIT_INDEX
    return statement.with_hint(Clue.__table__, f"INDEXED BY {name}", "sqlite")


def _every_clue(user: User, query: LedgerQuery) -> bool:
    """The figure is over all clues: a user who sees every clue, and no filter. Such figures may
    read the narrow indexes that hold every clue in key order (migrations 0012 and 0013)."""
    return user.role in access.SEES_EVERYTHING and not query.filters()


def query_of(filters: dict[str, Any] | None) -> LedgerQuery:
    """The ledger query for `filters`: the ledger's filter keys (engine.ledger.FILTERS, among them
    registered_from/registered_to and closed_from/closed_to, days in Asia/Shanghai).

    :raises ValidationFailed: an unknown light, a bad date.
    """
    args = {k: v for k, v in (filters or {}).items() if k not in ("page", "per_page", "sort", "by")}
    if isinstance(args.get("overdue"), bool):
        args["overdue"] = "1" if args["overdue"] else "0"
    for name in ("registered_from", "registered_to", "closed_from", "closed_to"):
        if isinstance(args.get(name), date):
            args[name] = args[name].isoformat()
    return LedgerQuery.from_args(args)


def light_key(now: datetime) -> ColumnElement[Any]:
    """SQL: the clue's light at `now`, the same rule as the ledger's light filter
    (`lights.light_is`, whose three conditions exclude one another), asked in the order that
    costs a row the fewest comparisons: a row whose change moment has not passed (or that has
    none) keeps its stored light; one past it is red if it was red or its deadline day is over,
    yellow if it was green and the deadline day is not over, and has no light otherwise (a
    deadline it does not have is not over either: unknown is no). The tests compare every light's
    figure with the ledger's rows, stale lights included."""
    past = lights.clue_overdue(now)
    moved_on = case((or_(Clue.light == lights.RED, past), literal(lights.RED)),
                    (and_(Clue.light == lights.GREEN, ~past), literal(lights.YELLOW)), else_=None)
    return case((Clue.light_changes_at <= now, moved_on),
                (Clue.light.in_(lights.LIGHTS), Clue.light), else_=None)


def key_column(by: str, now: datetime) -> ColumnElement[Any]:
    columns: dict[str, Any] = {"category": Clue.category, "source": Clue.source, "stage": Clue.stage,
                               "unit": Clue.responsible_unit, "group": Clue.work_group}
    if by == "light":
        return light_key(now)
    if by not in columns:
        raise ValidationFailed(f"by must be one of {', '.join(BY)}", {"by": f"应为 {'、'.join(BY)} 之一"})
    return columns[by]


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    """SQL: open and past its deadline day (the ledger's overdue=1)."""
    return Clue.stage.in_(OPEN_STAGES) & lights.clue_overdue(now)


def names(session: Session, level: str) -> dict[str, str]:
    """Display names of unit or group codes (a few dozen rows)."""
    if level == "unit":
        return {code: name for code, name in session.execute(select(OrgUnit.code, OrgUnit.name))}
    found = {code: name for code, name in session.execute(select(WorkGroup.code, WorkGroup.name))}
    found.setdefault(access.OFFICE_GROUP, OFFICE_NAME)
    return found


def label_of(session: Session, by: str, keys: list[Any]) -> dict[Any, str]:
    if by in ("unit", "group"):
        known = names(session, by)
    else:
        known = dict(LABELS.get(by, {}))
    return {k: (NOT_SET if k is None else known.get(k, str(k))) for k in keys}


def _money(value: Any) -> Decimal:
    # SQLite sums a Numeric column as REAL; to the fen that is still the exact sum.
    return money.total([value])


def _user(ctx: Context, username: str) -> User:
    return access.get_user(ctx.session, username)


# --- the figures --------------------------------------------------------------------------------

def figures(ctx: Context, username: str, by: str, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Count, amount owed and amount paid (yuan) per value of `by`, over the clues the user may
    see that match `filters`; largest count first. A key of None means "not filled in yet".

    :raises ValidationFailed: an unknown `by` or a bad filter.
    """
    key = key_column(by, ctx.now)
    query = query_of(filters)
    user = _user(ctx, username)
    labelled = key.label("key")
    where = _where(user, query, ctx.now)
    statement = (select(labelled, func.count().label("n"), func.sum(Clue.amount_owed), func.sum(Clue.amount_paid))
                 .where(*where).group_by(labelled))
    if by in MONEY_INDEXES and _every_clue(user, query):
        # Every clue, grouped by a key whose index carries the amounts: read in key order, no sort.
        statement = statement.with_hint(Clue.__table__, f"INDEXED BY {MONEY_INDEXES[by]}", "sqlite")
    else:
        statement = on_dashboard_index(statement, user, by)
    rows = ctx.session.execute(statement).all()
    labels = label_of(ctx.session, by, [r[0] for r in rows])
    result = [{"key": k, "label": labels[k], "count": int(n), "owed": _money(owed), "paid": _money(paid)}
              for k, n, owed, paid in rows]
    order = list(LABELS.get(by, {}))
    if by in ("stage", "light"):
        result.sort(key=lambda r: order.index(r["key"]) if r["key"] in order else len(order))
    else:
        result.sort(key=lambda r: (r["key"] is None, -r["count"], str(r["key"])))
    return result


def overview(ctx: Context, username: str, filters: dict[str, Any] | None = None) -> dict[str, Any]:
    """Totals in one scan: clues, closed (销号), rejected, closure rate (closed ÷ accepted clues),
    overdue, open clues per light, amounts owed and paid (yuan), listed for supervision."""
    query = query_of(filters)
    user = _user(ctx, username)
    row = ctx.session.execute(on_dashboard_index(
        select(*_overview_columns(ctx.now)).where(*_where(user, query, ctx.now)), user)).one()
    return _overview_of(row)


def _overview_columns(now: datetime) -> list[ColumnElement[Any]]:
    """The overview's aggregates, all additive (a sum of per-group rows is the total)."""
    past = lights.clue_overdue(now)
    count = func.count
    # count(*) FILTER (WHERE …) on both databases, each light's own condition (not the CASE of
    # light_key compared three times): far fewer operations a row.
    return [
        count(),
        count().filter(Clue.stage == "closed"),
        count().filter(Clue.stage == "rejected"),
        count().filter(overdue_condition(now)),
        *(count().filter(lights.light_is(value, Clue.light, Clue.light_changes_at, past, now))
          for value in lights.LIGHTS),
        func.sum(Clue.amount_owed), func.sum(Clue.amount_paid),
        count().filter(Clue.listed_for_supervision.is_(True)),  # type: ignore[attr-defined]
        count().filter(Clue.referred.is_(True)),
    ]


def _overview_of(row: Any) -> dict[str, Any]:
    clues, closed, rejected, overdue, red, yellow, green, owed, paid, listed, referred = (
        v if v is not None else 0 for v in row)
    accepted = int(clues) - int(rejected)
    return {
        "clues": int(clues), "closed": int(closed), "rejected": int(rejected),
        "open": accepted - int(closed),
        "closure_rate": round(int(closed) / accepted, 4) if accepted else None,
        "overdue": int(overdue),
        "overdue_by_light": {lights.RED: int(red), lights.YELLOW: int(yellow), lights.GREEN: int(green)},
        "owed": _money(owed), "paid": _money(paid),
        "paid_rate": round(float(_money(paid) / _money(owed)), 4) if _money(owed) else None,
        "listed_for_supervision": int(listed), "referred": int(referred),
    }


def _overview_and_trend(ctx: Context, username: str, filters: dict[str, Any] | None,
                        weeks: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The dashboard page's overview and weekly trend in ONE scan (PostgreSQL's way): the clues
    grouped by the few stored values the overview's conditions read (stage, stored light, whether
    its change moment has passed, whether the deadline day is over, listed, referred) and by the
    weeks registered and closed in, then added up here (`_fold`) — a hash aggregate over a few
    hundred groups (a few thousand at most), cheaper than evaluating every condition for every
    row. The same figures as `overview` and `weekly_trend` (the tests compare them on both
    databases). SQLite groups by sorting every row, so there the page takes `overview` and
    `weekly_trend` instead."""
    first, bounds = _trend_range(ctx, weeks)
    query = query_of(filters)
    user = _user(ctx, username)
    now = ctx.now
    keys = [Clue.stage.label("stage_key"), Clue.light.label("light_key"),
            (Clue.light_changes_at <= now).label("stale_key"), lights.clue_overdue(now).label("past_key"),
            Clue.listed_for_supervision.label("listed_key"), Clue.referred.label("referred_key"),  # type: ignore[attr-defined]
            *_week_keys(bounds)]
    rows = ctx.session.execute(on_dashboard_index(
        select(*keys, func.count(), func.sum(Clue.amount_owed), func.sum(Clue.amount_paid))
        .where(*_where(user, query, now)).group_by(*keys), user)).all()
    return _fold(rows, first, weeks)


def _fold(rows: list[Any], first: date, weeks: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The overview and the trend from `_overview_and_trend`'s groups. Each condition is
    `_overview_columns`' (the ledger's rule, `lights.light_is`) read the way SQL reads it: a
    NULL key (no deadline, no change moment) makes a comparison unknown, and unknown counts as no."""
    def yes(value: Any) -> bool:
        return value is not None and bool(value)

    def no(value: Any) -> bool:
        return value is not None and not value

    clues = closed = rejected = overdue = red = yellow = green = listed = referred = 0
    owed: Any = None
    paid: Any = None
    series = []
    for stage, light, stale, past, is_listed, is_referred, registered_week, closed_week, n, owed_sum, paid_sum in rows:
        clues += n
        closed += n if stage == "closed" else 0
        rejected += n if stage == "rejected" else 0
        overdue += n if stage in OPEN_STAGES and yes(past) else 0
        red += n if light == lights.RED or (yes(stale) and yes(past)) else 0
        yellow += n if ((light == lights.YELLOW and not yes(stale))
                        or (light == lights.GREEN and yes(stale) and no(past))) else 0
        green += n if light == lights.GREEN and not yes(stale) else 0
        listed += n if yes(is_listed) else 0
        referred += n if yes(is_referred) else 0
        owed = owed_sum if owed is None else owed if owed_sum is None else owed + owed_sum
        paid = paid_sum if paid is None else paid if paid_sum is None else paid + paid_sum
        series += [("registered", registered_week, n), ("closed", closed_week, n)]
    summary = _overview_of((clues, closed, rejected, overdue, red, yellow, green, owed, paid, listed, referred))
    return summary, _trend_of(first, weeks, series)


def local_day(session: Session, column: Any) -> ColumnElement[Any]:
    """SQL: the Asia/Shanghai calendar day of a stored (naive UTC) moment, as a date."""
    if is_postgresql(session):
        return cast(column + text("interval '8 hours'"), Date)
    return func.date(column, "+8 hours")


def _trend_range(ctx: Context, weeks: int) -> tuple[date, list[datetime]]:
    """The first Monday of the `weeks` weeks up to this one, and the moments the weeks start at
    (Monday 00:00 in Asia/Shanghai), the end of the last one included."""
    if not 1 <= int(weeks) <= 104:
        raise ValidationFailed("weeks must be 1–104", {"weeks": "应为 1–104"})
    today = ctx.now.astimezone(SHANGHAI).date()
    this_week = today - timedelta(days=today.weekday())
    first = this_week - timedelta(weeks=int(weeks) - 1)
    return first, [datetime.combine(first + timedelta(weeks=i), datetime.min.time(), SHANGHAI)
                   for i in range(int(weeks) + 1)]


def week_index(column: Any, bounds: list[datetime]) -> ColumnElement[Any]:
    """SQL: the week (0 the first) a stored moment falls in, `bounds` being the weeks' starts and
    the last one's end; NULL outside them. A binary search of a few comparisons with the stored
    value instead of date arithmetic per row, and the same boundaries as the ledger's
    registered_from/closed_from filters."""
    def search(lo: int, hi: int) -> ColumnElement[Any]:
        if hi - lo == 1:
            return literal_column(str(lo), Integer)
        middle = (lo + hi) // 2
        return case((column < bounds[middle], search(lo, middle)), else_=search(middle, hi))
    return case(((column >= bounds[0]) & (column < bounds[-1]), search(0, len(bounds) - 1)), else_=None)


def _week_keys(bounds: list[datetime]) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """SQL: the week a clue was registered in and the week it was closed (销号) in, each NULL
    outside the range (or not closed). Labelled: GROUP BY the labels (bound parameters)."""
    return (week_index(Clue.created_at, bounds).label("registered_week"),
            case((Clue.stage == "closed", week_index(Clue.closed_at, bounds)), else_=None).label("closed_week"))


def _trend_of(first: date, weeks: int, series: list[tuple[str, Any, Any]]) -> list[dict[str, Any]]:
    """Per week from (series name, week index or None, count) triples."""
    counts = [{"registered": 0, "closed": 0} for _ in range(int(weeks))]
    for name, week, n in series:
        if week is not None and 0 <= int(week) < len(counts):  # a moment after this week: not counted
            counts[int(week)][name] += int(n)
    return [{"week_start": (first + timedelta(weeks=i)).isoformat(), **values} for i, values in enumerate(counts)]


def weekly_trend(ctx: Context, username: str, filters: dict[str, Any] | None = None,
                 weeks: int = DEFAULT_WEEKS) -> list[dict[str, Any]]:
    """Clues registered and clues closed (销号) per week (Monday first), for the `weeks` weeks
    up to this one; weeks without any are zero."""
    first, bounds = _trend_range(ctx, weeks)
    query = query_of(filters)
    user = _user(ctx, username)
    where = _where(user, query, ctx.now)
    registered_week, closed_week = _week_keys(bounds)
    registered_in = (Clue.created_at >= bounds[0]) & (Clue.created_at < bounds[-1])
    closed_in = (Clue.stage == "closed") & (Clue.closed_at >= bounds[0]) & (Clue.closed_at < bounds[-1])
    if is_postgresql(ctx.session):
        # One scan for both series (hash aggregate): each row counts in the week it was
        # registered (if within the range) and in the week it was closed (if closed within it).
        rows = ctx.session.execute(
            select(registered_week, closed_week, func.count())
            .where(*where, or_(registered_in, closed_in))
            .group_by(registered_week, closed_week)).all()
        series = [("registered", registered, n) for registered, _, n in rows]
        series += [("closed", closed, n) for _, closed, n in rows]
    elif _every_clue(user, query):
        # Every clue: per week, one range count on each narrow index (migration 0012) — a few
        # index entries a clue, no sort (SQLite groups by sorting every row).
        series = _range_counts(ctx.session, bounds)
    else:
        # SQLite sorts to group: two narrow queries are cheaper there than the two keys at once,
        # and its date function a little cheaper than the comparisons of `week_index`.
        series = []
        closed_since = (Clue.stage == "closed") & (Clue.closed_at >= bounds[0])
        for name, column, condition in (("registered", Clue.created_at, Clue.created_at >= bounds[0]),
                                        ("closed", Clue.closed_at, closed_since)):
            monday = func.date(column, "+8 hours", "weekday 0", "-6 days").label("week")
            series += [(name, (date.fromisoformat(value) - first).days // 7, n) for value, n in ctx.session.execute(
                on_dashboard_index(select(monday, func.count()).where(*where, condition).group_by(monday), user))]
    return _trend_of(first, weeks, series)


def _range_counts(session: Session, bounds: list[datetime]) -> list[tuple[str, Any, Any]]:
    """Registrations and closures per week over all clues, as SQLite range counts on
    ix_clue_created_at and ix_clue_stage_closed_at, in one statement."""
    def count(index: str, column: Any, *condition: ColumnElement[bool], start: datetime,
              end: datetime) -> ColumnElement[Any]:
        return (select(func.count()).select_from(Clue).where(*condition, column >= start, column < end)
                .with_hint(Clue.__table__, f"INDEXED BY {index}", "sqlite").scalar_subquery())
    weeks = list(zip(bounds, bounds[1:]))
    row = session.execute(select(
        *(count("ix_clue_created_at", Clue.created_at, start=s, end=e) for s, e in weeks),
        *(count("ix_clue_stage_closed_at", Clue.closed_at, Clue.stage == "closed", start=s, end=e) for s, e in weeks),
    )).one()
    return ([("registered", i, n) for i, n in enumerate(row[:len(weeks)])]
            + [("closed", i, n) for i, n in enumerate(row[len(weeks):])])


# --- the campaign calendar ------------------------------------------------------------------------

def timeline(ctx: Context) -> dict[str, Any]:
    """The current campaign's phases (start and end days) and today, for the timeline chart.
    Each phase drills down to the clues registered during it."""
    try:
        campaign = current_campaign(ctx.session)
    except NotFound:
        return {"campaign": None, "today": ctx.now.astimezone(SHANGHAI).date().isoformat(), "phases": []}
    c = campaign
    spans = [("investigation", c.starts_on, c.investigation_ends_on),
             ("rectification", c.investigation_ends_on + timedelta(days=1), c.rectification_ends_on),
             ("spot_check", c.spot_check_starts_on, c.spot_check_ends_on)]
    if c.ends_on > c.spot_check_ends_on:
        spans.append(("summary", c.spot_check_ends_on + timedelta(days=1), c.ends_on))
    today = ctx.now.astimezone(SHANGHAI).date()
    phases = [{"key": key, "label": PHASE_NAMES[key], "start": start.isoformat(), "end": max(start, end).isoformat(),
               "current": start <= today <= end} for key, start, end in spans]
    return {"campaign": {"id": c.id, "name": c.name, "year": c.year}, "today": today.isoformat(), "phases": phases}


# --- the page ---------------------------------------------------------------------------------------

def require_dashboard(user: User) -> None:
    """:raises Forbidden: a role that does not run the campaign from figures."""
    access.require_role(user, *DASHBOARD_ROLES)


def dashboard(ctx: Context, username: str, filters: dict[str, Any] | None = None,
              weeks: int = DEFAULT_WEEKS) -> dict[str, Any]:
    """What the dashboard page renders itself (the per-key charts fetch /api/stats).

    :raises Forbidden: see `require_dashboard`.
    """
    require_dashboard(_user(ctx, username))
    query = query_of(filters)
    if is_postgresql(ctx.session):
        summary, trend = _overview_and_trend(ctx, username, filters, weeks)
    else:  # SQLite groups by sorting every row: the grouped overview costs more than two scans
        summary, trend = overview(ctx, username, filters), weekly_trend(ctx, username, filters, weeks)
    return {"filters": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in query.filters().items()},
            "overview": summary, "trend": trend,
            "timeline": timeline(ctx), "labels": LABELS, "by": list(BY)}
