"""The generic process API (webui/process_api.py): deploy, catalogue, start, list and show instances,
every answer checked against /api/openapi.json by test_api's ApiClient."""
from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import Engine

from ..factories import ClueDriver
from .test_api import ApiClient, token_for

DATA = Path(__file__).resolve().parents[1] / "data"
from ..factories import CORPUS



def upload(*names: str, content: dict[str, bytes] | None = None) -> dict[str, object]:
    content = content or {}
    return {"data": {"file": [(BytesIO(content.get(n) or (DATA / n).read_bytes()), n) for n in names]},
            "content_type": "multipart/form-data"}


@pytest.fixture
def designer(app: Flask, client: FlaskClient, web_engine: Engine) -> ApiClient:
    return ApiClient(app, client, token_for(web_engine, "designer"))


@pytest.fixture
def deployed(designer: ApiClient) -> ApiClient:
    response = designer.post("/api/definitions", **upload("generic_request.bpmn", "generic_band.dmn",
                                                          "generic_office_start.bpmn"))
    assert response.status_code == 201, response.json
    return designer


def test_deploy_bpmn_and_dmn_in_one_multipart_upload(designer: ApiClient) -> None:
    response = designer.post("/api/definitions", **upload("generic_request.bpmn", "generic_band.dmn"))
    assert response.status_code == 201
    [definition] = response.json["definitions"]
    assert (definition["process_id"], definition["version"], definition["name"]) == ("generic_request", 1, "通用申请")
    assert {(f["filename"], f["kind"]) for f in definition["files"]} == {("generic_request.bpmn", "bpmn"),
                                                                        ("generic_band.dmn", "dmn")}
    again = designer.post("/api/definitions", **upload("generic_request.bpmn", "generic_band.dmn"))
    assert again.json["definitions"][0]["version"] == 1  # unchanged: the same version
    changed = (DATA / "generic_request.bpmn").read_bytes().replace("审批大额申请".encode(), "审批".encode())
    newer = designer.post("/api/definitions", **upload("generic_request.bpmn", "generic_band.dmn",
                                                       content={"generic_request.bpmn": changed}))
    assert newer.json["definitions"][0]["version"] == 2


def test_deploy_refusals_list_the_problems_with_element_ids(designer: ApiClient, web_engine: Engine) -> None:
    # The BPMN alone: its business rule task calls a decision that is not in the upload.
    missing_dmn = designer.post("/api/definitions", **upload("generic_request.bpmn"))
    assert missing_dmn.status_code == 422 and missing_dmn.json["error"] == "definition_rejected"
    assert [(p["file"], p["element_id"]) for p in missing_dmn.json["problems"]] == [("generic_request.bpmn", "Rule_band")]
    foreign = designer.post("/api/definitions", data={"file": [(BytesIO((CORPUS / "C.9.1.bpmn").read_bytes()),
                                                                "C.9.1.bpmn")]}, content_type="multipart/form-data")
    assert foreign.status_code == 422
    named = {p["element_id"]: p["reason"] for p in foreign.json["problems"]}
    assert "ReceiveTask_WaitForDocument" in named and "receive task" in named["ReceiveTask_WaitForDocument"]
    assert designer.post("/api/definitions", json={"file": "x"}).status_code == 422
    assert designer.post("/api/definitions", data={}, content_type="multipart/form-data").status_code == 422
    office = designer.as_user(token_for(web_engine, "office"))
    assert office.post("/api/definitions", **upload("generic_request.bpmn", "generic_band.dmn")).status_code == 403
    assert "generic_request" not in {d["process_id"] for d in designer.get("/api/definitions").json["items"]}


def test_catalogue_says_who_may_start_what(deployed: ApiClient, web_engine: Engine) -> None:
    unit = deployed.as_user(token_for(web_engine, "unit"))
    listed = {d["process_id"]: d for d in unit.get("/api/definitions").json["items"]}
    assert listed["generic_request"]["may_start"] is True and listed["generic_request"]["versions"] == [1]
    assert listed["generic_office_notice"]["may_start"] is False  # starts in the office lane
    assert listed["clue_handling"]["may_start"] is False  # clues are registered through /api/clues
    office = deployed.as_user(token_for(web_engine, "office"))
    assert {d["process_id"]: d["may_start"] for d in office.get("/api/definitions").json["items"]}[
        "generic_office_notice"] is True


