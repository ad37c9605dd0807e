"""The whole campaign in the browser, as its people click it, from the demo data alone.

The server is the one `make run` serves: the demo loaded with `chengxin demo` (today falls in
its spot-check phase) and the timer scheduler running in the process. After that the test
only clicks: the office registers one clue of each of the four tasks, triages it, the routed
group picks the unit from the list, the unit plans and reports with an evidence file, the
office sends one back (the unit sees why) and approves, the spot-check team checks, and one
clue found faked ends with the discipline office. Every page visited is screenshotted, and
any 5xx, JavaScript error, `\\u` escape or raw process id in the visible text fails the walk.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Locator, Page, Response, expect

from engine import Engine, FixedClock
from engine.clock import parse_moment
from engine.demo import load_demo
from engine.scheduler import start_in_background

from .conftest import SignIn, app_for_test, open_menu_item, sign_out

TODAY = "2026-12-07"
# What a person must never read: escaped JSON, BPMN ids, event kinds, lane and category codes.
RAW = re.compile(r"\\u[0-9a-fA-F]{4}|\bTask_\w+|\b(Gateway|Script|Timer|Flow|Lane)_\w+|\binstance_started\b|"
                 r"\btask_completed\b|\b(work_group|responsible_unit|spot_check|clue_handling)\b|"
                 r"\b(arrears_public|arrears_soe|enterprise_platform|letters_visits)\b")

# One clue of each task of the notice: (triage category label, routed group's user, the summary).
CLUES = [
    ("机关事业单位拖欠账款", "group_arrears_public", "市政道路工程款拖欠两年未付", "随州市恒达建材有限公司", "1280000"),
    ("惠企政策兑现", "group_policy", "省“30条”技改补贴已审批未拨付", "随州市楚风机械有限公司", "450000"),
    ("招商引资政策兑现", "group_investment", "招商协议约定的落户奖励未兑现", "湖北神农食品有限公司", "3000000"),
    ("政府守信践诺", "office", "政府换届后以新领导不知情为由不履行厂房租金减免承诺", "随州市广源纺织有限公司", "210000"),
]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(parse_moment(f"{TODAY}T09:00:00"))


@pytest.fixture
def live_app(database_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[Flask]:
    app = app_for_test(database_url, clock, tmp_path)
    engine: Engine = app.extensions["chengxin_engine"]
    load_demo(engine)
    scheduler = start_in_background(engine, interval_seconds=0.3)  # as `chengxin serve` runs it
    yield app
    scheduler.shutdown(wait=True)
    engine.dispose()


def field(scope: Page | Locator, label: str) -> Locator:
    """A form field by its label as shown (a required one's label ends in an asterisk hidden
    from screen readers, which Playwright's label match still reads)."""
    return scope.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$"))


class Walk:
    """Clicks through pages, checking and screenshotting each one."""

    def __init__(self, page: Page, sign_in: SignIn, shoot: Callable[[str], Path]) -> None:
        self.page, self._sign_in, self._shoot = page, sign_in, shoot
        self.step = 0
        self.server_errors: list[str] = []
        page.on("response", self._response)

    def _response(self, response: Response) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.request.method} {response.url}")

    def look(self, what: str) -> None:
        # Panels that load themselves (evidence, supervision) replace their placeholder.
        self.page.wait_for_function("() => !document.querySelector('[hx-trigger=\"load\"]')")
        self.step += 1
        self._shoot(f"{self.step:02d}-{what}")
        text = self.page.locator("body").inner_text()
        raw = RAW.search(text)
        assert raw is None, f"{what} ({self.page.url}) shows {raw.group(0)!r}: …{text[max(0, raw.start() - 80):raw.end() + 80]}…"
        assert self.server_errors == [], self.server_errors

    def sign_in(self, username: str) -> None:
        if self.page.get_by_test_id("whoami").count():
            sign_out(self.page)
        self._sign_in(username)
        self.look(f"inbox-{username}")

    def open_task(self, clue_id: int, title: str, wait_s: float = 0) -> None:
        """From the inbox, the task of this clue (waiting for the scheduler when it is a timer's)."""
        row = self.page.get_by_test_id("inbox").locator("tr", has=self.page.locator(f'a[href="/clues/{clue_id}"]'))
        task_link = row.get_by_role("link", name=title)
        deadline = wait_s
        while wait_s and task_link.count() == 0 and deadline > 0:
            self.page.wait_for_timeout(500)
            deadline -= 0.5
            self.page.reload()
        task_link.first.click()
        self.page.wait_for_url(re.compile(r"/tasks/[0-9a-f-]{36}$"))
        self.look(f"task-{clue_id}-{title}")

    def submit(self, done: str) -> None:
        self.page.get_by_test_id("task-form").get_by_role("button", name="提交").click()
        self.page.wait_for_url(re.compile(r"/inbox/"))
        expect(self.page.locator(".alert-success").first).to_contain_text(done)
        self.look(f"submitted-{done}")


