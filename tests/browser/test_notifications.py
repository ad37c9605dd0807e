"""In a real browser (htmx loaded, CSRF on): the bell fills in its count, the unit opens a
reminder from the notifications page; the office issues a supervision notice and lists the
clue from the panel on the clue page."""
from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from engine import Engine
from engine.ladder import advance_ladder
from engine.notifications import unread_count

from ..factories import ClueDriver
from .conftest import SignIn, sign_out


@pytest.fixture
def live_app(live_app: Flask) -> Flask:
    """The app with this issue's blueprints, whether or not webui/__init__.py registers them yet."""
    for name in ("notifications", "supervision"):
        if name not in live_app.blueprints:
            live_app.register_blueprint(importlib.import_module(f"webui.{name}").bp)
    return live_app


def test_bell_reminder_and_supervision(page: Page, sign_in: SignIn, shoot: Callable[[str], Path],
                                       live_engine: Engine) -> None:
    clue = ClueDriver(live_engine)
    clue.triage()
    clue.assign(deadline="2023-11-20")
    clue.plan()
    clue.at("2023-11-18T08:00:00")
    assert live_engine.run(advance_ladder) == 1  # the reminder three days before

    sign_in("unit")
    bell = page.get_by_test_id("bell")
    expect(bell.get_by_test_id("unread-count")).to_have_attribute("data-unread", "2")  # the assignment, the reminder
    shoot("1-bell")
    bell.click()
    page.wait_for_url(re.compile(r"/notifications/$"))
    expect(page.get_by_test_id("notifications")).to_contain_text("【到期提醒】")
    shoot("2-notifications")
    page.get_by_test_id("notifications").get_by_role("link", name=re.compile("到期提醒")).click()
    page.wait_for_url(re.compile(r"/tasks/[0-9a-f-]{36}$"))
    # the reminder opened is read; the assignment notice stays unread
    expect(page.get_by_test_id("bell").get_by_test_id("unread-count")).to_have_attribute("data-unread", "1")
    sign_out(page)

    sign_in("office")
    page.goto(f"/clues/{clue.clue_id}")
    panel = page.get_by_test_id("supervision-panel")
    panel.get_by_text("下发督办单").first.click()
    panel.get_by_label("督办事项").fill("请于11月25日前完成付款并报送凭证。")
    panel.get_by_label("督办期限（可选）").fill("2023-11-25")
    shoot("3-notice-form")
    panel.get_by_role("button", name="下发督办单").click()
    page.wait_for_url(re.compile(rf"/clues/{clue.clue_id}$"))
    expect(page.get_by_role("alert")).to_contain_text("督办单已下发")
    panel = page.get_by_test_id("supervision-panel")
    expect(panel.get_by_test_id("supervision-notices")).to_contain_text("请于11月25日前完成付款并报送凭证。")
    panel.get_by_label("挂牌（或取消挂牌）理由").fill("拖欠时间长、金额大")
    panel.get_by_role("button", name="挂牌督办").click()
    page.wait_for_url(re.compile(rf"/clues/{clue.clue_id}$"))
    expect(page.get_by_test_id("supervision-panel").get_by_test_id("listed")).to_be_visible()
    expect(page.get_by_test_id("timeline")).to_contain_text("督办单")
    shoot("4-listed")
    assert live_engine.run(unread_count, "unit") == 3  # the assignment, the notice and the listing
