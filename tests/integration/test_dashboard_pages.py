"""The dashboard and ranking pages and GET /api/stats: figures equal the ledger page's total with
the same filter, scoping like the ledger, drill-down links, Bearer tokens, refusals."""
from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from engine import Engine, accounts
from engine.clock import parse_moment
from engine.ledger import LABELS

from ..factories import ClueDriver
from .test_api import ApiClient


def ledger_total(client: FlaskClient, query: str) -> int:
    page = client.get(f"/ledger/?{query}")
    assert page.status_code == 200, query
    found = re.search(r'data-testid="ledger-total">(\d+)<', page.get_data(as_text=True))
    assert found, query
    return int(found.group(1))


def some_clues(engine: Engine, clock: Any) -> list[ClueDriver]:
    drivers = []
    for n, (category, unit) in enumerate([("arrears_public", "zengdu"), ("arrears_public", "suixian"),
                                          ("policy", "zengdu"), ("investment", "guangshui")]):
        clue = ClueDriver(engine, enterprise_name=f"随州市看板企业{n}有限公司", amount_owed=100_000 * (n + 1))
        clue.triage(category=category)
        clue.assign(deadline="2023-10-25", unit=unit)
        drivers.append(clue)
    drivers[0].plan()
    drivers[0].report(paid=50_000)
    drivers[0].review(approved=True)
    ClueDriver(engine, source="letters_visits")  # still in triage: no category, unit or group
    clock.set(parse_moment("2023-11-02T10:00:00"))
    return drivers


def test_stats_api_equals_the_ledger_page(client: FlaskClient, auth: Any, web_engine: Engine, clock: Any) -> None:
    some_clues(web_engine, clock)
    # engine-level comparisons over many more figures are in tests/unit/test_stats.py
    for user, dimensions in (("office", ("category", "source", "stage", "unit", "group", "light")),
                             ("unit", ("stage", "light"))):
        auth.login(user)
        for by in dimensions:
            body = client.get(f"/api/stats?by={by}").get_json()
            assert body["clues"] == ledger_total(client, "") == sum(i["count"] for i in body["items"])
            for item in body["items"]:
                if item["key"] is not None:
                    assert item["count"] == ledger_total(client, f"{by}={item['key']}"), (user, by, item)
        filtered = client.get("/api/stats?by=unit&category=arrears_public&overdue=1").get_json()
        for item in filtered["items"]:
            assert item["count"] == ledger_total(client, f"category=arrears_public&overdue=1&unit={item['key']}")
        auth.logout()


def test_stats_api_figures_scoping_and_errors(client: FlaskClient, auth: Any, web_engine: Engine, clock: Any,
                                              app: Flask) -> None:
    some_clues(web_engine, clock)
    assert client.get("/api/stats?by=category").status_code == 401
    auth.login("office")
    body = client.get("/api/stats?by=category").get_json()
    assert {i["key"]: i["count"] for i in body["items"]} == {"arrears_public": 2, "policy": 1, "investment": 1, None: 1}
    arrears = next(i for i in body["items"] if i["key"] == "arrears_public")
    assert arrears["label"] == LABELS["category"]["arrears_public"]
    assert (arrears["owed"], arrears["paid"]) == ("300000.00", "50000.00")  # exact decimal strings
    assert client.get("/api/stats?by=colour").status_code == 422
    assert client.get("/api/stats").get_json() == body  # by category unless told
    assert client.get("/api/stats?by=unit&registered_from=yesterday").status_code == 422
    auth.logout()
    auth.login("unit")  # zengdu sees its own two clues only
    units = client.get("/api/stats?by=unit").get_json()
    assert [(i["key"], i["count"]) for i in units["items"]] == [("zengdu", 2)]
    auth.logout()
    token = web_engine.run(accounts.create_token, "supervisor", "看板")["token"]
    bearer = app.test_client().get("/api/stats?by=group", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200 and bearer.get_json()["clues"] == 5
    assert app.test_client().get("/api/stats?by=group", headers={"Authorization": "Bearer cx_nonsense"}).status_code == 401
    # Every answer matches the OpenAPI document (webui.dashboard.openapi_part).
    api = ApiClient(app, app.test_client(), token)
    for query in ("", "?by=light&overdue=true", "?by=unit&registered_from=2023-10-01&registered_to=2023-10-31",
                  "?by=stage&category=policy"):
        assert api.get(f"/api/stats{query}").status_code == 200
    assert api.get("/api/stats?by=colour").status_code == 422
    assert api.as_user(None).get("/api/stats?by=unit").status_code == 401


def test_dashboard_page_figures_and_drill_down_links(client: FlaskClient, auth: Any, web_engine: Engine,
                                                     clock: Any) -> None:
    some_clues(web_engine, clock)
    auth.login("office")
    page = client.get("/dashboard/?category=arrears_public")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'src="/static/vendor/echarts.min.js"' in html
    cards = {name: int(value) for name, value in
             re.findall(r'data-testid="kpi-(clues|closed|overdue)"[^>]*>\s*<div[^>]*>[^<]*</div><div[^>]*data-value="(\d+)"', html)}
    assert cards == {"clues": ledger_total(client, "category=arrears_public"),
                     "closed": ledger_total(client, "category=arrears_public&stage=closed"),
                     "overdue": ledger_total(client, "category=arrears_public&overdue=1")}
    assert cards == {"clues": 2, "closed": 1, "overdue": 1}
    assert 'href="/ledger/?category=arrears_public&amp;overdue=1"' in html
    assert 'href="/ledger/?category=arrears_public&amp;light=red"' in html
    # 300,000 owed and 50,000 paid in 万元
    assert re.search(r'data-testid="owed-wan">30\.00<', html) and re.search(r'data-testid="paid-wan">5\.00<', html)
    assert 'href="/dashboard/"' in client.get("/ledger/").get_data(as_text=True)  # the nav link
    auth.logout()
    # Who gets 200 or 403 on each page is in walk_dashboard.py (the authorization walk).
    auth.login("unit")
    assert 'href="/dashboard/"' not in client.get("/ledger/").get_data(as_text=True)


def test_ranking_page(client: FlaskClient, auth: Any, web_engine: Engine, clock: Any) -> None:
    some_clues(web_engine, clock)
    auth.login("office")
    html = client.get("/dashboard/ranking?level=unit").get_data(as_text=True)
    rows = re.findall(r'<tr data-code="(\w+)">\s*<td>(\d+)</td>', html)
    assert rows == [("zengdu", "1"), ("guangshui", "2"), ("suixian", "2")]
    assert 'href="/ledger/?unit=zengdu&amp;overdue=1"' in html or 'href="/ledger/?overdue=1&amp;unit=zengdu"' in html
    assert client.get("/dashboard/ranking?level=street").status_code == 422
    assert client.get("/dashboard/ranking?start=2023-12-01&end=2023-11-01").status_code == 422
    later = client.get("/dashboard/ranking?level=group&start=2023-10-18").get_data(as_text=True)
    assert "<tr data-code" not in later  # every clue was registered on 2023-10-17
    auth.logout()
    auth.login("group")  # arrears_public sees its own group's clues only
    html = client.get("/dashboard/ranking?level=group").get_data(as_text=True)
    assert re.findall(r'<tr data-code="(\w+)"', html) == ["arrears_public"]
