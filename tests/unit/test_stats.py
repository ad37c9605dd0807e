"""engine/stats.py: every dashboard figure equals the same figure counted from the ledger with the
same filter (the ledger's own query, paged through), for the demo data and for a seeded random
data set with stale stored lights; visibility scoping; the weekly trend; the phase timeline."""
from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from engine import Engine, Forbidden, ValidationFailed
from engine.clock import SHANGHAI, as_utc, local_day_start, parse_moment
from engine.db.models import Campaign, Clue
from engine.demo import load_demo
from engine.ledger import LABELS, LedgerQuery, list_clues
from engine import lights, stats

from ..factories import ClueDriver

USERS = ("office", "group", "unit", "supervisor")
UNITS = ("zengdu", "suixian", "guangshui", "city_finance", None)
GROUPS = ("arrears_public", "arrears_soe", "policy", "investment", "office", None)
STAGES = tuple(LABELS["stage"])


def ledger_figure(engine: Engine, user: str, filters: dict[str, Any]) -> tuple[int, Decimal, Decimal]:
    """Count, owed and paid of the ledger with `filters`, added up row by row over every page (exactly)."""
    count, owed, paid, page = 0, Decimal(0), Decimal(0), 1
    while True:
        result = engine.run(list_clues, user, LedgerQuery.from_args({**filters, "page": page, "per_page": 200}))
        for row in result["items"]:
            owed += row["amount_owed"] or 0
            paid += row["amount_paid"] or 0
        count += len(result["items"])
        if page * 200 >= result["total"]:
            assert count == result["total"]
            return count, owed, paid
        page += 1


def check_against_ledger(engine: Engine, user: str, filters: dict[str, Any]) -> int:
    """Every figure of every `by` and the overview equal the ledger's; returns how many were compared."""
    compared = 0
    total = ledger_figure(engine, user, filters)
    for by in stats.BY:
        figures = engine.run(stats.figures, user, by, filters)
        for figure in figures:
            if figure["key"] is None:
                continue
            count, owed, paid = ledger_figure(engine, user, {**filters, by: figure["key"]})
            assert (figure["count"], figure["owed"], figure["paid"]) == (count, owed, paid), \
                (user, by, figure)
            compared += 1
        assert sum(f["count"] for f in figures) == total[0], (user, by)
        assert sum(f["owed"] for f in figures) == total[1]
    view = engine.run(stats.overview, user, filters)
    assert (view["clues"], view["owed"], view["paid"]) == total
    assert view["closed"] == ledger_figure(engine, user, {**filters, "stage": "closed"})[0]
    assert view["rejected"] == ledger_figure(engine, user, {**filters, "stage": "rejected"})[0]
    assert view["overdue"] == ledger_figure(engine, user, {**filters, "overdue": "1"})[0]
    for light, n in view["overdue_by_light"].items():
        assert n == ledger_figure(engine, user, {**filters, "light": light})[0], light
    accepted = view["clues"] - view["rejected"]
    assert view["closure_rate"] == (round(view["closed"] / accepted, 4) if accepted else None)
    return compared


# --- the demo data ----------------------------------------------------------------------------------

@pytest.fixture
def demo(bare_engine: Engine) -> Engine:
    load_demo(bare_engine, calendar="2023")
    bare_engine.clock.set(parse_moment("2023-12-10T10:00:00"))  # type: ignore[attr-defined]
    return bare_engine


def test_demo_figures_equal_the_ledger(demo: Engine) -> None:
    compared = sum(check_against_ledger(demo, user, {}) for user in USERS)
    compared += check_against_ledger(demo, "office", {"category": "arrears_public"})
    assert compared > 40
    view = demo.run(stats.overview, "office", {})
    # The demo on 2023-12-10: 10 clues, one rejected, one closed, one referred, four past their deadline.
    assert (view["clues"], view["rejected"], view["closed"], view["referred"], view["overdue"]) == (10, 1, 1, 1, 4)
    assert view["closure_rate"] == round(1 / 9, 4) and view["overdue_by_light"]["red"] == 4
    unit = demo.run(stats.overview, "unit", {})
    assert unit["clues"] == sum(1 for _ in demo.run(list_clues, "unit", LedgerQuery(per_page=200))["items"])
    assert unit["clues"] < view["clues"]  # the unit sees only its own clues


# --- a seeded random data set -------------------------------------------------------------------------

