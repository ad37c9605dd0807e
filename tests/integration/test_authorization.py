"""Every handler route walked as every demo role: exactly who may see and do what.

Clue A belongs to unit zengdu (the demo `unit` user), clue B to unit suixian; both are led by
the arrears_public group (the demo `group` and `spotcheck` users).
"""
from __future__ import annotations

import importlib
import re
from io import BytesIO
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from engine import Engine
from engine.demo import DEMO_PASSWORD

from ..factories import ClueDriver

ROLES = ["office", "group", "unit", "spotcheck", "discipline", "designer", "supervisor", "admin"]
ALL = set(ROLES)
SEES_ALL_CLUES = {"office", "supervisor", "discipline", "admin"}


@pytest.fixture
def world(app: Flask, web_engine: Engine) -> dict[str, str]:
    a = ClueDriver(web_engine, enterprise_name="甲企业", complainant_name="举报人甲", complainant_phone="13800000009")
    b = ClueDriver(web_engine, enterprise_name="乙企业")
    for clue, unit in ((a, "zengdu"), (b, "suixian")):
        clue.triage()
        clue.assign(unit=unit)
    return {"a": str(a.clue_id), "b": str(b.clue_id), "task_a": a.task_id("Task_plan"), "task_b": b.task_id("Task_plan")}


def signed_in(app: Flask, role: str | None) -> FlaskClient:
    client = app.test_client()
    if role is not None:
        assert client.post("/auth/login", data={"username": role, "password": DEMO_PASSWORD}).status_code == 302
    return client


SEES_A = SEES_ALL_CLUES | {"group", "spotcheck", "unit"}
SEES_B = SEES_ALL_CLUES | {"group", "spotcheck"}
# (path template, roles that get 200; everyone else signed in gets 403)
GET_RULES = [
    ("/inbox/", ALL),
    ("/inbox/done", ALL),
    ("/ledger/", ALL),
    ("/ledger/export.xlsx", ALL),
    ("/auth/password", ALL),
    ("/tokens/", ALL),
    ("/clues/new", {"office"}),
    ("/clues/{a}", SEES_A),
    ("/clues/{b}", SEES_B),
    ("/tasks/{task_a}", SEES_ALL_CLUES | {"unit"}),
    ("/tasks/{task_b}", SEES_ALL_CLUES),
    ("/evidence/clue/{a}", SEES_A),
    ("/evidence/clue/{b}/panel", SEES_B),
    ("/imports/", {"office"}),
    ("/campaign/", {"office"}),
    ("/imports/template.xlsx", {"office"}),
    ("/admin/", {"admin"}),  # redirects admins to the user list
    ("/admin/users", {"admin"}),
    ("/admin/users/unit", {"admin"}),
    ("/admin/units", {"admin"}),
    ("/admin/units/zengdu", {"admin"}),
    ("/admin/groups", {"admin"}),
    ("/admin/groups/policy", {"admin"}),
    ("/admin/audit", {"admin"}),
    ("/notifications/", ALL),
    ("/notifications/bell", ALL),
    ("/supervision/clue/{a}", SEES_A),
    ("/supervision/clue/{b}/panel", SEES_B),
]
# The API answers 401 (not a redirect) to the anonymous.
API_RULES = [
    ("/api/clues", ALL),
    ("/api/tasks", ALL),
    ("/api/clues/{a}", SEES_A),
    ("/api/clues/{b}", SEES_B),
    ("/api/clues/{b}/history", SEES_B),
    ("/api/tasks/{task_a}", SEES_ALL_CLUES | {"unit"}),
    ("/api/tasks/{task_b}", SEES_ALL_CLUES),
]
# Each later area keeps its own rules in tests/integration/walk_<area>.py (GET_RULES, API_RULES,
# NOT_WALKED), so that areas built side by side never edit this file together.
for _area in sorted(Path(__file__).parent.glob("walk_*.py")):
    _rules = importlib.import_module(f"{__package__}.{_area.stem}")
    GET_RULES += getattr(_rules, "GET_RULES", [])
    API_RULES += getattr(_rules, "API_RULES", [])
