"""In a real browser: the designer opens the clue process in the bpmn-js modeler, breaks a
gateway condition through the properties panel, deploys and is refused — the flow is marked on
the diagram and listed — fixes it and deploys version 2. A clue started afterwards runs on
version 2 while one started before finishes on version 1; the diff page marks the change."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from engine import Engine
from engine.designer import list_definitions

from ..factories import ClueDriver
from .conftest import SignIn


def instances_by_version(engine: Engine) -> dict[int, dict[str, int]]:
    clue = next(p for p in engine.run(list_definitions, "designer") if p["process_id"] == "clue_handling")
    return {v["version"]: v["instances"] for v in clue["versions"]}


def set_condition(page: Page, text: str, via_problem: bool = False) -> None:
    if via_problem:  # a listed problem selects its element
        page.get_by_test_id("problem-list").locator('[data-element-id="Flow_accepted"]').click()
    else:  # a straight flow has a zero-height box, which Playwright calls invisible
        page.locator('#canvas g.djs-connection[data-element-id="Flow_accepted"]').click(force=True)
    expect(page.get_by_test_id("panel-type")).to_have_text("SequenceFlow")
    expect(page.locator("#prop-id")).to_have_value("Flow_accepted")
    page.locator("#prop-condition").fill(text)


def test_break_refuse_fix_deploy(page: Page, sign_in: SignIn, shoot: Callable[[str], Path], live_engine: Engine) -> None:
    old = ClueDriver(live_engine)
    old.triage()

    sign_in("designer")
    page.goto("/designer/")
    expect(page.get_by_test_id("versions-clue_handling").get_by_test_id("version-row")).to_have_count(1)
    shoot("1-definitions")
    page.get_by_test_id("versions-clue_handling").locator('a[href$="/clue_handling/1/edit"]').click()
    page.wait_for_url(re.compile(r"/designer/processes/clue_handling/1/edit$"))
    expect(page.get_by_test_id("import-status")).to_have_attribute("data-state", "ok")

    # The panel shows what the engine reads from a user task.
    page.locator('#canvas [data-element-id="Task_plan"]').click()
    expect(page.locator("#prop-formKey")).to_have_value("rectification_plan")
    expect(page.locator("#prop-candidateUnit")).to_have_value("responsible_unit")
    expect(page.locator("#prop-lane option:checked")).to_have_text("责任单位")
    # spiffworkflow properties written through the panel: added to a task's existing list, and
    # to an end event that has no extension elements yet.
    page.locator('#canvas [data-element-id="Task_referral"]').click()
    expect(page.locator("#prop-flag")).to_have_value("referred")
    page.locator("#prop-stage").fill("closed")
    page.locator("#prop-stage").press("Tab")
    page.locator('#canvas [data-element-id="End_no_referral"]').click()
    expect(page.locator("#prop-stage")).to_have_value("")
    page.locator("#prop-stage").fill("closed")
    page.locator("#prop-stage").press("Tab")
    # Choosing a lane moves the shape into it.
    expect(page.locator("#prop-lane option:checked")).to_have_text("纪检监察机关")
    page.locator("#prop-lane").select_option(label="抽查组")
    expect(page.locator("#prop-lane option:checked")).to_have_text("抽查组")

    set_condition(page, "accepted ==")
    page.locator("[data-action=deploy]").click()
    expect(page.get_by_test_id("refused")).to_be_visible()
    problem = page.get_by_test_id("problem-list").locator('[data-element-id="Flow_accepted"]')
    expect(problem).to_have_attribute("data-marked", "true")
    expect(problem).to_contain_text("condition")
    expect(page.locator('#canvas g.djs-element.marker-problem[data-element-id="Flow_accepted"]')).to_have_count(1)
    expect(page.locator("#canvas .problem-badge")).to_have_count(1)
    shoot("2-refused")
    assert [d["version"] for d in live_engine.definitions() if d["process_id"] == "clue_handling"] == [1]

    set_condition(page, "accepted == True and as_amount(amount_owed) > 0", via_problem=True)
    page.locator("[data-action=validate]").click()
    expect(page.get_by_test_id("validation-ok")).to_be_visible()
    expect(page.locator("#canvas .marker-problem")).to_have_count(0)
    page.locator("[data-action=deploy]").click()
    page.wait_for_url(re.compile(r"/designer/processes/clue_handling/2$"))
    expect(page.get_by_test_id("version")).to_have_text("v2")
    expect(page.locator('[data-diagram][data-state="ok"]')).to_have_count(2)  # the BPMN and the DMN viewers
    shoot("3-version-2")

    new = ClueDriver(live_engine)
    new.triage()
    old.assign()
    old.plan()
    old.report()
    old.review(approved=True)
    assert old.stage == "closed" and new.stage == "assigning"
    assert instances_by_version(live_engine) == {2: {"running": 1}, 1: {"completed": 1}}

    page.goto("/designer/processes/clue_handling/diff")
    expect(page.get_by_test_id("new-diagram")).to_have_attribute("data-marked", "3")
    expect(page.locator('[data-testid="new-diagram"] g.djs-element.diff-changed[data-element-id="Flow_accepted"]')).to_have_count(1)
    changes = page.get_by_test_id("changes").first
    expect(changes).to_contain_text("as_amount(amount_owed) > 0")
    for element, rows in (("Flow_accepted", 1), ("Task_referral", 1), ("End_no_referral", 2)):
        expect(changes.locator(f'tr[data-change="changed"][data-element-id="{element}"]')).to_have_count(rows)
    expect(changes.locator('tr[data-element-id="End_no_referral"] td', has_text="lane")).to_have_count(1)
    expect(changes.locator("tr")).to_have_count(5)  # the header and four changes (two on the end event): nothing else
    expect(page.locator('[data-testid="new-diagram"] g.djs-element.diff-changed')).to_have_count(3)
    shoot("4-diff")

    # The decision table of version 2 opens in the DMN modeler.
    page.goto("/designer/processes/clue_handling/2/edit?file=triage_routing.dmn")
    expect(page.get_by_test_id("import-status")).to_have_attribute("data-state", "ok")
    expect(page.locator("#canvas .tjs-table")).to_be_visible()
    expect(page.locator("#canvas")).to_contain_text("arrears_public")
    shoot("5-decision-table")