def seed_clues(engine: Engine, n: int, seed: int) -> None:
    """`n` clue rows spread over categories, sources, stages, units, groups, deadlines and amounts,
    with the stored light computed at an earlier moment so that some lights are stale."""
    rng = random.Random(seed)
    now = engine.clock.now()
    with engine.transaction() as ctx:
        campaign_id = ctx.session.scalar(select(Campaign.id))
        for i in range(n):
            stage = rng.choice(STAGES)
            created = now - timedelta(days=rng.randint(0, 80), hours=rng.randint(0, 23))
            deadline = (now.astimezone(SHANGHAI).date() + timedelta(days=rng.randint(-20, 20))
                        if rng.random() < 0.8 and stage not in ("triage", "rejected") else None)
            stored_at = now - timedelta(days=rng.choice((0, 0, 2, 6)))
            light = lights.for_clue(stage, deadline, stored_at, 3)
            owed = Decimal(rng.randint(1, 500_000_00)) / 100 if rng.random() < 0.9 else None
            paid = (owed * Decimal(rng.random())).quantize(Decimal("0.01")) if owed and rng.random() < 0.6 else None
            closed_at = (created + timedelta(days=rng.randint(1, 30))) if stage in ("closed", "rejected") else None
            ctx.session.add(Clue(
                campaign_id=campaign_id, source=rng.choice(tuple(LABELS["source"])),
                enterprise_name=f"随州市测试企业{i}有限公司", debtor=f"某单位{i % 7}", summary="测试",
                amount_owed=owed, amount_paid=paid,
                category=None if stage in ("triage", "rejected") else rng.choice(tuple(LABELS["category"])),
                work_group=None if stage in ("triage", "rejected") else rng.choice(GROUPS),
                responsible_unit=None if stage in ("triage", "rejected", "assigning") else rng.choice(UNITS),
                deadline=deadline, stage=stage, referred=rng.random() < 0.05, sendback_count=rng.randint(0, 3),
                created_by="office", created_at=created, updated_at=created, closed_at=closed_at,
                light=light.value, light_changes_at=light.changes_at,
                listed_for_supervision=rng.random() < 0.1))


def test_random_figures_equal_the_ledger(engine: Engine, clock: Any) -> None:
    clock.set(parse_moment("2023-11-20T15:00:00"))
    seed_clues(engine, 200, seed=20231017)
    compared = check_against_ledger(engine, "office", {})
    compared += check_against_ledger(engine, "group", {})
    compared += check_against_ledger(engine, "office", {"registered_from": "2023-10-01", "registered_to": "2023-10-31",
                                                         "group": "policy"})
    assert compared > 60
    lit = engine.run(stats.figures, "office", "light", {})
    assert {f["key"] for f in lit} >= {"red", "yellow", "green", None}  # stale rows included
    for user in ("office", "unit"):
        trend = engine.run(stats.weekly_trend, user, {"category": "policy"}, weeks=14)
        assert sum(w["registered"] for w in trend) > 0 and sum(w["closed"] for w in trend) > 0
        for week in trend:
            end = (date.fromisoformat(week["week_start"]) + timedelta(days=6)).isoformat()
            assert week["registered"] == ledger_figure(engine, user, {
                "category": "policy", "registered_from": week["week_start"], "registered_to": end})[0]
            assert week["closed"] == ledger_figure(engine, user, {
                "category": "policy", "stage": "closed", "closed_from": week["week_start"], "closed_to": end})[0]


def test_scope_and_date_range(engine: Engine, clock: Any) -> None:
    clock.set(parse_moment("2023-11-20T15:00:00"))
    seed_clues(engine, 120, seed=7)
    everything = engine.run(stats.figures, "office", "unit", {})
    zengdu = next(f for f in everything if f["key"] == "zengdu")
    assert engine.run(stats.figures, "unit", "unit", {}) == [zengdu]  # the demo `unit` is zengdu
    groups = engine.run(stats.figures, "group", "group", {})
    assert [f["key"] for f in groups] == ["arrears_public"]
    assert engine.run(stats.figures, "designer", "category", {}) == []
    october = engine.run(stats.overview, "office", {"registered_from": date(2023, 10, 1),
                                                     "registered_to": date(2023, 10, 31)})
    with engine.transaction() as ctx:
        times = list(ctx.session.scalars(select(Clue.created_at)))
    start, end = as_utc(local_day_start(date(2023, 10, 1))), as_utc(local_day_start(date(2023, 11, 1)))
    assert october["clues"] == sum(1 for t in times if start <= t < end) > 0

    with pytest.raises(ValidationFailed):
        engine.run(stats.figures, "office", "colour", {})
    with pytest.raises(ValidationFailed):
        engine.run(stats.figures, "office", "light", {"light": "blue"})
    with pytest.raises(ValidationFailed):
        engine.run(stats.overview, "office", {"registered_from": "last week"})
    with pytest.raises(Forbidden):
        engine.run(stats.dashboard, "unit", {})


