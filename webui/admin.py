"""Administration: accounts, units, work groups and the security audit log (admins only).

Every change goes through accounts.admin_*, which record it in the security audit; every page
first asks the engine whether the signed-in user is an administrator (Forbidden → 403 page).
"""
from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from engine import accounts, directory
from engine.errors import Conflict, ValidationFailed

from .auth import login_manager
from .db import engine

bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_PER_PAGE = 50
MAX_TEXT = 200  # display names, unit and group names, e-mail addresses: the columns' length
# The engine's check (notifications.set_email) is the rule; this one also refuses what mail
# servers would bounce (no dot in the domain, odd characters) with a message beside the field.
EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")

ROLE_LABELS = {
    "office": _l("Business environment office"),
    "group": _l("Work group member"),
    "unit": _l("Responsible unit handler"),
    "spotcheck": _l("Spot-checker"),
    "discipline": _l("Discipline inspection"),
    "designer": _l("Process designer"),
    "supervisor": _l("Supervisor"),
    "admin": _l("Administrator"),
}
UNIT_KINDS = {"county": _l("County or management committee"), "department": _l("City department")}
EVENT_KINDS = {
    "login": _l("Signed in"),
    "login_failed": _l("Sign-in failed"),
    "login_refused": _l("Sign-in refused"),
    "logout": _l("Signed out"),
    "refused": _l("Access refused (counted per minute)"),
    "login_blocked": _l("Sign-ins blocked for a while"),
    "login_throttled": _l("Sign-in while blocked (counted per minute)"),
    "download": _l("Data exported or downloaded"),
    "password_changed": _l("Password changed"),
    "password_change_refused": _l("Password change refused"),
    "password_reset": _l("Password reset by an administrator"),
    "user_created": _l("User created"),
    "user_updated": _l("User changed"),
    "email_changed": _l("E-mail address changed"),
    "unit_saved": _l("Unit saved"),
    "group_saved": _l("Work group saved"),
    "token_created": _l("API token created"),
    "token_revoked": _l("API token revoked"),
    "sessions_ended": _l("Sessions ended"),
}


@bp.before_request
def administrators_only() -> Any:
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    engine().run(directory.require_admin, current_user.username)  # Forbidden → the 403 page
    return None


@bp.context_processor
def labels() -> dict[str, Any]:
    return {"role_labels": ROLE_LABELS, "unit_kinds": UNIT_KINDS, "event_kinds": EVENT_KINDS, "options_of": _options}


