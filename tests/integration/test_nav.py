"""The navigation shows each role only what it may open, grouped in menus; the favicon is served."""
from __future__ import annotations

import re

import pytest
from flask import Flask

from engine.demo import DEMO_PASSWORD

ROLES = ["office", "group", "unit", "spotcheck", "discipline", "designer", "supervisor", "admin"]


def nav_links(html: str) -> list[str]:
    nav = re.search(r'<nav class="navbar.*?</nav>', html, re.S)
    assert nav
    return [h for h in re.findall(r'href="([^"#]+)"', nav.group(0)) if not h.startswith("/static/")]


@pytest.mark.parametrize("role", ROLES)
def test_every_link_a_role_is_shown_opens(app: Flask, role: str) -> None:
    client = app.test_client()
    assert client.post("/auth/login", data={"username": role, "password": DEMO_PASSWORD}).status_code == 302
    links = set(nav_links(client.get("/inbox/").get_data(as_text=True)))
    designer = client.get("/designer/")
    if designer.status_code == 200:  # the designer's own tabs, 版本迁移 among them
        tabs = re.search(r'data-testid="designer-nav".*?</ul>', designer.get_data(as_text=True), re.S)
        links |= set(re.findall(r'href="([^"#]+)"', tabs.group(0))) if tabs else set()
    assert "/ledger/" in links
    for href in sorted(links):
        status = client.get(href).status_code
        assert status in (200, 302), f"{role} is shown {href} but gets {status}"
    shown_migration = "/migrations/" in links
    assert shown_migration is (role in ("designer", "admin")), role


def test_office_menus_group_the_pages(app: Flask) -> None:
    client = app.test_client()
    client.post("/auth/login", data={"username": "office", "password": DEMO_PASSWORD})
    html = client.get("/inbox/").get_data(as_text=True)
    menus = re.findall(r'<li class="nav-item dropdown" data-menu="(\w+)">', html)
    assert menus == ["clues", "supervision", "processes"]
    assert html.count('class="dropdown-item" href=') >= 10


def test_favicon_is_served_and_linked(app: Flask) -> None:
    client = app.test_client()
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert 'rel="icon"' in client.get("/auth/login").get_data(as_text=True)