@pytest.fixture
def walk(page: Page, sign_in: SignIn, shoot: Callable[[str], Path]) -> Walk:
    return Walk(page, sign_in, shoot)


def test_the_campaign_end_to_end_through_the_pages(walk: Walk, page: Page, tmp_path: Path) -> None:
    deadline = (parse_moment(f"{TODAY}T09:00:00") + timedelta(days=20)).date().isoformat()
    completed_on = TODAY
    evidence = tmp_path / "付款凭证.txt"
    evidence.write_text("银行回单：已支付全部工程款。\n", encoding="utf-8")

    # The office registers one clue of each task.
    walk.sign_in("office")
    clue_ids = []
    for _label, _group, summary, enterprise, amount in CLUES:
        open_menu_item(page, "clues", "线索登记")
        walk.look("intake")
        form = page.get_by_test_id("intake-form")
        field(form, "线索来源").select_option(label="非公有制企业服务平台投诉")
        field(form, "企业名称").fill(enterprise)
        field(form, "失信（拖欠）主体").fill("曾都区某街道办事处")
        field(form, "问题概述").fill(summary)
        field(form, "拖欠金额（元）").fill(amount)
        form.get_by_role("button", name="登记").click()
        page.wait_for_url(re.compile(r"/clues/\d+$"))
        clue_ids.append(int(page.url.rsplit("/", 1)[1]))
        walk.look("registered")

    # Triage: category, level, key problem (a checkbox).
    page.get_by_role("link", name="待办").first.click()
    for clue_id, (label, _group, *_rest) in zip(clue_ids, CLUES):
        walk.open_task(clue_id, "分析研判")
        expect(page.get_by_test_id("earlier-step").first).to_contain_text("企业名称")
        page.get_by_label("受理", exact=True).check()
        field(page, "问题类别").select_option(label=label)
        page.get_by_label("市级", exact=True).check()
        field(page, "重点问题").check()
        walk.submit("分析研判")

    # The routed group picks the unit by its name.
    for clue_id, (_label, group, *_rest) in zip(clue_ids, CLUES):
        walk.sign_in(group)
        walk.open_task(clue_id, "交办责任单位")
        unit = field(page, "责任单位")
        assert unit.locator("option").count() > 5, "the unit list is empty"
        unit.select_option(label="曾都区人民政府")
        field(page, "办结时限").fill(deadline)
        field(page, "交办意见").fill("请于期限内整改到位并书面反馈。")
        walk.submit("交办责任单位")

    # The unit is told, plans and reports with an evidence file.
    walk.sign_in("unit")
    expect(page.get_by_test_id("bell")).to_contain_text(re.compile(r"\d+"))
    for clue_id in clue_ids:
        walk.open_task(clue_id, "制定整改方案")
        field(page, "整改措施").fill("制定分期付款计划，本月内付清。")
        field(page, "整改时限").fill(deadline)
        field(page, "责任领导").fill("王副区长")
        field(page, "具体责任人").fill("李科长")
        field(page, "联系电话").fill("13807220000")
        walk.submit("制定整改方案")
        walk.open_task(clue_id, "整改并反馈销号")
        page.get_by_test_id("evidence-upload").locator("input[type=file]").set_input_files(str(evidence))
        page.get_by_test_id("evidence-upload").get_by_role("button", name="上传").click()
        expect(page.get_by_test_id("evidence-list")).to_contain_text("付款凭证.txt")
        walk.look(f"evidence-{clue_id}")
        field(page, "已支付金额（元）").fill(CLUES[clue_ids.index(clue_id)][4])
        field(page, "整改情况").fill("已全额支付。")
        field(page, "佐证材料说明").fill("银行回单一份。")
        field(page, "完成日期").fill(completed_on)
        walk.submit("整改并反馈销号")

    # The office reads the report on top of the review, sends the first back once, approves the rest.
    walk.sign_in("office")
    first = clue_ids[0]
    walk.open_task(first, "审核销号")
    expect(page.get_by_test_id("shown-step")).to_contain_text("已全额支付。")
    expect(page.get_by_test_id("shown-step")).to_contain_text("1,280,000.00 元")
    expect(page.get_by_test_id("shown-step")).to_contain_text("付款凭证.txt")
    page.get_by_label("退回整改", exact=True).check()
    field(page, "审核意见").fill("付款凭证缺少银行盖章，请补充后重新反馈。")
    field(page, "重新整改时限").fill(deadline)
    walk.submit("审核销号")

    walk.sign_in("unit")
    walk.open_task(first, "整改并反馈销号")
    banner = page.get_by_test_id("sent-back")
    expect(banner).to_contain_text("付款凭证缺少银行盖章，请补充后重新反馈。")
    expect(field(page, "整改情况")).to_have_value("已全额支付。")  # prefilled from last time
    field(page, "整改情况").fill("已全额支付，补充盖章银行回单。")
    walk.submit("整改并反馈销号")

    walk.sign_in("office")
    for clue_id in clue_ids:
        walk.open_task(clue_id, "审核销号")
        page.get_by_label("同意销号", exact=True).check()
        field(page, "审核意见").fill("整改到位，同意销号。")
        walk.submit("审核销号")

    # Key problems are spot-checked: the scheduler opens the checks (today is in that phase).
    spot_checkers = {"group_arrears_public": "spotcheck_arrears_public", "group_policy": "spotcheck_policy",
                     "group_investment": "spotcheck_investment", "office": "office"}
    faked = clue_ids[1]
    for clue_id, (_label, group, *_rest) in zip(clue_ids, CLUES):
        walk.sign_in(spot_checkers[group])
        walk.open_task(clue_id, "实地抽查", wait_s=10)
        page.get_by_label("虚假整改" if clue_id == faked else "真改实改", exact=True).check()
        page.get_by_test_id("task-form").locator('[data-field="misconduct"]').get_by_label("否", exact=True).check()
        field(page, "抽查发现").fill("补贴并未拨付，报送的拨付凭证系伪造。" if clue_id == faked else "现场核实已付清。")
        field(page, "抽查日期").fill(TODAY)
        if clue_id == faked:
            field(page, "重新整改期限").fill(deadline)
        walk.submit("实地抽查")

    # The faked one goes to the discipline office.
    walk.sign_in("discipline")
    walk.open_task(faked, "纪检监察受理", wait_s=5)
    expect(page.get_by_test_id("earlier-step").last).to_contain_text("虚假整改")
    page.get_by_label("受理", exact=True).check()
    field(page, "案件编号").fill("随纪移〔2026〕1号")
    walk.submit("纪检监察受理")

    # The office sees where each clue ended, in Chinese.
    walk.sign_in("office")
    for clue_id in clue_ids:
        page.goto(f"/clues/{clue_id}")
        walk.look(f"clue-{clue_id}-end")
        expect(page.get_by_test_id("timeline")).to_contain_text("实地抽查")
