"""The administrator sets, changes and clears a user's notification e-mail on the user page;
bad addresses are refused beside the field, and every change is in the security audit."""
from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import Engine, accounts
from engine.db.models import SecurityEvent, User
from engine.errors import ValidationFailed

from .conftest import AuthActions

UNIT_FORM = {"role": "unit", "unit_code": "zengdu", "group_code": "", "active": "1", "display_name": ""}


def email_of(web_engine: Engine, username: str) -> str | None:
    return web_engine.run(lambda ctx: ctx.session.scalar(select(User.email).where(User.username == username)))


def audit(web_engine: Engine, target: str) -> list[tuple[str, str, Any]]:
    def read(ctx: Any) -> list[tuple[str, str, Any]]:
        rows = ctx.session.scalars(select(SecurityEvent).where(SecurityEvent.target == target)
                                   .order_by(SecurityEvent.id))
        return [(e.kind, e.actor, e.detail) for e in rows]
    return web_engine.run(read)


def test_admin_sets_changes_and_clears_an_address(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    auth.login("admin")
    page = client.get("/admin/users/unit?lang=en").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="email"[^>]*type="email"', page) and "E-mail for notifications" in page
    assert client.post("/admin/users/unit", data={**UNIT_FORM, "email": " zhang.wei@zengdu.gov.cn "}).status_code == 302
    assert email_of(web_engine, "unit") == "zhang.wei@zengdu.gov.cn"
    assert 'value="zhang.wei@zengdu.gov.cn"' in client.get("/admin/users/unit").get_data(as_text=True)
    assert client.post("/admin/users/unit", data={**UNIT_FORM, "email": "zw@zengdu.gov.cn"}).status_code == 302
    assert client.post("/admin/users/unit", data={**UNIT_FORM, "email": "zw@zengdu.gov.cn"}).status_code == 302
    assert client.post("/admin/users/unit", data={**UNIT_FORM, "email": ""}).status_code == 302
    assert email_of(web_engine, "unit") is None
    changes = [(kind, actor) for kind, actor, _ in audit(web_engine, "unit")]
    # the unchanged save records no e-mail change
    assert changes.count(("email_changed", "admin")) == 3 and changes.count(("user_updated", "admin")) == 4
    updates = [d for kind, _, d in audit(web_engine, "unit") if kind == "user_updated"]
    assert [(u["before"].get("email"), u["after"].get("email")) for u in updates] == [
        (None, "zhang.wei@zengdu.gov.cn"), ("zhang.wei@zengdu.gov.cn", "zw@zengdu.gov.cn"), (None, None),
        ("zw@zengdu.gov.cn", None)]
    assert "E-mail address changed" in client.get("/admin/audit?lang=en&target=unit").get_data(as_text=True)


@pytest.mark.parametrize("bad", ["zhang", "zhang@", "a b@x.cn", "zhang@@x.cn", "zhang@localhost", "x" * 196 + "@a.cn"])
def test_bad_addresses_are_refused_and_change_nothing(client: FlaskClient, auth: AuthActions, web_engine: Engine,
                                                      bad: str) -> None:
    auth.login("admin")
    response = client.post("/admin/users/unit", data={**UNIT_FORM, "display_name": "改名", "email": bad})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-error="email"' in html and 'value="改名"' in html
    assert email_of(web_engine, "unit") is None
    assert [k for k, _, _ in audit(web_engine, "unit")] == []


def test_a_form_without_the_field_keeps_the_address(client: FlaskClient, auth: AuthActions, web_engine: Engine) -> None:
    web_engine.run(accounts.admin_update_user, "admin", "unit", email="zw@zengdu.gov.cn")
    auth.login("admin")
    assert client.post("/admin/users/unit", data=UNIT_FORM).status_code == 302
    assert email_of(web_engine, "unit") == "zw@zengdu.gov.cn"


def test_the_engine_refuses_what_the_page_would(web_engine: Engine) -> None:
    with pytest.raises(ValidationFailed) as refused:
        web_engine.run(accounts.admin_update_user, "admin", "unit", email="not an address")
    assert "email" in refused.value.fields
