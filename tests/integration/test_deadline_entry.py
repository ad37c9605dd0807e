"""The task form offers a deadline in working days, previews the date with htmx, and stores it."""
from __future__ import annotations

import re

from flask.testing import FlaskClient

from engine import Engine, FixedClock
from engine.clock import parse_moment

from ..factories import ClueDriver
from .conftest import AuthActions


def test_assignment_form_previews_and_stores_a_working_day_deadline(client: FlaskClient, auth: AuthActions,
                                                                     web_engine: Engine, clock: FixedClock) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    clock.set(parse_moment("2023-09-28T09:00:00"))
    task_id = clue.task_id("Task_assign")
    auth.login("group")
    page = client.get(f"/tasks/{task_id}?lang=en").get_data(as_text=True)
    field = re.search(r'<input[^>]*name="deadline_workdays"[^>]*>', page, re.S)
    assert field is not None and 'hx-get="/campaign/workdays?field=deadline_workdays"' in field.group(0)
    assert 'id="wd-deadline_workdays"' in page
    preview = client.get("/campaign/workdays?field=deadline_workdays&deadline_workdays=3&lang=en").get_data(as_text=True)
    assert 'data-date="2023-10-09"' in preview and "Monday" in preview and "11 calendar day(s)" in preview
    refused = client.get("/campaign/workdays?field=deadline_workdays&deadline_workdays=0").get_data(as_text=True)
    assert 'data-testid="workdays-problem"' in refused
    assert client.get("/campaign/workdays").get_data(as_text=True).strip() == ""
    response = client.post(f"/tasks/{task_id}", data={"responsible_unit": "zengdu", "deadline": "",
                                                      "deadline_workdays": "3", "instructions": "限期办结"})
    assert response.status_code == 302
    assert clue.show()["deadline"] == "2023-10-09"
    assigned = [e for e in web_engine.clue_history(clue.clue_id)["events"] if e["element_id"] == "Task_assign"]
    assert assigned[-1]["data"]["deadline_workdays"] == 3 and assigned[-1]["data"]["deadline"] == "2023-10-09"


def test_a_date_and_a_different_count_are_refused_on_the_page(client: FlaskClient, auth: AuthActions,
                                                              web_engine: Engine, clock: FixedClock) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    clock.set(parse_moment("2023-09-28T09:00:00"))
    auth.login("group")
    response = client.post(f"/tasks/{clue.task_id('Task_assign')}",
                           data={"responsible_unit": "zengdu", "deadline": "2023-10-20", "deadline_workdays": "3"})
    assert response.status_code == 422
    assert 'data-error="deadline_workdays"' in response.get_data(as_text=True)
    assert clue.ready() == ["Task_assign"]