def test_a_lane_less_task_goes_to_the_starter_and_a_formless_one_completes_with_no_data(
        deployed: ApiClient, web_engine: Engine) -> None:
    unit = deployed.as_user(token_for(web_engine, "unit"))
    started = unit.post("/api/instances", json={"process_id": "generic_request", "data": {"amount": 50000}})
    assert started.status_code == 201 and started.json["status"] == "running"
    assert started.headers["Location"].endswith(f"/api/instances/{started.json['id']}")
    [confirm] = started.json["tasks"]
    assert (confirm["name"], confirm["lane"], confirm["form"]) == ("Task_confirm", None, None)
    # Offered to the starter only: in their inbox, not in a colleague's.
    assert [t["id"] for t in unit.get("/api/tasks").json["items"]] == [confirm["id"]]
    colleague = deployed.as_user(token_for(web_engine, "unit_zengdu"))
    assert colleague.get("/api/tasks").json["total"] == 0
    assert colleague.post(f"/api/tasks/{confirm['id']}/complete", json={"data": {}}).status_code == 403
    done = unit.post(f"/api/tasks/{confirm['id']}/complete", json={"data": {}})
    assert done.status_code == 200 and [t["name"] for t in done.json["next_tasks"]] == ["Task_approve"]
    detail = unit.get(f"/api/instances/{started.json['id']}").json
    kinds = [(e["kind"], e["element_id"]) for e in detail["history"]]
    assert kinds[:3] == [("instance_started", None), ("task_completed", "Task_confirm"), ("decision_made", "Rule_band")]
    assert detail["history"][1]["data"] == {} and detail["history"][2]["data"] == {"band": "big"}
    [approve] = detail["tasks"]
    unit.post(f"/api/tasks/{approve['id']}/complete", json={"data": {"ignored": True}})
    finished = unit.get(f"/api/instances/{started.json['id']}").json
    assert finished["status"] == "completed" and finished["tasks"] == [] and finished["completed_at"]
    assert finished["history"][-1]["kind"] == "end_reached"


def test_start_refusals(deployed: ApiClient, web_engine: Engine) -> None:
    unit = deployed.as_user(token_for(web_engine, "unit"))
    assert unit.post("/api/instances", json={"process_id": "generic_office_notice"}).status_code == 403
    assert unit.post("/api/instances", json={"process_id": "clue_handling", "data": {}}).status_code == 403
    assert unit.post("/api/instances", json={"process_id": "nope"}).status_code == 404
    assert unit.post("/api/instances", json={"data": {}}).status_code == 422
    bad_name = unit.post("/api/instances", json={"process_id": "generic_request", "data": {"__class__": 1}})
    assert bad_name.status_code == 422 and "data.__class__" in bad_name.json["fields"]
    assert unit.post("/api/instances", json={"process_id": "generic_request", "data": [1]}).status_code == 422
    assert unit.get("/api/instances").json["total"] == 0
    office = deployed.as_user(token_for(web_engine, "office"))
    notice = office.post("/api/instances", json={"process_id": "generic_office_notice"})
    assert notice.status_code == 201 and [t["lane"] for t in notice.json["tasks"]] == ["office"]


def test_list_and_show_instances(deployed: ApiClient, web_engine: Engine) -> None:
    unit = deployed.as_user(token_for(web_engine, "unit"))
    ids = [unit.post("/api/instances", json={"process_id": "generic_request", "data": {"amount": n}}).json["id"]
           for n in (10, 20000, 30)]
    clue = ClueDriver(web_engine)
    mine = unit.get("/api/instances").json
    assert mine["total"] == 3 and [i["id"] for i in mine["items"]] == ids[::-1]
    assert [i["id"] for i in unit.get("/api/instances?per_page=1&page=2").json["items"]] == [ids[1]]
    assert unit.get("/api/instances?status=completed").json["total"] == 0
    assert unit.get("/api/instances?status=bogus").status_code == 422
    assert unit.get("/api/instances?per_page=0").status_code == 422
    # The office monitors: every instance, clues included, with filters.
    office = deployed.as_user(token_for(web_engine, "office"))
    everything = office.get("/api/instances").json
    assert everything["total"] == 4
    assert office.get("/api/instances?process_id=generic_request").json["total"] == 3
    assert office.get("/api/instances?started_by_me=true").json["total"] == 1  # the clue the office registered
    shown = office.get(f"/api/instances/{clue.instance_id}").json
    assert shown["clue_id"] == clue.clue_id and [t["name"] for t in shown["tasks"]] == ["Task_triage"]
    assert unit.get(f"/api/instances/{ids[0]}").json["started_by"] == "unit"
    other = deployed.as_user(token_for(web_engine, "unit_suixian"))
    assert other.get(f"/api/instances/{ids[0]}").status_code == 403
    assert unit.get("/api/instances/99999").status_code == 404
    assert unit.get("/api/instances/abc").status_code == 404
