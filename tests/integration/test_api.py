"""The JSON API: every endpoint's success and error statuses, token and session authentication,
CSRF for session requests, unit scope, and the OpenAPI document matching the server.

Every call goes through `ApiClient`, which checks the answer against /api/openapi.json: the
status must be documented for that route and method, and the JSON body must match the
documented schema. So each test here also tests the document.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from werkzeug.test import TestResponse

from engine import Engine, FixedClock, accounts
from engine.demo import DEMO_PASSWORD
from webui import create_app
from webui.openapi import CONFIRM_WARNINGS

from ..factories import ClueDriver, prepare_engine
from .conftest import AuthActions

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
INTAKE = {"source": "leadership", "enterprise_name": "随州市恒达建材有限公司", "debtor": "曾都区某街道办事处",
          "summary": "工程款逾期未付", "uscc": "91350100M000100Y43", "amount_owed": 50000,
          "complainant_name": "王先生", "complainant_phone": "13800000002"}
PLAN = {"measures": "分期支付", "plan_deadline": "2023-11-15", "responsible_leader": "局长",
        "responsible_person": "张伟", "contact_phone": "13800000001"}
TRIAGE = {"accepted": True, "category": "policy", "level": "city", "key_problem": False}


def openapi_path(rule: str) -> str:
    """Flask's `/clues/<int:clue_id>` → OpenAPI's `/clues/{clue_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def api_rules(app: Flask) -> dict[str, set[str]]:
    rules: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and rule.endpoint != "static":
            rules.setdefault(openapi_path(rule.rule), set()).update((rule.methods or set()) & METHODS)
    return rules


def resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and len(node) == 1:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


class ApiClient:
    """The test client, checking every answer against the OpenAPI document."""

    def __init__(self, app: Flask, client: FlaskClient, token: str | None = None) -> None:
        self.app, self.client, self.token = app, client, token
        self.doc: dict[str, Any] = client.get("/api/openapi.json").get_json()
        self.adapter = app.url_map.bind("localhost")

    def as_user(self, token: str | None) -> ApiClient:
        return ApiClient(self.app, self.client, token)

    def call(self, method: str, url: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> TestResponse:
        headers = dict(headers or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        response = self.client.open(url, method=method, headers=headers, **kwargs)
        self.check(method, url, response)
        return response

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.call("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> TestResponse:
        return self.call("POST", url, **kwargs)

    def check(self, method: str, url: str, response: TestResponse) -> None:
        rule, _ = self.adapter.match(url.split("?")[0], method=method, return_rule=True)
        operation = self.doc["paths"][openapi_path(rule.rule)][method.lower()]
        status = str(response.status_code)
        assert status in operation["responses"], f"{method} {url} answered {status}, not documented"
        documented = resolve(self.doc, operation["responses"][status])
        schema = documented["content"]["application/json"]["schema"]
        assert response.is_json, f"{method} {url} answered {status} without JSON"
        validator = Draft202012Validator({"components": self.doc["components"], "allOf": [schema]},
                                         format_checker=FormatChecker())
        problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(response.json)]
        assert not problems, f"{method} {url} {status} does not match the document: {problems[:5]}"


def token_for(engine: Engine, username: str) -> str:
    return engine.run(accounts.create_token, username, "test")["token"]


@pytest.fixture
def api(app: Flask, client: FlaskClient, web_engine: Engine) -> ApiClient:
    """The office, by bearer token."""
    return ApiClient(app, client, token_for(web_engine, "office"))


def assigned(engine: Engine, unit: str = "zengdu", **intake: Any) -> ClueDriver:
    clue = ClueDriver(engine, **intake)
    clue.triage()
    clue.assign(unit=unit)
    return clue


# --- authentication and CSRF -----------------------------------------------------------------

def test_every_route_refuses_an_anonymous_caller_with_401_json(app: Flask, client: FlaskClient) -> None:
    api = ApiClient(app, client)
    for path, methods in api_rules(app).items():
        url = path.replace("{clue_id}", "1").replace("{task_id}", "00000000-0000-0000-0000-000000000000")
        for method in methods:
            response = api.call(method, url, json={})
            if path == "/api/openapi.json":
                assert response.status_code == 200
                continue
            assert response.status_code == 401, (method, url)
            assert response.json["error"] == "unauthorized" and "location" not in response.headers


def test_bearer_token_works_and_a_revoked_or_unknown_token_is_refused(api: ApiClient, web_engine: Engine) -> None:
    created = web_engine.run(accounts.create_token, "unit", "script")
    unit = api.as_user(created["token"])
    assert unit.get("/api/tasks").status_code == 200
    web_engine.run(accounts.revoke_token, "unit", created["id"])
    refused = unit.get("/api/tasks")
    assert refused.status_code == 401 and refused.json["error"] == "unauthorized"
    assert api.as_user("cx_not-a-token").get("/api/clues").status_code == 401
    assert api.get("/api/clues").status_code == 200  # the office's own token is untouched


def test_a_bad_token_is_refused_even_beside_a_valid_session(app: Flask, client: FlaskClient, auth: AuthActions,
                                                            web_engine: Engine) -> None:
    auth.login("office")
    session_only = ApiClient(app, client)
    assert session_only.get("/api/clues").status_code == 200
    assert session_only.as_user("cx_wrong").get("/api/clues").status_code == 401
    # A valid token speaks for its own user, not for the session's.
    unit = session_only.as_user(token_for(web_engine, "unit"))
    assert unit.post("/api/clues", json=INTAKE).status_code == 403


def test_a_disabled_users_token_is_refused(api: ApiClient, web_engine: Engine) -> None:
    token = token_for(web_engine, "unit")
    web_engine.run(accounts.admin_update_user, "admin", "unit", active=False)
    assert api.as_user(token).get("/api/tasks").status_code == 401


@pytest.fixture
def csrf_app(database_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": True, "DATABASE_URL": database_url,
                      "EVIDENCE_DIR": str(tmp_path / "evidence"), "CLOCK": clock})
    prepare_engine(app.extensions["chengxin_engine"], password=DEMO_PASSWORD)
    yield app
    app.extensions["chengxin_engine"].dispose()


def test_session_writes_need_a_csrf_token_but_bearer_writes_do_not(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    api = ApiClient(csrf_app, client)
    assert api.post("/api/clues", json=INTAKE).status_code == 401  # anonymous: 401 before any CSRF check
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]  # type: ignore[index]
    assert client.post("/auth/login", data={"username": "office", "password": DEMO_PASSWORD,
                                            "csrf_token": token}).status_code == 302
    # Signing in starts a new session, so the token comes from a page shown after it.
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/inbox/").get_data(as_text=True))[1]  # type: ignore[index]
    assert api.get("/api/clues").status_code == 200  # reading needs no CSRF token
    refused = api.post("/api/clues", json=INTAKE)
    assert refused.status_code == 400 and "CSRF" in refused.json["detail"]
    assert api.get("/api/clues").json["total"] == 0
    assert api.post("/api/clues", json=INTAKE, headers={"X-CSRFToken": token}).status_code == 201
    bearer = ApiClient(csrf_app, csrf_app.test_client(), token_for(csrf_app.extensions["chengxin_engine"], "office"))
    assert bearer.post("/api/clues", json=INTAKE).status_code == 201
    assert bearer.get("/api/clues").json["total"] == 2


def test_an_idle_session_gets_401_not_a_redirect(app: Flask, client: FlaskClient, auth: AuthActions,
                                                 web_engine: Engine) -> None:
    auth.login("office")
    assert client.get("/api/clues").status_code == 200
    web_engine.clock.advance(minutes=31)  # type: ignore[attr-defined]
    assert client.get("/api/clues").status_code == 401


# --- clues -------------------------------------------------------------------------------------

def test_create_clue(api: ApiClient, web_engine: Engine) -> None:
    created = api.post("/api/clues", json=INTAKE)
    assert created.status_code == 201 and created.json["duplicates"] == []
    assert created.headers["Location"].endswith(f"/api/clues/{created.json['clue_id']}")
    again = api.post("/api/clues", json=INTAKE)
    assert again.status_code == 201 and again.json["duplicates"] == [created.json["clue_id"]]
    clue = api.get(created.headers["Location"]).json
    assert clue["stage"] == "triage" and clue["complainant_name"] == "王先生"
    assert [t["name"] for t in clue["tasks"]] == ["Task_triage"]


def test_create_clue_refusals(api: ApiClient, web_engine: Engine) -> None:
    bad = api.post("/api/clues", json={**INTAKE, "uscc": "91350100M000100Y44", "amount_owed": -1})
    assert bad.status_code == 422 and set(bad.json["fields"]) == {"uscc", "amount_owed"}
    assert "校验码" in bad.json["fields"]["uscc"]
    missing = api.post("/api/clues", json={"source": "leadership"})
    assert missing.status_code == 422 and set(missing.json["fields"]) == {"enterprise_name", "debtor", "summary"}
    unknown = api.post("/api/clues", json={**INTAKE, "colour": "red"})
    assert unknown.status_code == 422
    not_json = api.post("/api/clues", data="source=leadership", content_type="application/x-www-form-urlencoded")
    assert not_json.status_code == 422 and "body" in not_json.json["fields"]
    assert api.post("/api/clues", json=[INTAKE]).status_code == 422
    unit = api.as_user(token_for(web_engine, "unit"))
    assert unit.post("/api/clues", json=INTAKE).status_code == 403  # only the office registers clues
    assert api.get("/api/clues").json["total"] == 0


def test_list_clues_filters_sorts_and_pages(api: ApiClient, web_engine: Engine) -> None:
    for n, category in enumerate(("investment", "policy", "policy")):
        ClueDriver(web_engine, enterprise_name=f"企业{n}").triage(category=category)
    everything = api.get("/api/clues").json
    assert everything["total"] == 3 and [c["enterprise_name"] for c in everything["items"]] == ["企业2", "企业1", "企业0"]
    policy = api.get("/api/clues?category=policy&sort=id").json
    assert policy["total"] == 2 and [c["enterprise_name"] for c in policy["items"]] == ["企业1", "企业2"]
    second = api.get("/api/clues?category=policy&sort=id&page=2&per_page=1").json
    assert second["total"] == 2 and [c["enterprise_name"] for c in second["items"]] == ["企业2"]
    assert api.get("/api/clues?q=企业0").json["total"] == 1
    assert api.get("/api/clues?stage=assigning&light=green&source=enterprise_platform").json["total"] == 3
    assert api.get("/api/clues?overdue=true").json["total"] == 0
    assert api.get("/api/clues?page=9").json == {"items": [], "total": 3, "page": 9, "per_page": 50}


@pytest.mark.parametrize("query, field", [
    ("page=0", "page"), ("page=x", "page"), ("per_page=0", "per_page"), ("per_page=201", "per_page"),
    ("per_page=1.5", "per_page"), ("sort=complainant_name", "sort"), ("light=blue", "light"),
])
def test_list_clues_refuses_bad_parameters(api: ApiClient, query: str, field: str) -> None:
    response = api.get(f"/api/clues?{query}")
    assert response.status_code == 422 and field in response.json["fields"]


def test_get_clue_and_its_history(api: ApiClient, web_engine: Engine) -> None:
    clue = assigned(web_engine)
    shown = api.get(f"/api/clues/{clue.clue_id}")
    assert shown.status_code == 200 and shown.json["clue_id"] == clue.clue_id
    assert shown.json["responsible_unit"] == "zengdu" and shown.json["instance"]["status"] == "running"
    history = api.get(f"/api/clues/{clue.clue_id}/history").json
    assert history["total"] == len(history["items"]) == len(shown.json["history"])
    kinds = [e["kind"] for e in history["items"]]
    assert kinds[0] == "instance_started" and kinds.count("task_completed") == 2  # triage and assignment
    assert [e["seq"] for e in history["items"]] == sorted(e["seq"] for e in history["items"])
    assert api.get("/api/clues/999").status_code == 404
    assert api.get("/api/clues/999/history").status_code == 404


def test_complainant_is_shown_to_the_office_only(api: ApiClient, web_engine: Engine) -> None:
    clue = assigned(web_engine, complainant_name="王先生", complainant_phone="13800000002")
    clue_id = clue.clue_id
    unit = api.as_user(token_for(web_engine, "unit"))
    for reader, sees in ((api, True), (unit, False)):
        shown = reader.get(f"/api/clues/{clue_id}").json
        listed = reader.get("/api/clues").json["items"][0]
        history = reader.get(f"/api/clues/{clue_id}/history").get_data(as_text=True)
        assert ("complainant_name" in shown) is sees and ("complainant_name" in listed) is sees
        assert ("13800000002" in history) is False  # never copied into the process data


def test_unit_a_never_sees_unit_bs_clue(api: ApiClient, web_engine: Engine) -> None:
    mine, theirs = assigned(web_engine, "zengdu", enterprise_name="我的企业"), assigned(web_engine, "suixian",
                                                                                        enterprise_name="别人的企业")
    unit = api.as_user(token_for(web_engine, "unit"))
    listed = unit.get("/api/clues?per_page=200").json
    assert listed["total"] == 1 and [c["clue_id"] for c in listed["items"]] == [mine.clue_id]
    assert unit.get("/api/clues?q=别人的企业").json == {"items": [], "total": 0, "page": 1, "per_page": 50}
    assert unit.get("/api/clues?unit=suixian").json["total"] == 0
    assert unit.get(f"/api/clues/{theirs.clue_id}").status_code == 403
    assert unit.get(f"/api/clues/{theirs.clue_id}/history").status_code == 403
    tasks = unit.get("/api/tasks").json
    assert [t["clue_id"] for t in tasks["items"]] == [mine.clue_id] and tasks["total"] == 1
    assert unit.get(f"/api/tasks?clue_id={theirs.clue_id}").json["total"] == 0
    their_task = theirs.task_id("Task_plan")
    assert unit.get(f"/api/tasks/{their_task}").status_code == 403
    assert unit.post(f"/api/tasks/{their_task}/claim").status_code == 403
    assert unit.post(f"/api/tasks/{their_task}/release").status_code == 403
    assert unit.post(f"/api/tasks/{their_task}/complete", json={"data": PLAN}).status_code == 403
    assert theirs.ready() == ["Task_plan"]
    other = api.as_user(token_for(web_engine, "unit_suixian"))
    assert other.get(f"/api/clues/{theirs.clue_id}").status_code == 200
    assert other.get(f"/api/clues/{mine.clue_id}").status_code == 403


# --- tasks -------------------------------------------------------------------------------------

def test_list_tasks_filters_and_pages(api: ApiClient, web_engine: Engine) -> None:
    first, second = ClueDriver(web_engine, enterprise_name="甲企业"), ClueDriver(web_engine, enterprise_name="乙企业")
    inbox = api.get("/api/tasks").json
    assert inbox["total"] == 2 and {t["clue_id"] for t in inbox["items"]} == {first.clue_id, second.clue_id}
    assert all(t["name"] == "Task_triage" and t["form"] == "triage" for t in inbox["items"])
    assert api.get("/api/tasks?q=甲企业").json["items"][0]["clue_id"] == first.clue_id
    assert api.get(f"/api/tasks?clue_id={second.clue_id}").json["items"][0]["clue_id"] == second.clue_id
    assert api.get("/api/tasks?stage=triage&per_page=1&page=2").json["total"] == 2
    assert len(api.get("/api/tasks?per_page=1&page=2").json["items"]) == 1
    assert api.get("/api/tasks?stage=rectifying").json["total"] == 0
    assert api.get("/api/tasks?overdue=true").json["total"] == 0
    assert api.get("/api/tasks?overdue=false").json["total"] == 2
    first.triage()
    first.assign(unit="zengdu", deadline="2023-10-18")
    unit = api.as_user(token_for(web_engine, "unit"))
    light = unit.get("/api/tasks?category=arrears_public&unit=zengdu").json
    assert light["total"] == 1 and light["items"][0]["light"] == "yellow"  # due within three days
    web_engine.clock.advance(days=10)  # type: ignore[attr-defined]
    overdue = unit.get("/api/tasks?overdue=1").json
    assert overdue["total"] == 1 and overdue["items"][0]["light"] == "red"


@pytest.mark.parametrize("query, field", [
    ("page=0", "page"), ("page=-1", "page"), ("page=one", "page"), ("per_page=0", "per_page"),
    ("per_page=201", "per_page"), ("overdue=perhaps", "overdue"), ("clue_id=abc", "clue_id"),
])
def test_list_tasks_refuses_bad_parameters(api: ApiClient, query: str, field: str) -> None:
    response = api.get(f"/api/tasks?{query}")
    assert response.status_code == 422 and field in response.json["fields"]


def test_get_task_includes_the_form_schema(api: ApiClient, web_engine: Engine) -> None:
    clue = ClueDriver(web_engine)
    task_id = clue.task_id("Task_triage")
    task = api.get(f"/api/tasks/{task_id}")
    assert task.status_code == 200 and task.json["may_complete"] is True
    schema = task.json["form"]["schema"]
    assert schema["type"] == "object" and {"accepted", "category", "level"} <= set(schema["properties"])
    assert task.json["earlier_steps"][0]["kind"] == "instance_started"
    assert api.get("/api/tasks/00000000-0000-0000-0000-000000000000").status_code == 404
    clue.triage()
    gone = api.get(f"/api/tasks/{task_id}")
    assert gone.status_code == 409 and "no longer ready" in gone.json["detail"]
    assert gone.json["message"].startswith("您已提交过此任务")  # the office triaged it itself


def test_claim_and_release(api: ApiClient, web_engine: Engine) -> None:
    clue = assigned(web_engine)
    task_id = clue.task_id("Task_plan")
    unit, colleague = (api.as_user(token_for(web_engine, name)) for name in ("unit", "unit_zengdu"))
    claimed = unit.post(f"/api/tasks/{task_id}/claim")
    assert claimed.status_code == 200 and claimed.json["claimed_by"] == "unit"
    assert unit.post(f"/api/tasks/{task_id}/claim").status_code == 200  # claiming again is harmless
    assert colleague.post(f"/api/tasks/{task_id}/claim").status_code == 409
    assert colleague.post(f"/api/tasks/{task_id}/release").status_code == 409
    assert colleague.post(f"/api/tasks/{task_id}/complete", json={"data": PLAN}).status_code == 409
    assert api.post(f"/api/tasks/{task_id}/claim").status_code == 403  # the office may look, not act
    released = unit.post(f"/api/tasks/{task_id}/release")
    assert released.status_code == 200 and released.json["claimed_by"] is None
    assert unit.post(f"/api/tasks/{task_id}/release").status_code == 409
    assert colleague.post(f"/api/tasks/{task_id}/claim").json["claimed_by"] == "unit_zengdu"
    missing = "00000000-0000-0000-0000-000000000000"
    assert unit.post(f"/api/tasks/{missing}/claim").status_code == 404
    assert unit.post(f"/api/tasks/{missing}/release").status_code == 404


def test_complete_task(api: ApiClient, web_engine: Engine) -> None:
    clue = assigned(web_engine)
    task_id = clue.task_id("Task_plan")
    unit = api.as_user(token_for(web_engine, "unit"))
    assert api.get(f"/api/tasks/{task_id}").json["may_complete"] is False
    assert api.post(f"/api/tasks/{task_id}/complete", json={"data": PLAN}).status_code == 403  # not the office's
    bad = unit.post(f"/api/tasks/{task_id}/complete", json={"data": {"measures": "分期支付", "contact_phone": "12"}})
    assert bad.status_code == 422
    assert set(bad.json["fields"]) >= {"plan_deadline", "responsible_leader", "contact_phone"}
    for body, field in (({"measures": "x"}, "data"), ({"data": "x"}, "data"), ([PLAN], "body")):
        refused = unit.post(f"/api/tasks/{task_id}/complete", json=body)
        assert refused.status_code == 422 and field in refused.json["fields"]
    not_json = unit.post(f"/api/tasks/{task_id}/complete", data="measures=x")
    assert not_json.status_code == 422 and "body" in not_json.json["fields"]
    assert clue.ready() == ["Task_plan"]  # nothing changed
    done = unit.post(f"/api/tasks/{task_id}/complete", json={"data": PLAN})
    assert done.status_code == 200 and done.json["task_id"] == task_id
    assert [t["name"] for t in done.json["next_tasks"]] == ["Task_report"] == clue.ready()
    again = unit.post(f"/api/tasks/{task_id}/complete", json={"data": PLAN})
    assert again.status_code == 409 and "completed by unit" in again.json["detail"]
    assert again.json["message"].startswith("您已提交过此任务")  # their own earlier submit, not someone else's
    assert unit.post("/api/tasks/00000000-0000-0000-0000-000000000000/complete",
                     json={"data": PLAN}).status_code == 404
    history = unit.get(f"/api/clues/{clue.clue_id}/history").json["items"]
    assert history[-1]["kind"] == "task_completed" and history[-1]["data"]["measures"] == "分期支付"


def test_a_clue_from_intake_to_assignment_through_the_api(api: ApiClient, web_engine: Engine) -> None:
    clue_id = api.post("/api/clues", json=INTAKE).json["clue_id"]
    [triage] = api.get(f"/api/tasks?clue_id={clue_id}").json["items"]
    next_tasks = api.post(f"/api/tasks/{triage['id']}/complete", json={"data": TRIAGE}).json["next_tasks"]
    [assign] = [t for t in next_tasks if t["name"] == "Task_assign"]
    group = api.as_user(token_for(web_engine, "group_policy"))
    assert group.get("/api/tasks").json["items"][0]["id"] == assign["id"]
    group.post(f"/api/tasks/{assign['id']}/complete", json={"data": {"responsible_unit": "zengdu",
                                                                       "deadline": "2023-11-20"}})
    unit = api.as_user(token_for(web_engine, "unit"))
    assert unit.get(f"/api/clues/{clue_id}").json["stage"] == "rectifying"
    assert [t["name"] for t in unit.get("/api/tasks").json["items"]] == ["Task_plan"]


# --- the OpenAPI document ------------------------------------------------------------------------

def test_openapi_document_has_the_required_structure(api: ApiClient, web_engine: Engine) -> None:
    doc = api.doc
    assert doc["openapi"].startswith("3.") and doc["info"]["title"] and doc["info"]["version"]
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["cookieSession"]["in"] == "cookie"
    assert {"bearerAuth": []} in doc["security"]
    intake = {k: v for k, v in web_engine.runtime.forms.get("intake").schema.items() if k != "$schema"}
    body = doc["paths"]["/api/clues"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    # The form's schema, plus the member that confirms unusual values (engine.plausibility).
    assert resolve(doc, body) == {**intake, "properties": {**intake["properties"], "confirm_warnings": CONFIRM_WARNINGS}}
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)  # OpenAPI 3.1 schemas are JSON Schema 2020-12
    operation_ids = []
    for path, item in doc["paths"].items():
        declared = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            operation_ids.append(operation["operationId"])
            params = [resolve(doc, p) for p in operation.get("parameters", [])]
            assert {p["name"] for p in params if p["in"] == "path"} == declared, (path, method)
            assert all(p["required"] for p in params if p["in"] == "path")
            responses = {code: resolve(doc, r) for code, r in operation["responses"].items()}
            assert any(code.startswith("2") for code in responses), (path, method)
            if operation.get("security") != []:
                assert "401" in responses, (path, method)
            if method == "post":
                assert "400" in responses and "401" in responses  # CSRF refusal and no credential
            for code, response in responses.items():
                assert response["description"]
                if code.startswith("4"):
                    assert resolve(doc, response["content"]["application/json"]["schema"])["required"][:2] == \
                        ["error", "message"]
    assert len(operation_ids) == len(set(operation_ids))
    text = str(doc)
    for ref in set(re.findall(r"'\$ref': '([^']+)'", text)):
        assert resolve(doc, {"$ref": ref}), ref  # every reference resolves


def test_openapi_document_matches_the_routes(app: Flask, api: ApiClient) -> None:
    routes = api_rules(app)
    documented = {path: {m.upper() for m in item} for path, item in api.doc["paths"].items()}
    assert routes == documented
    assert set(routes) >= {"/api/clues", "/api/clues/{clue_id}", "/api/clues/{clue_id}/history", "/api/tasks",
                           "/api/tasks/{task_id}", "/api/tasks/{task_id}/claim", "/api/tasks/{task_id}/release",
                           "/api/tasks/{task_id}/complete", "/api/openapi.json"}
