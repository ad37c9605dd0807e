"""A unit handler opens a task from the inbox, submits an invalid form, sees each message beside
its field, fixes the form and submits it — on a desktop screen and on a phone."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine import Engine

from ..factories import ClueDriver
from .conftest import DESKTOP, PHONE, SignIn


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_unit_fixes_an_invalid_form_and_submits(page: Page, sign_in: SignIn, shoot: Callable[[str], Path],
                                                live_engine: Engine) -> None:
    clue = ClueDriver(live_engine)
    clue.triage()
    clue.assign()  # to 曾都区 (zengdu), the demo user "unit"

    sign_in("unit")
    inbox = page.get_by_test_id("inbox")
    expect(inbox.locator("tbody tr")).to_have_count(1)
    expect(inbox).to_contain_text("制定整改方案")
    shoot("1-inbox")

    inbox.get_by_role("link", name="制定整改方案").click()
    page.wait_for_url(re.compile(r"/tasks/[0-9a-f-]{36}$"))
    form = page.get_by_test_id("task-form")
    expect(page.locator("h1")).to_contain_text("制定整改方案")
    expect(page.get_by_test_id("clue-summary")).to_contain_text("随州市恒达建材有限公司")
    expect(form.get_by_label("整改措施")).to_be_visible()
    shoot("2-form")

    # Invalid: measures typed, a phone number that is not one, everything else left empty.
    form.get_by_label("整改措施").fill("分期支付")
    form.get_by_label("联系电话").fill("12")
    form.get_by_role("button", name="提交").click()
    page.wait_for_load_state()
    errors = form.locator("[data-error]")
    expect(errors.first).to_be_visible()
    shown = {errors.nth(i).get_attribute("data-error") for i in range(errors.count())}
    assert shown == {"plan_deadline", "responsible_leader", "responsible_person", "contact_phone"}
    for name in shown:
        message = form.locator(f'[data-field="{name}"] [data-error="{name}"]')  # in the field's own block
        expect(message).to_be_visible()
        expect(message).not_to_be_empty()
        expect(form.locator(f'[data-field="{name}"] [name="{name}"]')).to_have_class(re.compile(r"\bis-invalid\b"))
        _assert_beside(page, f'[data-field="{name}"] [name="{name}"]', f'[data-error="{name}"]')
    expect(form.locator('[data-error="measures"]')).to_have_count(0)
    expect(form.get_by_label("整改措施")).to_have_value("分期支付")  # nothing typed is lost
    expect(form.get_by_label("联系电话")).to_have_value("12")
    assert clue.ready() == ["Task_plan"]
    shoot("3-invalid")

    form.locator('[name="plan_deadline"]').fill("2023-11-15")
    form.get_by_label("责任领导").fill("王明 副区长")
    form.get_by_label("具体责任人").fill("张伟 财政局局长")
    form.get_by_label("联系电话").fill("13800000001")
    shoot("4-fixed")
    form.get_by_role("button", name="提交").click()

    page.wait_for_url(re.compile(r"/inbox/$"))
    expect(page.locator(".alert-success")).to_contain_text("已提交：制定整改方案")
    expect(page.get_by_test_id("inbox")).to_contain_text("整改并反馈销号")  # the next step is the unit's too
    shoot("5-submitted")
    assert clue.ready() == ["Task_report"]
    plan = [e for e in live_engine.clue_history(clue.clue_id)["events"] if e["element_id"] == "Task_plan" and e["data"]]
    assert plan[-1]["actor"] == "unit" and plan[-1]["data"]["responsible_leader"] == "王明 副区长"


def _assert_beside(page: Page, field: str, message: str) -> None:
    """The message sits right under its input, overlapping it horizontally."""
    box = page.locator(field).bounding_box()
    note = page.locator(message).bounding_box()
    assert box is not None and note is not None
    assert 0 <= note["y"] - (box["y"] + box["height"]) < 40, (box, note)
    assert note["x"] < box["x"] + box["width"] and box["x"] < note["x"] + note["width"], (box, note)
