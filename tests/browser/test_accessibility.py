"""WCAG 2.1 AA (GB/T 37668-2019) on every page of every demo role, checked by axe-core.

axe-core comes from the npm registry at set-up time (webui/package.json) and is evaluated in
each page through the DevTools protocol, so the pages' own Content-Security-Policy stays as
served. Every page of each role's navigation, its inbox and first task form, a clue page, an
instance page, the modeler, the sign-in and the error pages are checked with the WCAG 2.0/2.1
A and AA rules; a serious or critical violation fails the test, reported per page and rule.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page

from engine import FixedClock
from engine.clock import parse_moment
from engine.demo import ROLE_USERS, load_demo

from .conftest import ARTIFACTS, SignIn, app_for_test, sign_out

AXE = Path(__file__).resolve().parents[2] / "webui" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}
TODAY = "2026-12-07"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(parse_moment(f"{TODAY}T09:00:00"))


@pytest.fixture
def live_app(database_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[Flask]:
    app = app_for_test(database_url, clock, tmp_path)
    load_demo(app.extensions["chengxin_engine"])
    yield app
    app.extensions["chengxin_engine"].dispose()


def audit(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical WCAG A/AA violations on the page as it stands."""
    page.wait_for_load_state("load")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
                           " resultTypes: ['violations']})", WCAG_AA)
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


