"""At 1366×900 the navigation bar fits: no label wraps onto a second line, and the menus open."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import SignIn


@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": 1366, "height": 900}


@pytest.mark.parametrize("role", ["office", "supervisor", "admin"])
def test_nav_labels_stay_on_one_line(page: Page, sign_in: SignIn, shoot: Callable[[str], Path], role: str) -> None:
    sign_in(role)
    nav = page.locator("nav.navbar")
    links = nav.locator(".navbar-nav > .nav-item > .nav-link")
    assert links.count() >= 3
    for index in range(links.count()):
        link = links.nth(index)
        one_line = link.evaluate("e => { const s = getComputedStyle(e); const line = parseFloat(s.lineHeight) || "
                                 "parseFloat(s.fontSize) * 1.5; return e.getBoundingClientRect().height - "
                                 "parseFloat(s.paddingTop) - parseFloat(s.paddingBottom) < line * 1.5; }")
        assert one_line, f"{role}: nav label {link.inner_text()!r} wraps"
    bar = nav.bounding_box()
    assert bar is not None and bar["height"] < 80, f"{role}: the bar is {bar} tall"
    menu = nav.locator('[data-menu="supervision"] .dropdown-toggle')
    if menu.count():
        menu.click()
        expect(nav.locator('[data-menu="supervision"] .dropdown-menu')).to_be_visible()
    shoot(f"nav-{role}")
    assert re.search(r"\S", nav.inner_text())