# Reached only with an id made during the test, or open to all by design.
NOT_WALKED = {"/", "/favicon.ico", "/static/<path:filename>", "/auth/login", "/healthz", "/metrics", "/api/openapi.json", "/evidence/<int:evidence_id>",
              "/imports/progress/<token>",
              "/notifications/<int:notification_id>"}
for _area in sorted(Path(__file__).parent.glob("walk_*.py")):
    NOT_WALKED |= getattr(importlib.import_module(f"{__package__}.{_area.stem}"), "NOT_WALKED", set())


def test_the_walk_covers_every_page(app: Flask) -> None:
    templates = [t for t, _ in GET_RULES + API_RULES]
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.rule not in NOT_WALKED:
            assert any(_matches(rule.rule, t) for t in templates), f"{rule.rule} is not in the walk"


def _matches(rule: str, template: str) -> bool:
    pattern = "^" + re.sub(r"<[^>]+>", "[^/]+", rule) + "$"
    return re.match(pattern, template.format(a="1", b="2", task_a="x", task_b="y")) is not None


@pytest.mark.parametrize("role", ROLES + [None])
def test_every_page_as_every_role(app: Flask, world: dict[str, str], role: str | None) -> None:
    client = signed_in(app, role)
    for template, allowed in GET_RULES:
        path = template.format(**world)
        status = client.get(path).status_code
        expected = 302 if role is None else (200 if role in allowed else 403)
        if path == "/admin/" and role == "admin":
            expected = 302
        assert status == expected, f"{role} GET {path}: {status}, expected {expected}"
    for template, allowed in API_RULES:
        path = template.format(**world)
        status = client.get(path).status_code
        expected = 401 if role is None else (200 if role in allowed else 403)
        assert status == expected, f"{role} GET {path}: {status}, expected {expected}"


@pytest.mark.parametrize("role", ROLES)
def test_only_the_units_handler_completes_its_task(app: Flask, world: dict[str, str], role: str) -> None:
    client = signed_in(app, role)
    data = {"measures": "分期支付", "plan_deadline": "2023-11-15", "responsible_leader": "局长",
            "responsible_person": "张伟", "contact_phone": "13800000001"}
    status = client.post(f"/tasks/{world['task_a']}", data=data).status_code
    assert status == (302 if role == "unit" else 403), role
    assert client.post(f"/tasks/{world['task_b']}", data=data).status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_registering_clues_is_for_the_office(app: Flask, world: dict[str, str], role: str) -> None:
    data = {"source": "leadership", "enterprise_name": "丙企业", "debtor": "某局", "summary": "欠款"}
    status = signed_in(app, role).post("/clues/new", data=data).status_code
    assert status == (302 if role == "office" else 403), role


@pytest.mark.parametrize("role", ROLES)
def test_unit_b_clue_never_reaches_unit_a(app: Flask, world: dict[str, str], role: str) -> None:
    client = signed_in(app, role)
    ledger = client.get("/ledger/").get_data(as_text=True)
    exported = [row[2] for row in load_workbook(BytesIO(client.get("/ledger/export.xlsx").data)).active
                .iter_rows(min_row=2, values_only=True)]
    sees_b = role in SEES_ALL_CLUES | {"group", "spotcheck"}
    assert ("乙企业" in ledger) is sees_b and ("乙企业" in exported) is sees_b, role
    assert ("甲企业" in exported) is (sees_b or role == "unit"), role


@pytest.mark.parametrize("role", ROLES)
def test_complainant_is_shown_to_office_and_discipline_only(app: Flask, world: dict[str, str], role: str) -> None:
    response = signed_in(app, role).get(f"/clues/{world['a']}")
    if response.status_code != 200:
        return
    assert ("举报人甲" in response.get_data(as_text=True)) is (role in ("office", "discipline")), role


def test_refusals_are_recorded(app: Flask, web_engine: Engine, world: dict[str, str]) -> None:
    from sqlalchemy import select

    from engine.db.models import SecurityEvent
    signed_in(app, "unit").get(f"/clues/{world['b']}")
    with web_engine.transaction() as ctx:
        refused = ctx.session.scalars(select(SecurityEvent).where(SecurityEvent.kind == "refused")).all()
    assert [(e.actor, e.target, e.detail["paths"], e.detail["count"]) for e in refused] == [
        ("unit", "/clues/<int:clue_id>", [f"/clues/{world['b']}"], 1)]
