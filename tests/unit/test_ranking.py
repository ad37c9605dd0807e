"""engine/ranking.py: units and groups ranked by on-time rate, overdue, days to close, send-backs
and failed spot checks — clues walked through the real process (a clue checked twice, failing
once), and on a seeded random data set checked against the ledger's rows."""
from __future__ import annotations

from datetime import date, datetime
from statistics import mean
from typing import Any

import pytest

from engine import Engine, Forbidden, ValidationFailed
from engine.clock import SHANGHAI, parse_moment
from engine.ledger import LedgerQuery, list_clues
from engine.ranking import ranking, ranking_page

from ..factories import ClueDriver
from .test_stats import seed_clues


def at(engine: Engine, moment: str) -> None:
    engine.clock.set(parse_moment(moment))  # type: ignore[attr-defined]
    engine.fire_due_timers()


@pytest.fixture
def walked(engine: Engine) -> dict[str, ClueDriver]:
    """A: zengdu, sent back once, closed on time after 10 days. B: zengdu, key problem, fails its
    first spot check (rectification redone, new deadline 12-20), passes the second, closed on
    12-02 after 46 days — on time against the deadline the failed check set.
    C: suixian, open past its deadline. D: suixian, policy group, registered later, closed at 06:00
    the morning after its deadline (still the deadline day in UTC): late."""
    a, b, c = (ClueDriver(engine, enterprise_name=f"随州市排名企业{n}有限公司") for n in "ABC")
    a.to_review()
    a.review(approved=False)
    a.report()
    b.to_review(key=True)
    c.triage()
    c.assign(deadline="2023-11-01", unit="suixian")
    at(engine, "2023-10-20T09:00:00")
    d = ClueDriver(engine, enterprise_name="随州市排名企业D有限公司")
    d.triage(category="policy")
    d.assign(deadline="2023-10-31", unit="suixian")
    d.plan(user="unit_suixian")
    d.report(user="unit_suixian")
    at(engine, "2023-10-27T09:00:00")
    a.review(approved=True)
    at(engine, "2023-11-01T06:00:00")
    d.review(approved=True)
    b.review(approved=True)
    at(engine, "2023-12-02T09:00:00")
    b.spot_check("paper")
    b.report()
    b.review(approved=True)
    b.spot_check("genuine")
    at(engine, "2023-12-03T09:00:00")
    assert (a.stage, b.stage, c.stage, d.stage) == ("closed", "closed", "rectifying", "closed")
    return {"a": a, "b": b, "c": c, "d": d}


def test_units_and_groups_ranked(engine: Engine, walked: dict[str, ClueDriver]) -> None:
    assert walked["b"].show()["spot_check_result"] == "genuine"  # the failure is only in the history
    rows = {r["code"]: r for r in engine.run(ranking, "office", "unit")}
    assert [r["code"] for r in engine.run(ranking, "office", "unit")] == ["zengdu", "suixian"]
    zengdu, suixian = rows["zengdu"], rows["suixian"]
    assert {k: zengdu[k] for k in ("rank", "name", "clues", "closed", "on_time_rate", "overdue", "avg_days_to_close",
                                   "sendbacks", "spot_check_failures")} == {
        "rank": 1, "name": "曾都区人民政府", "clues": 2, "closed": 2, "on_time_rate": 1.0, "overdue": 0,
        "avg_days_to_close": 28.0, "sendbacks": 2, "spot_check_failures": 1}
    # D took from 10-20 09:00 to 11-01 06:00: 11.875 days.
    assert (suixian["rank"], suixian["clues"], suixian["closed"], suixian["on_time_rate"], suixian["overdue"],
            suixian["avg_days_to_close"], suixian["sendbacks"], suixian["spot_check_failures"]) == (
        2, 2, 1, 0.0, 1, 11.9, 0, 0)

    # The same clues by group, as other users, and by registration date.
    groups = engine.run(ranking, "supervisor", "group")
    assert [(g["rank"], g["code"], g["clues"], g["on_time_rate"], g["overdue"]) for g in groups] == [
        (1, "arrears_public", 3, round(2 / 3, 4), 1), (2, "policy", 1, 0.0, 0)]
    assert [g["code"] for g in engine.run(ranking, "group", "group")] == ["arrears_public"]
    assert [u["code"] for u in engine.run(ranking, "unit", "unit")] == ["zengdu"]
    assert engine.run(ranking, "designer", "unit") == []
    later = engine.run(ranking, "office", "unit", date(2023, 10, 19), date(2023, 10, 31))
    assert [(u["code"], u["clues"]) for u in later] == [("suixian", 1)]
    assert engine.run(ranking, "office", "unit", None, date(2023, 10, 16)) == []
    with pytest.raises(ValidationFailed):
        engine.run(ranking, "office", "street")
    with pytest.raises(ValidationFailed):
        engine.run(ranking, "office", "unit", date(2023, 11, 2), date(2023, 11, 1))
    with pytest.raises(Forbidden):
        engine.run(ranking_page, "unit", "unit")
    assert engine.run(ranking_page, "group", "group")["items"] == engine.run(ranking, "group", "group")


def test_random_ranking_agrees_with_the_ledger_rows(engine: Engine, clock: Any) -> None:
    clock.set(parse_moment("2023-11-20T15:00:00"))
    seed_clues(engine, 240, seed=99)
    today = clock.now().astimezone(SHANGHAI).date()
    for level, column in (("unit", "responsible_unit"), ("group", "work_group")):
        for row in engine.run(ranking, "office", level):
            items = engine.run(list_clues, "office", LedgerQuery(**{level: row["code"]}, per_page=200))["items"]
            closed = [i for i in items if i["stage"] == "closed"]
            overdue = [i for i in items if i["stage"] not in ("closed", "rejected") and i["deadline"]
                       and date.fromisoformat(i["deadline"]) < today]
            on_time = [i for i in closed if not i["deadline"] or datetime.fromisoformat(i["closed_at"])
                       .astimezone(SHANGHAI).date() <= date.fromisoformat(i["deadline"])]
            days = [(datetime.fromisoformat(i["closed_at"]) - datetime.fromisoformat(i["created_at"])).total_seconds()
                    / 86400 for i in closed]
            assert all(i[column] == row["code"] for i in items)
            assert (row["clues"], row["closed"], row["overdue"], row["sendbacks"]) == (
                len(items), len(closed), len(overdue), sum(i["sendback_count"] for i in items)), row
            assert row["on_time_rate"] == (round(len(on_time) / (len(closed) + len(overdue)), 4)
                                           if closed or overdue else None), row
            assert row["avg_days_to_close"] == (round(mean(days), 1) if days else None), row
    ranks = [r["rank"] for r in engine.run(ranking, "office", "unit")]
    assert ranks == sorted(ranks) and ranks[0] == 1
