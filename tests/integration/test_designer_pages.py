"""The designer's pages (webui/designer.py): listing with instance counts, the version and diff
pages, deploy refused with every problem (422) or creating version N+1, the modeler's JSON
validate/deploy, form preview and drafts, and who may do what."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

from flask.testing import FlaskClient

from engine import Engine

from ..factories import ClueDriver
from .conftest import AuthActions

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
CLUE_BPMN = (PROCESSES / "clue_handling.bpmn").read_text(encoding="utf-8")
DMN = (PROCESSES / "triage_routing.dmn").read_text(encoding="utf-8")
BROKEN = CLUE_BPMN.replace(">accepted == True<", ">accepted ==<")
CHANGED = CLUE_BPMN.replace(">accepted == True<", ">accepted == True and amount_owed &gt;= 0<")


def versions(web_engine: Engine, process_id: str = "clue_handling") -> list[int]:
    return [d["version"] for d in web_engine.definitions() if d["process_id"] == process_id]


def test_listing_with_instance_counts_and_a_version_page(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    ClueDriver(web_engine)
    ClueDriver(web_engine)
    auth.login("supervisor")
    page = client.get("/designer/").get_data(as_text=True)
    rows = re.findall(r'data-testid="versions-(\w+)".*?data-version="(\d+)" data-instances="(\d+)"', page, re.S)
    assert rows == [("clue_handling", "1", "2"), ("unit_reporting", "1", "0")]
    assert "办理中 2" in page and "running 2" not in page
    assert "/designer/processes/clue_handling/1/edit" not in page  # read-only for the supervisor
    assert 'data-testid="upload"' not in page

    # One version's page: its diagrams and files.
    auth.logout()
    auth.login("office")
    page = client.get("/designer/processes/clue_handling/1").get_data(as_text=True)
    assert 'data-diagram="file-' in page and "bpmn-navigated-viewer" in page and "dmn-viewer" in page
    xml = client.get("/designer/processes/clue_handling/1/file/triage_routing.dmn?download=1")
    assert xml.status_code == 200 and xml.get_data(as_text=True) == DMN
    assert "attachment" in xml.headers["Content-Disposition"]
    assert client.get("/designer/processes/clue_handling/9").status_code == 404
    assert client.get("/designer/processes/clue_handling/1/file/nothing.bpmn").status_code == 404


def test_upload_refused_with_each_element_then_deployed_as_version_two(client: FlaskClient, auth: AuthActions,
                                                           web_engine: Engine) -> None:
    auth.login("designer")
    response = client.post("/designer/deploy", data={
        "files": [(io.BytesIO(BROKEN.encode()), "clue_handling.bpmn"), (io.BytesIO(DMN.encode()), "triage_routing.dmn")]},
        content_type="multipart/form-data")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'data-element-id="Flow_accepted"' in page and "condition" in page
    assert versions(web_engine) == [1]

    response = client.post("/designer/deploy", data={
        "files": [(io.BytesIO(CHANGED.encode()), "clue_handling.bpmn"), (io.BytesIO(DMN.encode()), "triage_routing.dmn")]},
        content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 200
    assert "clue_handling" in response.get_data(as_text=True)
    assert versions(web_engine) == [1, 2]
    assert [d["deployed_by"] for d in web_engine.definitions() if d["version"] == 2] == ["designer"]


def test_modeler_validate_and_deploy(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    auth.login("designer")
    page = client.get("/designer/processes/clue_handling/1/edit").get_data(as_text=True)
    config = json.loads(re.search(r'<script type="application/json" id="modeler-config">(.*?)</script>', page, re.S).group(1))
    assert config["filename"] == "clue_handling.bpmn" and config["content"] == CLUE_BPMN
    assert {"key": "triage", "title": "分析研判"} in config["forms"]
    body = {"filename": "clue_handling.bpmn", "xml": BROKEN}
    checked = client.post("/designer/processes/clue_handling/1/validate", json=body).get_json()
    assert not checked["ok"] and [p["element_id"] for p in checked["problems"]] == ["Flow_accepted"]
    refused = client.post("/designer/processes/clue_handling/1/deploy", json=body)
    assert refused.status_code == 422 and refused.get_json()["problems"] == checked["problems"]
    assert versions(web_engine) == [1]
    body["xml"] = CHANGED
    assert client.post("/designer/processes/clue_handling/1/validate", json=body).get_json() == {"ok": True, "problems": []}
    deployed = client.post("/designer/processes/clue_handling/1/deploy", json=body).get_json()
    assert deployed["ok"] and [(d["version"], d["url"]) for d in deployed["deployed"]] == [
        (2, "/designer/processes/clue_handling/2")]
    assert versions(web_engine) == [1, 2] and versions(web_engine, "unit_reporting") == [1]
    # The DMN file of a version opens in the DMN modeler.
    dmn_page = client.get("/designer/processes/clue_handling/2/edit?file=triage_routing.dmn").get_data(as_text=True)
    assert "dmn-modeler.production.min.js" in dmn_page and "bpmn-modeler" not in dmn_page


def test_diff_page_marks_changes(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    web_engine.run(__import__("engine.designer", fromlist=["x"]).deploy_edit, "designer", ("clue_handling", 1),
                   "clue_handling.bpmn", CHANGED.replace('<bpmn:sequenceFlow id="Flow_chased" sourceRef="Task_chase" targetRef="End_chased" />', ""))
    auth.login("admin")
    page = client.get("/designer/processes/clue_handling/diff?old=1&new=2").get_data(as_text=True)
    assert 'data-change="changed" data-element-id="Flow_accepted"' in page
    assert "amount_owed &gt;= 0" in page
    assert 'data-change="removed" data-element-id="Flow_chased"' in page
    markers = re.search(r'data-testid="old-diagram"', page) and re.findall(r"data-markers='([^']*)'", page)
    assert json.loads(markers[0]) == {"Flow_chased": "diff-removed", "Flow_accepted": "diff-changed"}
    assert json.loads(markers[1]) == {"Flow_accepted": "diff-changed"}


def test_roles_on_pages(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("office")
    body = {"filename": "clue_handling.bpmn", "xml": CLUE_BPMN}
    assert client.post("/designer/processes/clue_handling/1/deploy", json=body).status_code == 403
    assert client.post("/designer/processes/clue_handling/1/validate", json=body).status_code == 403
    assert client.post("/designer/new/deploy", json=body).status_code == 403
    assert client.get("/designer/processes/clue_handling/1/edit").status_code == 403
    assert client.post("/designer/forms/chase", data={"content": "{}"}).status_code == 403
    auth.logout()
    auth.login("unit")
    assert client.get("/designer/").status_code == 403
    assert client.post("/designer/forms/chase/preview", data={"content": "{}"}).status_code == 403


def test_form_preview_and_drafts(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("designer")
    page = client.get("/designer/forms/chase").get_data(as_text=True)
    assert 'hx-post="/designer/forms/chase/preview"' in page and 'data-field="note"' in page
    form = json.loads((PROCESSES.parent / "forms" / "chase.json").read_text(encoding="utf-8"))
    form["schema"]["properties"]["way"] = {"type": "string", "title": "催办方式", "enum": ["phone", "visit"]}
    form["ui"]["order"].append("way")
    preview = client.post("/designer/forms/chase/preview", data={"content": json.dumps(form)}).get_data(as_text=True)
    assert 'data-field="way"' in preview and "催办方式" in preview and '<option value="visit"' in preview
    bad = client.post("/designer/forms/chase/preview", data={"content": "{"}).get_data(as_text=True)
    assert 'data-testid="preview-error"' in bad
    saved = client.post("/designer/forms/chase", data={"content": json.dumps(form, ensure_ascii=False)})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/designer/forms/chase?version=1")
    assert client.post("/designer/forms/chase", data={"content": "[]"}).status_code == 422
    download = client.get("/designer/forms/chase/download?version=1")
    assert json.loads(download.get_data(as_text=True))["schema"]["properties"]["way"]["title"] == "催办方式"
    assert "v1" in client.get("/designer/forms/").get_data(as_text=True)
