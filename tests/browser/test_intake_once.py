"""登记 in the browser (issue 11, defects 8 and 5): a double click registers one clue; Back and
submit again lands on that clue; signing out in another tab before submitting keeps the text,
which is back in the form after signing in; a local draft comes back when the page is reopened."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import func, select

from engine import Engine
from engine.db.models import Clue
from engine.demo import DEMO_PASSWORD

from .conftest import SignIn, sign_out

SUMMARY = "道路工程款自2022年起逾期未付，企业多次催要无果。"


def clue_count(engine: Engine) -> int:
    with engine.transaction() as ctx:
        return ctx.session.scalar(select(func.count()).select_from(Clue)) or 0


def fill_intake(page: Page, enterprise: str = "随州市恒达建材有限公司") -> None:
    page.goto("/clues/new")
    form = page.get_by_test_id("intake-form")
    form.locator('[name="source"]').select_option("leadership")
    form.locator('[name="enterprise_name"]').fill(enterprise)
    form.locator('[name="debtor"]').fill("曾都区某街道办事处")
    form.locator('[name="summary"]').fill(SUMMARY)
    form.locator('[name="amount_owed"]').fill("50000")


def test_double_click_on_register_makes_one_clue(page: Page, sign_in: SignIn, shoot: Callable[[str], Path],
                                                 live_engine: Engine) -> None:
    sign_in("office")
    fill_intake(page)
    shoot("1-filled")
    page.get_by_test_id("intake-form").get_by_role("button", name="登记").dblclick()
    page.wait_for_url(re.compile(r"/clues/\d+$"))
    page.wait_for_load_state("networkidle")
    shoot("2-registered")
    assert clue_count(live_engine) == 1

    page.go_back()
    page.wait_for_url(re.compile(r"/clues/new$"))
    button = page.get_by_test_id("intake-form").get_by_role("button", name="登记")
    expect(button).to_be_enabled()  # a page from the back/forward cache can be submitted again
    button.click()
    page.wait_for_url(re.compile(r"/clues/\d+$"))
    shoot("3-resubmitted")
    assert clue_count(live_engine) == 1
    expect(page.get_by_role("alert").filter(has_text="该线索已登记，未重复提交")).to_be_visible()


def test_signed_out_in_another_tab_the_typed_text_survives(page: Page, context: BrowserContext, sign_in: SignIn,
                                                           shoot: Callable[[str], Path], live_engine: Engine) -> None:
    sign_in("office")
    fill_intake(page)
    other = context.new_page()
    other.goto("/inbox/")
    sign_out(other)
    other.wait_for_url(re.compile(r"/auth/login"))
    other.close()

    page.get_by_test_id("intake-form").get_by_role("button", name="登记").click()
    page.wait_for_url(re.compile(r"/auth/login"))
    expect(page.get_by_role("alert").filter(has_text="请重新登录后再提交，您填写的内容已保留")).to_be_visible()
    shoot("1-signed-out")
    assert clue_count(live_engine) == 0
    page.locator("#username").fill("office")
    page.locator("#password").fill(DEMO_PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/clues/new$"))
    form = page.get_by_test_id("intake-form")
    expect(form.locator('[name="summary"]')).to_have_value(SUMMARY)
    expect(form.locator('[name="enterprise_name"]')).to_have_value("随州市恒达建材有限公司")
    expect(page.get_by_role("alert").filter(has_text="已恢复您重新登录前填写的内容")).to_be_visible()
    shoot("2-restored")
    form.get_by_role("button", name="登记").click()
    page.wait_for_url(re.compile(r"/clues/\d+$"))
    assert clue_count(live_engine) == 1


def test_a_local_draft_comes_back_and_goes_once_submitted(page: Page, sign_in: SignIn,
                                                          shoot: Callable[[str], Path]) -> None:
    sign_in("office")
    fill_intake(page, enterprise="随州市草稿测试有限公司")
    page.goto("/inbox/")  # left without submitting
    page.goto("/clues/new")
    form = page.get_by_test_id("intake-form")
    expect(page.get_by_test_id("draft-restored")).to_be_visible()
    expect(form.locator('[name="enterprise_name"]')).to_have_value("随州市草稿测试有限公司")
    expect(form.locator('[name="summary"]')).to_have_value(SUMMARY)
    shoot("1-draft")
    form.get_by_role("button", name="登记").click()
    page.wait_for_url(re.compile(r"/clues/\d+$"))
    page.goto("/clues/new")
    expect(page.get_by_test_id("draft-restored")).to_have_count(0)
    expect(page.get_by_test_id("intake-form").locator('[name="summary"]')).to_have_value("")
