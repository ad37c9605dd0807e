"""The instance pages through the test client: list and errors inbox, the instance page with
its diagram data, timeline and chain status (tamper shown), the diagram XML, and the action
forms (reason required, roles enforced, recorded in the verified history)."""
from __future__ import annotations

import json
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from engine import Engine
from engine.db.models import InstanceEvent
from engine.instance_view import instance_detail

from ..factories import ClueDriver
from ..unit.test_instance_view import failing_instance, sendbacks_and_chase
from .test_authorization import signed_in


def state_of(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="instance-state">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


def test_list_errors_inbox_and_instance_page(app: Flask, web_engine: Engine) -> None:
    clue = sendbacks_and_chase(web_engine, close=False, enterprise_name="退回企业")
    other = ClueDriver(web_engine, enterprise_name="研判企业")
    broken = failing_instance(web_engine)
    office = signed_in(app, "office")

    listing = office.get("/instances/").get_data(as_text=True)
    assert all(f'data-instance="{i}"' in listing for i in (clue.instance_id, other.instance_id, broken))
    assert "退回企业" in listing and 'data-testid="instances-total">3<' in listing
    filtered = office.get("/instances/?status=error").get_data(as_text=True)
    assert f'data-instance="{broken}"' in filtered and f'data-instance="{clue.instance_id}"' not in filtered
    assert office.get("/instances/?status=nonsense").status_code == 422
    errors = office.get("/instances/errors").get_data(as_text=True)
    assert f'data-instance="{broken}"' in errors and "Script_ratio" in errors and "division by zero" in errors
    assert f'data-instance="{clue.instance_id}"' not in errors

    page = office.get(f"/instances/{clue.instance_id}").get_data(as_text=True)
    state = state_of(page)
    assert state["visits"]["Task_report"] == 3 and state["visits"]["Task_review"] == 2
    assert state["visits"]["Task_chase"] == 1 and state["current"] == ["Task_report"]
    assert 'data-testid="chain" data-intact="1"' in page
    assert page.count('data-kind="task_completed"') == 8 and "电话催办" in page
    assert f'/instances/{clue.instance_id}/diagram.bpmn' in page and "bpmn-navigated-viewer" in page
    assert 'data-action="suspend"' in page and 'data-action="terminate"' not in page  # office does not terminate
    assert office.get(f"/instances/clue/{clue.clue_id}").get_data(as_text=True).count('data-kind=') == page.count('data-kind=')

    xml = office.get(f"/instances/{clue.instance_id}/diagram.bpmn")
    assert xml.status_code == 200 and xml.mimetype == "application/octet-stream" and "attachment" in xml.headers["Content-Disposition"] and b'id="clue_handling"' in xml.data
    unit = signed_in(app, "unit")
    for path in (f"/instances/{clue.instance_id}", f"/instances/{clue.instance_id}/diagram.bpmn", "/instances/"):
        assert unit.get(path).status_code == 403
    group = signed_in(app, "group")
    assert group.get(f"/instances/{clue.instance_id}").status_code == 200
    assert group.get(f"/instances/{broken}").status_code == 403
    supervisor = signed_in(app, "supervisor")
    assert supervisor.get("/instances/99999").status_code == 404
    supervisor_page = supervisor.get(f"/instances/{clue.instance_id}").get_data(as_text=True)
    assert 'data-action="terminate"' in supervisor_page and 'data-action="retry"' not in supervisor_page
    assert 'data-action="suspend"' not in signed_in(app, "discipline").get(
        f"/instances/{clue.instance_id}").get_data(as_text=True)


def test_tampered_history_is_shown_on_the_page(app: Flask, web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    with web_engine.transaction() as ctx:
        ctx.session.execute(update(InstanceEvent).where(InstanceEvent.instance_id == clue.instance_id,
                                                        InstanceEvent.seq == 2).values(data={"accepted": False}))
    page = signed_in(app, "supervisor").get(f"/instances/{clue.instance_id}").get_data(as_text=True)
    assert 'data-testid="chain" data-intact="0"' in page
    assert re.search(r'data-testid="chain" data-intact="0">\s*✘[^#]*#2\b', page)


def actions_of(web_engine: Engine, instance_id: int) -> list[tuple[str, str, str]]:
    timeline = web_engine.run(instance_detail, "supervisor", instance_id)
    assert timeline["chain"]["intact"]
    return [(e["kind"], e["actor"], (e["data"] or {}).get("reason")) for e in timeline["timeline"]
            if e["kind"].startswith("instance_") and e["kind"] != "instance_started" or e["kind"] == "unit_reassigned"]


def test_action_forms(app: Flask, web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    clue.triage()
    clue.assign()
    url = f"/instances/{clue.instance_id}"
    office: FlaskClient = signed_in(app, "office")

    refused = office.post(f"{url}/suspend", data={"reason": "  "})
    assert refused.status_code == 302 and actions_of(web_engine, clue.instance_id) == []
    assert "请填写理由" in office.get(url).get_data(as_text=True)
    assert office.post(f"{url}/terminate", data={"reason": "重复"}).status_code == 403
    assert signed_in(app, "discipline").post(f"{url}/suspend", data={"reason": "x"}).status_code == 403
    assert office.post(f"{url}/explode", data={"reason": "x"}).status_code == 404

    assert office.post(f"{url}/suspend", data={"reason": "等待审计"}).status_code == 302
    assert 'data-status="suspended"' in office.get(url).get_data(as_text=True)
    assert office.post(f"{url}/suspend", data={"reason": "再次"}).status_code == 302  # a conflict, flashed
    assert office.post(f"{url}/reassign", data={"reason": "改由随县办理", "unit": "suixian"}).status_code == 302
    assert office.post(f"{url}/resume", data={"reason": "审计完毕"}).status_code == 302
    assert clue.show()["responsible_unit"] == "suixian"
    assert signed_in(app, "supervisor").post(f"{url}/terminate", data={"reason": "并案"}).status_code == 302
    assert actions_of(web_engine, clue.instance_id) == [
        ("instance_suspended", "office", "等待审计"), ("unit_reassigned", "office", "改由随县办理"),
        ("instance_resumed", "office", "审计完毕"), ("instance_terminated", "supervisor", "并案")]

    broken = failing_instance(web_engine)
    admin = signed_in(app, "admin")
    assert admin.post(f"/instances/{broken}/retry", data={"reason": "修正", "variables": "{oops"}).status_code == 302
    assert actions_of(web_engine, broken) == []
    assert admin.post(f"/instances/{broken}/retry", data={"reason": "除数修正", "variables": '{"divisor": 5}'}
                      ).status_code == 302
    assert actions_of(web_engine, broken) == [("instance_retried", "admin", "除数修正")]
    assert 'data-status="completed"' in admin.get(f"/instances/{broken}").get_data(as_text=True)
