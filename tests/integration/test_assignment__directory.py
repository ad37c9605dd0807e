"""Issue 18 item 10: a clue cannot be handed to a unit or work group that does not exist, on any
path: the work group's assignment (page, API, engine, even with a form that lost its option
list), the office's triage (the routing table decides the group; extra fields are refused) and a
supervisor's reassignment."""
from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import Engine, ValidationFailed
from engine.supervisor_actions import reassign

from ..factories import ClueDriver
from .test_api import token_for

GHOST = "no_such_unit"


def bearer(engine: Engine, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(engine, username)}"}


@pytest.fixture
def triaged(web_engine: Engine) -> ClueDriver:
    clue = ClueDriver(web_engine)
    clue.triage()
    return clue


def test_the_engine_refuses_a_unit_outside_the_directory(web_engine: Engine, triaged: ClueDriver) -> None:
    with pytest.raises(ValidationFailed) as refused:
        triaged.do("Task_assign", "group", {"responsible_unit": GHOST, "deadline": "2023-11-20"})
    assert "responsible_unit" in refused.value.fields
    assert triaged.ready() == ["Task_assign"] and triaged.show()["responsible_unit"] is None


def test_a_form_without_its_option_list_still_cannot_assign_a_ghost_unit(
        web_engine: Engine, triaged: ClueDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    # A designer's edited form that dropped `"options": "units"` is checked all the same.
    form = web_engine.runtime.forms.get("assign")
    monkeypatch.delitem(form.ui["fields"]["responsible_unit"], "options")
    with pytest.raises(ValidationFailed) as refused:
        triaged.do("Task_assign", "group", {"responsible_unit": GHOST, "deadline": "2023-11-20"})
    assert refused.value.fields == {"responsible_unit": "责任单位不存在，请从列表中选择"}
    triaged.assign(unit="suixian")
    assert triaged.show()["responsible_unit"] == "suixian"


def test_the_api_refuses_a_ghost_unit_and_extra_assignments_at_triage(app: Flask, client: FlaskClient,
                                                                       web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    office = bearer(web_engine, "office")
    triage = clue.task_id("Task_triage")
    smuggled = client.post(f"/api/tasks/{triage}/complete", headers=office, json={"data": {
        "accepted": True, "category": "arrears_public", "level": "city", "work_group": "ghost_group",
        "responsible_unit": GHOST}})
    assert smuggled.status_code == 422 and clue.ready() == ["Task_triage"]
    clue.triage()
    assign = clue.task_id("Task_assign")
    answer = client.post(f"/api/tasks/{assign}/complete", headers=bearer(web_engine, "group"),
                         json={"data": {"responsible_unit": GHOST, "deadline": "2023-11-20"}})
    assert answer.status_code == 422 and "responsible_unit" in answer.get_json()["fields"]
    assert clue.ready() == ["Task_assign"] and clue.show()["responsible_unit"] is None


def test_the_task_page_refuses_a_ghost_unit(client: FlaskClient, web_engine: Engine, triaged: ClueDriver) -> None:
    from engine.demo import DEMO_PASSWORD
    assert client.post("/auth/login", data={"username": "group", "password": DEMO_PASSWORD}).status_code == 302
    page = client.post(f"/tasks/{triaged.task_id('Task_assign')}",
                       data={"responsible_unit": GHOST, "deadline": "2023-11-20"})
    assert page.status_code == 422 and triaged.ready() == ["Task_assign"]


def test_a_supervisor_cannot_reassign_to_a_ghost_unit(client: FlaskClient, web_engine: Engine,
                                                      triaged: ClueDriver) -> None:
    triaged.assign()
    with pytest.raises(ValidationFailed):
        web_engine.run(reassign, "supervisor", triaged.instance_id, GHOST, "换单位")
    from engine.demo import DEMO_PASSWORD
    assert client.post("/auth/login", data={"username": "supervisor", "password": DEMO_PASSWORD}).status_code == 302
    page = client.post(f"/instances/{triaged.instance_id}/reassign", data={"unit": GHOST, "reason": "换单位"})
    assert page.status_code in (302, 422)
    assert triaged.show()["responsible_unit"] == "zengdu"
