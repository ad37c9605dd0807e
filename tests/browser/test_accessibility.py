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
from webui import create_app

from .conftest import SignIn, sign_out

AXE = Path(__file__).resolve().parents[2] / "webui" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}
TODAY = "2026-12-07"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(parse_moment(f"{TODAY}T09:00:00"))


@pytest.fixture
def live_app(database_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({
        "SECRET_KEY": "test", "WTF_CSRF_ENABLED": True, "DATABASE_URL": database_url,
        "EVIDENCE_DIR": str(tmp_path / "evidence"), "IMPORT_DIR": str(tmp_path / "imports"), "CLOCK": clock,
    })
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
