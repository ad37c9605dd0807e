"""In a real browser: a supervisor opens a clue that was sent back twice and chased, sees the
diagram (bpmn-js, served locally) with the visit count of each element and the current task,
the full timeline and the intact record, then suspends it with a reason."""
from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from engine import Engine

from ..unit.test_instance_view import sendbacks_and_chase
from .conftest import SignIn


@pytest.fixture
def live_app(live_app: Flask) -> Flask:
    """The app with the instances blueprint, whether or not webui/__init__.py registers it yet."""
    if "instances" not in live_app.blueprints:
        live_app.register_blueprint(importlib.import_module("webui.instances").bp)
    return live_app


def test_supervisor_sees_visits_and_the_timeline(page: Page, sign_in: SignIn, shoot: Callable[[str], Path],
                                                 live_engine: Engine) -> None:
    clue = sendbacks_and_chase(live_engine, close=False)
    events = len(live_engine.clue_history(clue.clue_id)["events"])

    sign_in("supervisor")
    page.locator('nav [data-menu="supervision"] .dropdown-toggle').click()
    page.locator("nav a[href='/instances/']").click()
    page.wait_for_url(re.compile(r"/instances/$"))
    page.locator(f"tr[data-instance='{clue.instance_id}'] a[href='/instances/{clue.instance_id}']").click()
    page.wait_for_url(re.compile(rf"/instances/{clue.instance_id}$"))

    diagram = page.get_by_test_id("diagram")
    expect(diagram).to_have_attribute("data-ready", "1")
    counts = {name: diagram.locator(f".visit-count[data-element='{name}']")
              for name in ("Task_report", "Task_review", "Script_sendback", "Task_chase", "Task_plan")}
    for name, expected in (("Task_report", "3"), ("Task_review", "2"), ("Script_sendback", "2"),
                           ("Task_chase", "1"), ("Task_plan", "1")):
        expect(counts[name]).to_have_text(expected)
    expect(diagram.locator("g.djs-element.instance-current[data-element-id='Task_report']")).to_have_count(1)
    expect(diagram.locator("g.djs-element.instance-taken[data-element-id='Flow_send_back']")).to_have_count(1)
    expect(diagram.locator("g.djs-element.instance-visited[data-element-id='Task_spot_check']")).to_have_count(0)

    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator("tbody tr")).to_have_count(events)
    expect(timeline.locator("tr[data-element='Task_review']")).to_have_count(2)
    expect(timeline.locator("tr[data-element='Task_chase']")).to_contain_text("电话催办")
    expect(timeline.locator("tr[data-element='Script_sendback']").last).to_contain_text("2023-11-28")
    expect(page.get_by_test_id("chain")).to_have_attribute("data-intact", "1")
    diagram.scroll_into_view_if_needed()
    shoot("1-instance")

    suspend = page.locator("form[data-action='suspend']")
    suspend.locator("input[name=reason]").fill("等待审计结论")
    suspend.locator("button").click()
    page.wait_for_url(re.compile(rf"/instances/{clue.instance_id}$"))
    expect(page.locator("[data-status='suspended']").first).to_be_visible()
    expect(timeline.locator("tr[data-kind='instance_suspended']")).to_contain_text("等待审计结论")
    expect(timeline.locator("tbody tr")).to_have_count(events + 1)
    expect(page.get_by_test_id("chain")).to_have_attribute("data-intact", "1")
    shoot("2-suspended")
