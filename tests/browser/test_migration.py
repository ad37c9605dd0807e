"""In a real browser (htmx polling the batch, CSRF on): the designer deploys version 2 of the clue
process, runs a dry run that shows who can and cannot move and why, migrates the movable
instances, follows the batch, reads the log and undoes one move."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from engine import Engine

from ..factories import ClueDriver
from ..unit.test_version_migration import stored, version_2
from .conftest import SignIn, open_menu_item


def test_dry_run_migrate_and_undo(page: Page, sign_in: SignIn, shoot: Callable[[str], Path],
                                  live_engine: Engine) -> None:
    first, second = ClueDriver(live_engine, enterprise_name="甲企业"), ClueDriver(live_engine, enterprise_name="乙企业")
    second.triage()
    blocked = ClueDriver(live_engine, enterprise_name="丙企业")
    blocked.triage(), blocked.assign(), blocked.plan()  # waits at Task_report, which version 2 renames
    version_2(live_engine)

    sign_in("designer")
    open_menu_item(page, "processes", re.compile("版本迁移|Version migration"))
    page.wait_for_url(re.compile(r"/migrations/$"))
    picker = page.get_by_test_id("pick-clue_handling")
    expect(picker.locator("select[name=from_version]")).to_have_value("1")
    expect(picker.locator("select[name=to_version]")).to_have_value("2")
    shoot("1-picker")
    picker.get_by_role("button").click()

    table = page.get_by_test_id("dry-run-table")
    expect(table.get_by_test_id("dry-run-row")).to_have_count(3)
    expect(table.locator('[data-can-move="yes"]')).to_have_count(2)
    cannot = table.locator(f'[data-instance="{blocked.instance_id}"]')
    expect(cannot).to_have_attribute("data-can-move", "no")
    expect(cannot.get_by_test_id("reason")).to_have_attribute("data-code", "task_missing")
    expect(cannot.get_by_test_id("reason")).to_contain_text("Task_report")
    expect(cannot.locator("input[type=checkbox]")).to_be_disabled()
    shoot("2-dry-run")

    page.get_by_test_id("migrate").click()
    result = page.get_by_test_id("migration-result")
    expect(result).to_have_attribute("data-moved", "2")
    expect(page.get_by_test_id("migration-progress")).to_have_attribute("data-state", "done")
    shoot("3-batch-done")
    assert stored(live_engine, first.instance_id)["version"] == 2
    assert stored(live_engine, second.instance_id)["version"] == 2
    assert stored(live_engine, blocked.instance_id)["version"] == 1

    result.get_by_role("link").click()
    log = page.get_by_test_id("migration-log")
    expect(log.get_by_test_id("log-row")).to_have_count(2)
    shoot("4-log")
    row = log.locator(f'[data-instance="{second.instance_id}"]')
    row.get_by_test_id("undo").click()
    expect(page.get_by_role("alert").first).to_contain_text(f"{second.instance_id}")
    expect(log.locator(f'[data-instance="{second.instance_id}"]')).to_have_attribute("data-undone", "yes")
    expect(log.locator(f'[data-instance="{first.instance_id}"]')).to_have_attribute("data-undone", "no")
    shoot("5-undone")
    assert stored(live_engine, second.instance_id)["version"] == 1
    assert live_engine.verify_history()["intact"]
