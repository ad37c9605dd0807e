"""The office opens the dashboard, clicks a bar and a pie segment (real mouse clicks on the ECharts
canvas, at pixels computed from the chart instance) and lands on the ledger filtered the same
way, showing as many clues as the segment counted."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from engine import Engine

from ..factories import ClueDriver
from .conftest import SignIn

CLUES = [  # category, responsible unit (None: not triaged yet)
    ("arrears_public", "zengdu"), ("arrears_public", "zengdu"), ("arrears_public", "suixian"),
    ("policy", "zengdu"), ("investment", "guangshui"), (None, None),
]

# Where on the page to click to hit data item `index` of series 0 of chart `name`.
SEGMENT_POINT = """([name, index]) => {
  const chart = window.dashboardCharts[name];
  const box = chart.getDom().getBoundingClientRect();
  const series = chart.getOption().series[0];
  let x, y;
  if (series.type === "pie") {
    const layout = chart.getModel().getSeriesByIndex(0).getData().getItemLayout(index);
    const angle = (layout.startAngle + layout.endAngle) / 2;
    const radius = (layout.r + layout.r0) / 2;
    [x, y] = [layout.cx + radius * Math.cos(angle), layout.cy + radius * Math.sin(angle)];
  } else {
    const value = series.data[index].value;
    [x, y] = chart.convertToPixel({seriesIndex: 0}, [value / 2, index]);
  }
  return {x: box.left + window.scrollX + x, y: box.top + window.scrollY + y,
          key: series.data[index].key, count: series.data[index].value};
}"""


def segment(page: Page, chart: str, key: str) -> dict[str, Any]:
    keys = page.evaluate("name => window.dashboardCharts[name].getOption().series[0].data.map(d => d.key)", chart)
    point = page.evaluate(SEGMENT_POINT, [chart, keys.index(key)])
    assert point["key"] == key
    return point


def click_at(page: Page, point: dict[str, Any]) -> None:
    page.evaluate("y => window.scrollTo(0, Math.max(0, y - 300))", point["y"])
    scroll = page.evaluate("() => [window.scrollX, window.scrollY]")
    page.mouse.click(point["x"] - scroll[0], point["y"] - scroll[1])


def test_office_drills_down_from_a_chart_to_the_ledger(page: Page, sign_in: SignIn, shoot: Callable[[str], Path],
                                                       live_engine: Engine) -> None:
    for n, (category, unit) in enumerate(CLUES):
        clue = ClueDriver(live_engine, enterprise_name=f"随州市看板测试企业{n}有限公司", amount_owed=200_000)
        if category:
            clue.triage(category=category)
            clue.assign(deadline="2023-11-20", unit=unit)

    sign_in("office")
    page.locator('nav [data-menu="supervision"] .dropdown-toggle').click()
    page.locator("nav a[href='/dashboard/']").click()
    page.wait_for_url(re.compile(r"/dashboard/$"))
    page.wait_for_function("() => document.body.dataset.dashboard === 'ready'")
    expect(page.get_by_test_id("kpi-clues").locator("[data-value]")).to_have_text(str(len(CLUES)))
    expect(page.get_by_test_id("owed-wan")).to_have_text("120.00")  # 6 × 200,000 yuan in 万元
    for name in ("category", "source", "stage", "unit", "group", "light", "money", "trend", "timeline"):
        assert page.evaluate("name => !!window.dashboardCharts[name]", name), name
    today = page.evaluate("() => window.dashboardCharts.timeline.getOption().series[1].markLine.data[0].xAxis")
    assert today == page.evaluate("() => Date.parse('2023-10-17T00:00:00+08:00')")  # the fixed clock's day
    shoot("1-dashboard")

    bar = segment(page, "unit", "zengdu")
    assert bar["count"] == 3
    click_at(page, bar)
    page.wait_for_url(re.compile(r"/ledger/\?unit=zengdu$"))
    expect(page.get_by_test_id("ledger-total")).to_have_text("3")
    expect(page.get_by_test_id("ledger").locator("tbody tr")).to_have_count(3)
    shoot("2-ledger-by-unit")

    page.goto("/dashboard/?unit=zengdu")  # a filtered dashboard keeps its filter in the drill-down
    page.wait_for_function("() => document.body.dataset.dashboard === 'ready'")
    shoot("3-dashboard-zengdu")
    pie = segment(page, "category", "arrears_public")
    assert pie["count"] == 2
    click_at(page, pie)
    page.wait_for_url(re.compile(r"/ledger/\?unit=zengdu&category=arrears_public$"))
    expect(page.get_by_test_id("ledger-total")).to_have_text("2")
    rows = page.get_by_test_id("ledger").locator("tbody tr")
    for i in range(rows.count()):
        expect(rows.nth(i).locator("td").nth(4)).to_have_text("机关事业单位拖欠账款")
    shoot("4-ledger-by-unit-and-category")