class Audit:
    """Visits pages and keeps each page's blocking violations, for one report at the end."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.found: dict[str, list[dict[str, Any]]] = {}
        self.seen: set[str] = set()

    def visit(self, who: str, path: str) -> None:
        key = f"{who} {path}"
        if key in self.seen:
            return
        self.seen.add(key)
        self.page.goto(path)
        self.check(key)

    def check(self, key: str) -> None:
        violations = audit(self.page)
        if violations:
            self.found[key] = violations

    def report(self) -> str:
        lines = []
        for key, violations in self.found.items():
            for v in violations:
                targets = [" ".join(map(str, n["target"])) for n in v["nodes"][:3]]
                lines.append(f"{key}: {v['id']} ({v['impact']}, {len(v['nodes'])} elements) "
                             f"e.g. {json.dumps(targets, ensure_ascii=False)}")
        return "\n".join(lines)


def links(page: Page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(a => a.getAttribute('href'))")


def test_every_page_of_every_role_meets_wcag_aa(page: Page, sign_in: SignIn) -> None:
    checked = Audit(page)
    checked.visit("anonymous", "/auth/login")
    for username, *_ in ROLE_USERS:
        sign_in(username)
        checked.check(f"{username} /inbox/")
        for href in ["/inbox/done", *links(page, "nav .dropdown-menu a.dropdown-item[href^='/']"),
                     *links(page, "[data-testid=bell]")]:
            checked.visit(username, href)
        page.goto("/inbox/")
        task = links(page, "main a[href*='/tasks/']")[:1]
        for href in task:
            checked.visit(username, href)
        page.goto("/ledger/")
        for href in links(page, "main a[href^='/clues/']")[:1]:
            checked.visit(username, href)
        if username in ("supervisor", "designer"):
            page.goto("/instances/")
            for href in links(page, "main a[href^='/instances/']")[:1]:
                checked.visit(username, href)
        if username == "designer":
            page.goto("/designer/")
            for href in links(page, "main a[href*='/edit']")[:1]:
                checked.visit(username, href)
        checked.visit(username, "/no-such-page")
        if username == "unit":
            checked.visit(username, "/admin/users")
        sign_out(page)
    assert not checked.found, "axe-core WCAG 2.1 AA violations:\n" + checked.report()
    assert len(checked.seen) > 40


def test_the_skip_link_is_the_first_tab_stop_and_lands_in_the_main_content(page: Page, sign_in: SignIn,
                                                                           shoot: Any) -> None:
    sign_in("unit")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "跳到主要内容"
    shoot("skip-link")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # the next stop is inside the page, not back in the bar
    assert page.evaluate("() => !!document.activeElement.closest('main')")


def assert_errors_wired(page: Page) -> None:
    """The summary has the focus and links to each field; each field is invalid and described."""
    page.wait_for_function("() => document.activeElement && document.activeElement.matches('[data-error-summary]')",
                           timeout=5000)
    links = page.locator("[data-error-summary] a[data-error-link]")
    assert links.count() >= 1
    for i in range(links.count()):
        target = links.nth(i).get_attribute("href")[1:]
        field = page.locator(f"[id='{target}']")
        holder = field if field.get_attribute("aria-invalid") else page.locator(f"fieldset:has([id='{target}'])")
        assert holder.get_attribute("aria-invalid") == "true", target
        described = holder.get_attribute("aria-describedby").split()
        assert any(page.locator(f"[id='{d}']").inner_text().strip() for d in described), target
    links.first.click()
    assert page.evaluate("() => document.activeElement.id") == links.first.get_attribute("href")[1:]


def test_a_refused_intake_and_a_refused_task_form_say_so_to_a_screen_reader(page: Page, sign_in: SignIn,
                                                                          shoot: Any) -> None:
    sign_in("office")
    page.locator('nav [data-menu="clues"] .dropdown-toggle').click()
    page.get_by_role("link", name="线索登记").click()
    page.get_by_role("button", name="登记").click()
    assert_errors_wired(page)
    shoot("intake-errors")

    page.goto("/inbox/")
    page.get_by_role("link", name="审核销号").first.click()
    page.locator("[data-testid=task-form] button[type=submit]").first.click()
    assert_errors_wired(page)
    shoot("task-errors")


def test_every_chart_has_its_figures_as_a_table(page: Page, sign_in: SignIn, shoot: Any) -> None:
    sign_in("supervisor")
    page.goto("/dashboard/")
    page.wait_for_function("() => document.body.dataset.dashboard === 'ready'")
    charts = page.eval_on_selector_all("[data-chart]", "els => els.map(e => e.dataset.chart)")
    assert len(charts) == 9
    for name in charts:
        table = page.locator(f'[data-chart-data="{name}"]')
        table.locator("summary").focus()
        page.keyboard.press("Enter")  # reachable and opened by keyboard
        assert table.locator("tbody tr").count() >= 1, name
        assert page.locator(f"#chart-{name}").get_attribute("aria-label"), name
    figures = page.evaluate("""() => window.dashboardCharts.category.getOption().series[0].data
                                         .map(d => [d.name, String(d.value)])""")
    rows = page.locator('[data-chart-data="category"] tbody tr')
    assert [[rows.nth(i).locator("th").inner_text(), rows.nth(i).locator("td").inner_text()]
            for i in range(rows.count())] == figures
    shoot("chart-tables")


def test_doubled_text_keeps_the_navigation_on_the_screen_at_1366x768(page: Page, sign_in: SignIn) -> None:
    page.set_viewport_size({"width": 1366, "height": 768})
    # The browser's own text-size setting (Chromium's 字号), doubled: 16 px becomes 32 px.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Page.enable")
    cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 32, "fixed": 26}})
    sign_in("office")
    assert page.evaluate("() => getComputedStyle(document.documentElement).fontSize") == "32px"
    for path in ("/inbox/", "/ledger/", "/dashboard/", "/clues/new"):
        page.goto(path)
        assert page.evaluate("() => getComputedStyle(document.documentElement).fontSize") == "32px", path
        outside = page.evaluate("""() => [...document.querySelectorAll('header a, header button')]
            .filter(e => e.offsetParent !== null)
            .filter(e => { const r = e.getBoundingClientRect(); return r.left < 0 || r.right > innerWidth; })
            .map(e => e.textContent.trim())""")
        assert outside == [], (path, outside)
        assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth + 1"), path
    page.get_by_test_id("whoami").click()
    for name in ("修改密码", "退出登录"):
        box = page.get_by_role("link" if name == "修改密码" else "button", name=name).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 1366 and box["y"] + box["height"] <= 768, name
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "accessibility-doubled-text.png")  # the screen as the user sees it


def test_large_text_mode_is_kept_with_the_account(page: Page, sign_in: SignIn, shoot: Any) -> None:
    sign_in("unit")
    base = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.get_by_test_id("whoami").click()
    page.get_by_test_id("large-text").click()
    page.wait_for_url("**/inbox/")
    assert page.evaluate("() => document.documentElement.classList.contains('large-text')")
    assert page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)") == base * 1.25
    shoot("large-text")
    sign_out(page)
    assert not page.evaluate("() => document.documentElement.classList.contains('large-text')")
    sign_in("unit")
    assert page.evaluate("() => document.documentElement.classList.contains('large-text')")
    assert audit(page) == []
    page.get_by_test_id("whoami").click()
    assert page.get_by_test_id("large-text").get_attribute("aria-pressed") == "true"
    page.get_by_test_id("large-text").click()
    assert not page.evaluate("() => document.documentElement.classList.contains('large-text')")