def _options(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(code, "name (code)") pairs for a select of units or groups."""
    return [(row["code"], f"{row['name']} ({row['code']})") for row in rows]


def _field(name: str) -> str:
    return request.form.get(name, "").strip()


def _optional(name: str) -> str | None:
    return _field(name) or None


def _text_problems(values: dict[str, str], required: tuple[str, ...] = (), limited: tuple[str, ...] = ()) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name in limited:
        if len(values.get(name) or "") > MAX_TEXT:
            errors[name] = _("At most %(n)s characters.", n=MAX_TEXT)
    for name in required:
        if not values.get(name):
            errors[name] = _("Required.")
    return errors


@bp.route("/")
def index() -> Any:
    return redirect(url_for("admin.users"))


# --- users --------------------------------------------------------------------------------------

def _users_page(values: dict[str, Any], errors: dict[str, str], problem: str | None, status: int) -> Any:
    admin = current_user.username
    role, q = request.args.get("role", "").strip(), request.args.get("q", "").strip()
    users = engine().run(directory.list_users, admin, role or None, q or None)
    units = engine().run(directory.list_units, admin)
    groups = engine().run(directory.list_groups, admin)
    return render_template("admin/users.html", users=users, units=units, groups=groups, values=values,
                           errors=errors, problem=problem, role=role, q=q), status


@bp.route("/users", methods=["GET", "POST"])
def users() -> Any:
    if request.method == "GET":
        return _users_page({}, {}, None, 200)
    values = {name: _field(name) for name in ("username", "display_name", "role", "unit_code", "group_code")}
    errors = _text_problems(values, limited=("display_name",))
    if errors:
        return _users_page(values, errors, None, 422)
    try:
        engine().run(accounts.admin_create_user, current_user.username, values["username"],
                     values["display_name"], values["role"], request.form.get("password", ""),
                     values["unit_code"] or None, values["group_code"] or None)
    except ValidationFailed as exc:
        return _users_page(values, exc.fields, None if exc.fields else str(exc), 422)
    except Conflict:
        problem = _("A user named %(name)s already exists.", name=values["username"])
        return _users_page(values, {"username": problem}, problem, 409)
    flash(_("User %(name)s created.", name=values["username"]), "success")
    return redirect(url_for("admin.edit_user", username=values["username"]))


def _user_page(username: str, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
               problem: str | None = None, status: int = 200) -> Any:
    admin = current_user.username
    user = engine().run(directory.get_user, admin, username)
    units = engine().run(directory.list_units, admin)
    groups = engine().run(directory.list_groups, admin)
    return render_template("admin/user.html", user=user, units=units, groups=groups, values=values or user,
                           errors=errors or {}, problem=problem), status


@bp.route("/users/<username>", methods=["GET", "POST"])
def edit_user(username: str) -> Any:
    if request.method == "GET":
        return _user_page(username)
    values = {name: _field(name) for name in ("display_name", "role", "unit_code", "group_code", "email")}
    values["active"] = request.form.get("active", "1") == "1"
    values["username"] = username
    errors = _text_problems(values, limited=("display_name", "email"))
    if values["email"] and not EMAIL.fullmatch(values["email"]):
        errors["email"] = _("Enter an e-mail address such as name@example.gov.cn.")
    if errors:
        return _user_page(username, values, errors, None, 422)
    try:
        # A form without the field (an older page) leaves the address as it is.
        engine().run(accounts.admin_update_user, current_user.username, username, role=values["role"],
                     unit_code=values["unit_code"] or None, group_code=values["group_code"] or None,
                     active=values["active"], display_name=values["display_name"] or None,
                     email=values["email"] if "email" in request.form else None)
    except ValidationFailed as exc:
        return _user_page(username, values, exc.fields, None if exc.fields else str(exc), 422)
    except Conflict:
        return _user_page(username, values, {}, _("You cannot disable your own account."), 409)
    flash(_("User %(name)s saved.", name=username), "success")
    return redirect(url_for("admin.edit_user", username=username))


@bp.route("/users/<username>/active", methods=["POST"])
def set_active(username: str) -> Any:
    active = request.form.get("active") == "1"
    try:
        engine().run(accounts.admin_update_user, current_user.username, username, active=active)
    except Conflict:
        return _user_page(username, None, {}, _("You cannot disable your own account."), 409)
    flash(_("User %(name)s enabled.", name=username) if active else _("User %(name)s disabled.", name=username),
          "success")
    back = url_for("admin.users") if request.form.get("next") == "list" else url_for("admin.edit_user", username=username)
    return redirect(back)


@bp.route("/users/<username>/password", methods=["POST"])
def reset_password(username: str) -> Any:
    try:
        engine().run(accounts.admin_reset_password, current_user.username, username, request.form.get("password", ""))
    except ValidationFailed as exc:
        return _user_page(username, None, {"password": exc.fields.get("password", str(exc))}, None, 422)
    flash(_("Password of %(name)s reset; the account is unlocked.", name=username), "success")
    return redirect(url_for("admin.edit_user", username=username))


# --- units --------------------------------------------------------------------------------------

@bp.route("/units", methods=["GET", "POST"])
def units() -> Any:
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    problem, status = None, 200
    if request.method == "POST":
        values = {name: _field(name) for name in ("code", "name", "kind")}
        errors = _text_problems(values, required=("code", "name", "kind"), limited=("name",))
        if errors:
            status = 422
        else:
            try:
                engine().run(accounts.admin_save_unit, current_user.username, values["code"], values["name"], values["kind"],
                             creating=True)
            except ValidationFailed as exc:
                errors, status = exc.fields, 422
                problem = None if exc.fields else str(exc)
            except Conflict:
                problem = _("A unit with the code %(code)s already exists.", code=values["code"])
                errors, status = {"code": problem}, 409
            else:
                flash(_("Unit %(code)s created.", code=values["code"]), "success")
                return redirect(url_for("admin.units"))
    rows = engine().run(directory.list_units, current_user.username)
    return render_template("admin/units.html", units=rows, values=values, errors=errors, problem=problem), status


@bp.route("/units/<code>", methods=["GET", "POST"])
def edit_unit(code: str) -> Any:
    unit = engine().run(directory.get_unit, current_user.username, code)
    values, errors, status = unit, {}, 200
    if request.method == "POST":
        values = {"code": code, "name": _field("name"), "kind": _field("kind")}
        errors = _text_problems(values, required=("name", "kind"), limited=("name",))
        if not errors:
            try:
                engine().run(accounts.admin_save_unit, current_user.username, code, values["name"], values["kind"])
            except ValidationFailed as exc:
                errors = exc.fields or {"name": str(exc)}
            else:
                flash(_("Unit %(code)s saved.", code=code), "success")
                return redirect(url_for("admin.units"))
        status = 422
    return render_template("admin/unit.html", unit=unit, values=values, errors=errors), status


# --- work groups --------------------------------------------------------------------------------

@bp.route("/groups", methods=["GET", "POST"])
def groups() -> Any:
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    problem, status = None, 200
    if request.method == "POST":
        values = {name: _field(name) for name in ("code", "name", "host_unit")}
        errors = _text_problems(values, required=("code", "name"), limited=("name",))
        if errors:
            status = 422
        else:
            try:
                engine().run(accounts.admin_save_group, current_user.username, values["code"], values["name"],
                             values["host_unit"] or None, creating=True)
            except ValidationFailed as exc:
                errors, status = exc.fields, 422
                problem = None if exc.fields else str(exc)
            except Conflict:
                problem = _("A work group with the code %(code)s already exists.", code=values["code"])
                errors, status = {"code": problem}, 409
            else:
                flash(_("Work group %(code)s created.", code=values["code"]), "success")
                return redirect(url_for("admin.groups"))
    rows = engine().run(directory.list_groups, current_user.username)
    unit_rows = engine().run(directory.list_units, current_user.username)
    return render_template("admin/groups.html", groups=rows, units=unit_rows, values=values, errors=errors,
                           problem=problem), status


@bp.route("/groups/<code>", methods=["GET", "POST"])
def edit_group(code: str) -> Any:
    group = engine().run(directory.get_group, current_user.username, code)
    values, errors, status = group, {}, 200
    if request.method == "POST":
        values = {"code": code, "name": _field("name"), "host_unit": _field("host_unit")}
        errors = _text_problems(values, required=("name",), limited=("name",))
        if not errors:
            try:
                engine().run(accounts.admin_save_group, current_user.username, code, values["name"], values["host_unit"] or None)
            except ValidationFailed as exc:
                errors = exc.fields or {"name": str(exc)}
            else:
                flash(_("Work group %(code)s saved.", code=code), "success")
                return redirect(url_for("admin.groups"))
        status = 422
    unit_rows = engine().run(directory.list_units, current_user.username)
    return render_template("admin/group.html", group=group, units=unit_rows, values=values, errors=errors), status


# --- security audit -----------------------------------------------------------------------------

def _detail(detail: dict[str, Any] | None) -> str:
    return json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str) if detail else ""


@bp.route("/audit")
def audit() -> Any:
    filters = {k: request.args.get(k, "").strip() for k in ("actor", "kind", "target")}
    current = max(1, request.args.get("page", 1, type=int) or 1)
    page = engine().run(directory.security_events, current_user.username, filters["actor"] or None,
                        filters["kind"] or None, filters["target"] or None, current, AUDIT_PER_PAGE)
    for item in page["items"]:
        item["detail_text"] = _detail(item["detail"])
    kinds = sorted(set(engine().run(directory.security_event_kinds, current_user.username)) | set(EVENT_KINDS))
    return render_template("admin/audit.html", page=page, filters=filters, kinds=kinds, current=current,
                           per_page=AUDIT_PER_PAGE)
