"""Administration pages and API tokens through the test client: accounts, units, work groups,
the security audit log, and who may use them."""
from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import Engine, accounts, directory
from engine.db.models import SecurityEvent, User
from engine.errors import Forbidden

from .conftest import AuthActions

STRONG = "Newbie@2023x"
NEW_USER = {"username": "newbie", "display_name": "新用户 王五", "role": "unit", "unit_code": "suixian",
            "group_code": "", "password": STRONG}


def field_errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-error="(\w+)">([^<]*)', html))


def events(web_engine: Engine, kind: str | None = None, target: str | None = None) -> list[SecurityEvent]:
    def read(ctx: Any) -> list[SecurityEvent]:
        query = select(SecurityEvent).order_by(SecurityEvent.id)
        if kind:
            query = query.where(SecurityEvent.kind == kind)
        if target:
            query = query.where(SecurityEvent.target == target)
        rows = list(ctx.session.scalars(query))
        ctx.session.expunge_all()
        return rows
    return web_engine.run(read)


def user_row(web_engine: Engine, username: str) -> User:
    def read(ctx: Any) -> User:
        user = ctx.session.scalar(select(User).where(User.username == username))
        ctx.session.expunge_all()
        return user
    return web_engine.run(read)


def audit_page(client: FlaskClient, **args: str) -> str:
    response = client.get("/admin/audit", query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_admin_creates_a_user_who_can_then_sign_in(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    auth.login("admin")
    page = client.get("/admin/users").get_data(as_text=True)
    assert 'data-user="unit"' in page and "曾都区人民政府" in page  # users with their unit's name

    weak = client.post("/admin/users", data={**NEW_USER, "password": "short"})
    assert weak.status_code == 422
    assert "密码长度至少" in field_errors(weak.get_data(as_text=True))["password"]
    assert 'value="新用户 王五"' in weak.get_data(as_text=True)  # what was typed stays (but not the password)
    assert 'value="short"' not in weak.get_data(as_text=True)

    no_unit = client.post("/admin/users", data={**NEW_USER, "unit_code": ""})
    assert no_unit.status_code == 422 and "unit_code" in field_errors(no_unit.get_data(as_text=True))

    bad_name = client.post("/admin/users", data={**NEW_USER, "username": "New Bie"})
    assert bad_name.status_code == 422 and "username" in field_errors(bad_name.get_data(as_text=True))

    created = client.post("/admin/users", data=NEW_USER)
    assert created.status_code == 302 and created.location.endswith("/admin/users/newbie")
    shown = client.get("/admin/users/newbie").get_data(as_text=True)
    assert "newbie" in shown and "新用户 王五" in shown

    duplicate = client.post("/admin/users", data={**NEW_USER, "display_name": "另一个"})
    assert duplicate.status_code == 409
    html = duplicate.get_data(as_text=True)
    assert 'data-testid="problem"' in html and "newbie" in html and "username" in field_errors(html)
    assert user_row(web_engine, "newbie").display_name == "新用户 王五"  # unchanged by the refused duplicate

    [event] = events(web_engine, "user_created", "newbie")
    assert event.actor == "admin" and event.detail == {"role": "unit", "unit": "suixian", "group": None}
    auth.logout()
    assert auth.login("newbie", STRONG).status_code == 302
    assert client.get("/inbox/").status_code == 200


def test_disable_refuses_sign_in_and_reset_unlocks(client: FlaskClient, auth: AuthActions, app: Flask,
                                                   web_engine: Engine) -> None:
    web_engine.run(accounts.admin_create_user, "admin", "newbie", "新用户", "office", STRONG)
    other = app.test_client()
    other_auth = AuthActions(other)
    assert other_auth.login("newbie", STRONG).status_code == 302
    auth.login("admin")

    disabled = client.post("/admin/users/newbie/active", data={"active": "0", "next": "list"})
    assert disabled.status_code == 302 and disabled.location.endswith("/admin/users")
    assert user_row(web_engine, "newbie").active is False
    assert other.get("/inbox/").status_code == 302  # the open session ends with the account
    assert other_auth.login("newbie", STRONG).status_code == 401
    assert events(web_engine, "login_refused")[-1].detail == {"reason": "disabled"}

    assert client.post("/admin/users/newbie/active", data={"active": "1"}).status_code == 302
    for _ in range(5):
        assert other_auth.login("newbie", "Wrong@Password1").status_code == 401
    locked = other_auth.login("newbie", STRONG)  # blocked from this address (engine.login_throttle)
    assert locked.status_code == 429 and "登录失败次数过多" in locked.get_data(as_text=True)
    assert 'data-status="locked"' in client.get("/admin/users/newbie").get_data(as_text=True)

    weak = client.post("/admin/users/newbie/password", data={"password": "weakweak"})
    assert weak.status_code == 422 and "password" in field_errors(weak.get_data(as_text=True))
    reset = client.post("/admin/users/newbie/password", data={"password": "Reset#2023pw"})
    assert reset.status_code == 302
    assert other_auth.login("newbie", STRONG).status_code == 401  # the old password is gone
    assert other_auth.login("newbie", "Reset#2023pw").status_code == 302  # and the lock is lifted
    assert [e.actor for e in events(web_engine, "password_reset", "newbie")] == ["admin"]
    kinds = [e.kind for e in events(web_engine, target="newbie") if e.actor == "admin"]
    assert kinds == ["user_created", "sessions_ended", "user_updated", "user_updated", "password_reset",
                     "sessions_ended"]


def test_role_unit_and_name_changes_are_recorded(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    auth.login("admin")
    page = client.get("/admin/users/unit").get_data(as_text=True)
    assert 'data-testid="edit-user"' in page and 'data-testid="reset-password"' in page

    missing_group = client.post("/admin/users/unit", data={"role": "group", "unit_code": "", "group_code": "",
                                                          "active": "1", "display_name": "改名"})
    assert missing_group.status_code == 422
    assert "group_code" in field_errors(missing_group.get_data(as_text=True))
    assert 'value="改名"' in missing_group.get_data(as_text=True)
    assert user_row(web_engine, "unit").role.value == "unit"  # nothing changed

    moved = client.post("/admin/users/unit", data={"role": "unit", "unit_code": "suixian", "group_code": "",
                                                  "active": "1", "display_name": "随县 张伟"})
    assert moved.status_code == 302
    regrouped = client.post("/admin/users/group", data={"role": "spotcheck", "unit_code": "", "group_code": "policy",
                                                       "active": "1", "display_name": ""})
    assert regrouped.status_code == 302
    unit, group = user_row(web_engine, "unit"), user_row(web_engine, "group")
    assert (unit.unit_code, unit.display_name) == ("suixian", "随县 张伟")
    assert (group.role.value, group.group_code, group.display_name) == ("spotcheck", "policy", "机关事业单位拖欠账款清理组 李强")

    [change] = events(web_engine, "user_updated", "unit")
    assert change.actor == "admin"
    assert change.detail["before"]["unit"] == "zengdu" and change.detail["after"]["unit"] == "suixian"
    [change] = events(web_engine, "user_updated", "group")
    assert (change.detail["before"]["role"], change.detail["after"]["role"]) == ("group", "spotcheck")

    log = audit_page(client, kind="user_updated")
    assert 'data-target="unit"' in log and 'data-target="group"' in log and "suixian" in log and "spotcheck" in log
    assert client.get("/admin/users/nobody").status_code == 404
    assert client.post("/admin/users/nobody/password", data={"password": STRONG}).status_code == 404


def test_an_admin_cannot_disable_themselves(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    auth.login("admin")
    refused = client.post("/admin/users/admin/active", data={"active": "0"})
    assert refused.status_code == 409 and 'data-testid="problem"' in refused.get_data(as_text=True)
    refused = client.post("/admin/users/admin", data={"role": "admin", "active": "0", "display_name": "x"})
    assert refused.status_code == 409
    assert user_row(web_engine, "admin").active is True and user_row(web_engine, "admin").display_name == "系统管理员"
    assert events(web_engine, "user_updated") == []


def test_units_are_created_and_edited(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    web_engine.run(accounts.admin_save_unit, "admin", "probe", "探针", "county", creating=True)
    auth.login("admin")
    units = client.get("/admin/units").get_data(as_text=True)
    assert 'data-unit="zengdu"' in units and "曾都区人民政府" in units

    missing = client.post("/admin/units", data={"code": "city_tax", "name": "", "kind": "department"})
    assert missing.status_code == 422 and set(field_errors(missing.get_data(as_text=True))) == {"name"}
    bad = client.post("/admin/units", data={"code": "City-Tax", "name": "市税务局", "kind": "department"})
    assert bad.status_code == 422 and "code" in field_errors(bad.get_data(as_text=True))
    assert client.post("/admin/units", data={"code": "city_tax", "name": "市税务局", "kind": "department"}).status_code == 302
    taken = client.post("/admin/units", data={"code": "zengdu", "name": "被覆盖", "kind": "county"})
    assert taken.status_code == 409 and "code" in field_errors(taken.get_data(as_text=True))
    assert "被覆盖" not in client.get("/admin/units").get_data(as_text=True)

    assert "市税务局" in client.get("/admin/units/city_tax").get_data(as_text=True)
    assert client.post("/admin/units/city_tax", data={"name": "国家税务总局随州市税务局", "kind": "department"}).status_code == 302
    assert "国家税务总局随州市税务局" in client.get("/admin/units").get_data(as_text=True)
    assert client.get("/admin/units/nowhere").status_code == 404
    assert client.post("/admin/units/nowhere", data={"name": "x", "kind": "county"}).status_code == 404

    # The new unit can be given to a user at once.
    assert client.post("/admin/users", data={**NEW_USER, "unit_code": "city_tax"}).status_code == 302
    assert user_row(web_engine, "newbie").unit_code == "city_tax"
    saved = [(e.actor, e.target, e.detail["name"]) for e in events(web_engine, "unit_saved") if e.target != "probe"]
    assert saved == [("admin", "city_tax", "市税务局"), ("admin", "city_tax", "国家税务总局随州市税务局")]
    assert audit_page(client, target="city_tax").count('data-kind="unit_saved"') == 2


def test_groups_are_created_and_edited(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    auth.login("admin")
    groups = client.get("/admin/groups").get_data(as_text=True)
    assert 'data-group="policy"' in groups and "市财政局" in groups  # the host unit's name
    missing = client.post("/admin/groups", data={"code": "tax", "name": "", "host_unit": ""})
    assert missing.status_code == 422 and set(field_errors(missing.get_data(as_text=True))) == {"name"}
    bad_host = client.post("/admin/groups", data={"code": "tax", "name": "涉税服务组", "host_unit": "nowhere"})
    assert bad_host.status_code == 422 and "host_unit" in field_errors(bad_host.get_data(as_text=True))
    bad_code = client.post("/admin/groups", data={"code": "9tax", "name": "涉税服务组", "host_unit": ""})
    assert bad_code.status_code == 422 and "code" in field_errors(bad_code.get_data(as_text=True))
    assert client.post("/admin/groups", data={"code": "tax", "name": "涉税服务组", "host_unit": "city_finance"}).status_code == 302
    taken = client.post("/admin/groups", data={"code": "policy", "name": "被覆盖", "host_unit": ""})
    assert taken.status_code == 409 and "code" in field_errors(taken.get_data(as_text=True))
    assert "被覆盖" not in client.get("/admin/groups").get_data(as_text=True)

    assert "涉税服务组" in client.get("/admin/groups/tax").get_data(as_text=True)
    assert client.post("/admin/groups/tax", data={"name": "涉税服务优化组", "host_unit": ""}).status_code == 302
    assert "涉税服务优化组" in client.get("/admin/groups").get_data(as_text=True)
    assert client.get("/admin/groups/nothing").status_code == 404
    assert client.post("/admin/groups/nothing", data={"name": "x", "host_unit": ""}).status_code == 404

    # The new group can be given to a user at once.
    created = client.post("/admin/users", data={**NEW_USER, "role": "group", "unit_code": "", "group_code": "tax"})
    assert created.status_code == 302 and user_row(web_engine, "newbie").group_code == "tax"
    saved = [(e.actor, e.target, e.detail) for e in events(web_engine, "group_saved")]
    assert saved == [("admin", "tax", {"name": "涉税服务组", "host_unit": "city_finance"}),
                     ("admin", "tax", {"name": "涉税服务优化组", "host_unit": None})]
    log = audit_page(client, target="tax")
    assert log.count('data-kind="group_saved"') == 2 and "涉税服务优化组" in log


def test_audit_log_filters_and_pages(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    for n in range(60):
        web_engine.run(accounts.audit, "robot", "login_failed", remote_addr="10.0.0.1", reason=f"attempt {n}")
    auth.login("admin")
    first = audit_page(client, actor="robot")
    assert 'data-testid="audit-total">60<' in first and first.count('data-actor="robot"') == 50
    assert "attempt 59" in first and "attempt 9\"" not in first  # newest first
    second = audit_page(client, actor="robot", page="2")
    assert second.count('data-actor="robot"') == 10 and "attempt 0" in second
    assert 'data-testid="audit-total">1<' in audit_page(client, actor="admin", kind="login")
    assert 'data-testid="audit-total">0<' in audit_page(client, actor="robot", kind="login")
    page = web_engine.run(directory.security_events, "admin", "robot", None, None, 1, 5)
    assert page["total"] == 60 and [i["detail"]["reason"] for i in page["items"]][0] == "attempt 59"


ADMIN_ROUTES: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/admin/", {}),
    ("GET", "/admin/users", {}),
    ("POST", "/admin/users", NEW_USER),
    ("GET", "/admin/users/unit", {}),
    ("POST", "/admin/users/unit", {"role": "admin", "active": "1", "display_name": "x"}),
    ("POST", "/admin/users/unit/active", {"active": "0"}),
    ("POST", "/admin/users/unit/password", {"password": STRONG}),
    ("GET", "/admin/units", {}),
    ("POST", "/admin/units", {"code": "city_tax", "name": "市税务局", "kind": "department"}),
    ("GET", "/admin/units/zengdu", {}),
    ("POST", "/admin/units/zengdu", {"name": "x", "kind": "county"}),
    ("POST", "/admin/units/zengdu", {"name": "", "kind": ""}),  # refused before any validation
    ("GET", "/admin/groups", {}),
    ("POST", "/admin/groups", {"code": "tax", "name": "涉税服务组", "host_unit": ""}),
    ("GET", "/admin/groups/policy", {}),
    ("POST", "/admin/groups/policy", {"name": "x", "host_unit": ""}),
    ("GET", "/admin/audit", {}),
]


def test_every_admin_route_is_walked(app: Flask) -> None:
    walked = {(method, re.sub(r"/(unit|zengdu|policy)(?=/|$)", "/<x>", path)) for method, path, _ in ADMIN_ROUTES}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin."):
            path = re.sub(r"<[^>]+>", "<x>", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (method, path) in walked, f"{method} {rule.rule} is not in ADMIN_ROUTES"


@pytest.mark.parametrize("role", ["office", "unit", "supervisor", "group", "discipline", "designer", "spotcheck"])
def test_other_roles_get_403_on_every_admin_page(role: str, client: FlaskClient, auth: AuthActions,
                                                 web_engine: Engine) -> None:
    assert auth.login(role).status_code == 302
    for method, path, data in ADMIN_ROUTES:
        response = client.open(path, method=method, data=data)
        assert response.status_code == 403, f"{role} {method} {path}: {response.status_code}"
        assert 'data-testid="error"' in response.get_data(as_text=True)
    assert client.get("/admin/audit", headers={"Accept": "application/json"}).get_json()["error"] == "forbidden"
    refusals = events(web_engine, "refused")  # one row per route and minute, counting its refusals
    assert sum(e.detail["count"] for e in refusals) == len(ADMIN_ROUTES) + 1 and {e.actor for e in refusals} == {role}
    assert len(refusals) == len({e.target for e in refusals})
    changes = {"user_created", "user_updated", "password_reset", "unit_saved", "group_saved"}
    assert not [e for e in events(web_engine) if e.kind in changes]
    assert user_row(web_engine, "unit").active and user_row(web_engine, "unit").role.value == "unit"
    assert "/admin/" not in client.get("/inbox/").get_data(as_text=True)  # no link to what they may not open


def test_signed_out_visitors_are_sent_to_sign_in(client: FlaskClient) -> None:
    for method, path, data in ADMIN_ROUTES + [("GET", "/tokens/", {}), ("POST", "/tokens/", {}), ("POST", "/tokens/1/revoke", {})]:
        response = client.open(path, method=method, data=data)
        assert response.status_code == 302 and "/auth/login" in response.location, f"{method} {path}"


def test_admin_sees_the_administration_link(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("admin")
    page = client.get("/admin/users").get_data(as_text=True)
    assert 'href="/admin/users"' in page and 'href="/tokens/"' in page


# --- API tokens -----------------------------------------------------------------------------------

def test_a_token_is_shown_once_works_and_stops_working_when_revoked(client: FlaskClient, auth: AuthActions,
                                                                    app: Flask, web_engine: Engine) -> None:
    auth.login("unit")
    assert 'data-testid="new-token"' not in client.get("/tokens/").get_data(as_text=True)
    created = client.post("/tokens/", data={"name": "Excel 宏"})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    html = created.get_data(as_text=True)
    [plain] = re.findall(r'value="(cx_[^"]+)" data-testid="token-value"', html)
    assert "Excel 宏" in html
    listing = client.get("/tokens/").get_data(as_text=True)
    assert plain not in listing and 'data-testid="new-token"' not in listing and "Excel 宏" in listing

    assert web_engine.run(lambda ctx: accounts.user_for_token(ctx, plain).username) == "unit"
    bearer = app.test_client().get("/inbox/", headers={"Authorization": f"Bearer {plain}", "Accept": "text/html"})
    assert bearer.status_code == 200

    [token] = web_engine.run(accounts.list_tokens, "unit")
    auth.logout()
    auth.login("office")
    assert client.post(f"/tokens/{token['id']}/revoke").status_code == 404  # not the office's token
    assert web_engine.run(accounts.list_tokens, "unit")[0]["revoked"] is False
    auth.logout()

    auth.login("unit")
    revoked = client.post(f"/tokens/{token['id']}/revoke", follow_redirects=True)
    assert revoked.status_code == 200
    assert f'data-token="{token["id"]}" data-revoked="1"' in revoked.get_data(as_text=True)
    with pytest.raises(Forbidden):
        web_engine.run(accounts.user_for_token, plain)
    after = app.test_client().get("/inbox/", headers={"Authorization": f"Bearer {plain}", "Accept": "text/html"})
    assert after.status_code == 302 and "/auth/login" in after.location
    assert [e.kind for e in events(web_engine) if e.kind.startswith("token_")] == ["token_created", "token_revoked"]


def test_token_name_too_long_is_refused_beside_the_field(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    auth.login("office")
    refused = client.post("/tokens/", data={"name": "x" * 201})
    assert refused.status_code == 422 and "name" in field_errors(refused.get_data(as_text=True))
    assert web_engine.run(accounts.list_tokens, "office") == []


def test_a_disabled_users_token_is_refused(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    plain = web_engine.run(accounts.create_token, "unit", "script")["token"]
    web_engine.run(accounts.admin_update_user, "admin", "unit", active=False)
    with pytest.raises(Forbidden):
        web_engine.run(accounts.user_for_token, plain)