def test_weekly_trend_counts_registrations_and_closures(engine: Engine, clock: Any) -> None:
    clock.set(parse_moment("2023-10-23T08:30:00"))  # a Monday
    ClueDriver(engine)
    clock.set(parse_moment("2023-10-29T23:30:00"))  # the Sunday of the same week, late evening
    closed = ClueDriver(engine)
    closed.triage()
    closed.assign(deadline="2023-11-20")
    closed.plan()
    closed.report()
    clock.set(parse_moment("2023-11-06T00:10:00"))  # just after midnight: the next week but one
    closed.review(approved=True)
    ClueDriver(engine)
    trend = engine.run(stats.weekly_trend, "office", {}, weeks=4)
    assert trend == [
        {"week_start": "2023-10-16", "registered": 0, "closed": 0},
        {"week_start": "2023-10-23", "registered": 2, "closed": 0},
        {"week_start": "2023-10-30", "registered": 0, "closed": 0},
        {"week_start": "2023-11-06", "registered": 1, "closed": 1},
    ]
    assert engine.run(stats.weekly_trend, "unit", {}, weeks=4)[3] == {"week_start": "2023-11-06", "registered": 0,
                                                                      "closed": 1}


def test_timeline_marks_today(engine: Engine, clock: Any) -> None:
    clock.set(parse_moment("2023-11-02T10:00:00"))
    line = engine.run(stats.timeline)
    assert [(p["key"], p["start"], p["end"], p["current"]) for p in line["phases"]] == [
        ("investigation", "2023-10-17", "2023-10-20", False),
        ("rectification", "2023-10-21", "2023-11-30", True),
        ("spot_check", "2023-12-01", "2023-12-31", False),
    ]
    assert line["today"] == "2023-11-02"
    page = engine.run(stats.dashboard, "supervisor", {"category": "policy"})
    assert page["filters"] == {"category": "policy"} and page["timeline"] == line


def test_dashboard_page_figures_equal_overview_and_trend(engine: Engine, clock: Any) -> None:
    # PostgreSQL answers the page's overview and trend in one grouped scan (stats._overview_and_trend,
    # run here on both databases): the same figures as the overview's FILTER counts and the trend.
    clock.set(parse_moment("2023-11-20T15:00:00"))
    seed_clues(engine, 150, seed=11)
    for user, filters in (("office", {}), ("group", {}), ("unit", {}), ("office", {"category": "policy", "overdue": "1"}),
                          ("office", {"light": "yellow"}),
                          ("office", {"registered_from": "2023-10-01", "registered_to": "2023-10-31"})):
        view, trend = engine.run(stats.overview, user, filters), engine.run(stats.weekly_trend, user, filters, weeks=14)
        assert engine.run(stats._overview_and_trend, user, filters, 14) == (view, trend), (user, filters)
        if user != "unit":  # a unit has no dashboard page
            page = engine.run(stats.dashboard, user, filters, weeks=14)
            assert (page["overview"], page["trend"]) == (view, trend), (user, filters)
        assert view["clues"] > 0


def test_unfiltered_trend_equals_the_ledger(engine: Engine, clock: Any) -> None:
    # Every clue, no filter: SQLite counts each week on the narrow indexes of migration 0012.
    clock.set(parse_moment("2023-11-20T15:00:00"))
    seed_clues(engine, 200, seed=5)
    trend = engine.run(stats.weekly_trend, "office", {}, weeks=13)
    assert sum(w["registered"] for w in trend) > 100 and sum(w["closed"] for w in trend) > 5
    for week in trend:
        end = (date.fromisoformat(week["week_start"]) + timedelta(days=6)).isoformat()
        assert week["registered"] == ledger_figure(engine, "office", {
            "registered_from": week["week_start"], "registered_to": end})[0]
        assert week["closed"] == ledger_figure(engine, "office", {
            "stage": "closed", "closed_from": week["week_start"], "closed_to": end})[0]
    assert engine.run(stats.weekly_trend, "supervisor", {}, weeks=13) == trend
