"""Option lists for form fields whose values come from the directory (units, groups, users).

A form names the list in its ui hints (`"options": "units"`); the engine fills it when the
task is shown and checks the submitted value against the same list, so a handler picks a
unit by its Chinese name and no free or stale code gets into a clue.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .context import Context
from .db.models import Clue, OrgUnit, User, WorkGroup
from .errors import ValidationFailed
from .forms import FormDefinition

# Process variables that hand a clue to someone, whatever form submits them: an edited form that
# lost its option hint (or a new one that never had it) must not give a clue to a unit that does
# not exist, where no one would ever see it (issue 18).
ASSIGNING_VARIABLES = {"responsible_unit": (OrgUnit, "责任单位"), "work_group": (WorkGroup, "工作专班")}
OFFICE = "office"  # the routing table's name for the office itself as the handling group


def _units(ctx: Context, clue: Clue | None) -> list[dict[str, Any]]:
    lead = [str(code) for code in (clue.lead_units or [])] if clue is not None else []
    rows = list(ctx.session.execute(select(OrgUnit.code, OrgUnit.name).order_by(OrgUnit.code)))
    by_code = {code: name for code, name in rows}
    first = [{"value": code, "label": by_code[code], "group": "牵头单位"} for code in lead if code in by_code]
    rest = [{"value": code, "label": name, "group": "其他单位" if first else None}
            for code, name in rows if code not in lead]
    return first + rest


def _groups(ctx: Context) -> list[dict[str, Any]]:
    return [{"value": code, "label": name, "group": None}
            for code, name in ctx.session.execute(select(WorkGroup.code, WorkGroup.name).order_by(WorkGroup.code))]


def _users(ctx: Context) -> list[dict[str, Any]]:
    rows = ctx.session.execute(select(User.username, User.display_name).where(User.active.is_(True))
                               .order_by(User.username))
    return [{"value": username, "label": f"{name}（{username}）", "group": None} for username, name in rows]


def options_for(ctx: Context, form: FormDefinition | None, clue: Clue | None) -> dict[str, list[dict[str, Any]]]:
    """Field name -> its options, for every field of the form that takes them from the directory."""
    if form is None:
        return {}
    result: dict[str, list[dict[str, Any]]] = {}
    for name, ui in form.ui.get("fields", {}).items():
        source = ui.get("options")
        if source == "units":
            result[name] = _units(ctx, clue)
        elif source == "groups":
            result[name] = _groups(ctx)
        elif source == "users":
            result[name] = _users(ctx)
    return result


def check_options(ctx: Context, form: FormDefinition | None, clue: Clue | None, data: dict[str, Any]) -> None:
    """:raises ValidationFailed: a directory field holds a value that is not in its list."""
    errors = {}
    for name, options in options_for(ctx, form, clue).items():
        value = data.get(name)
        if value not in (None, "") and value not in {o["value"] for o in options}:
            errors[name] = "不在可选范围内，请从列表中选择"
    if errors:
        raise ValidationFailed("表单校验未通过：" + "；".join(f"{k} {v}" for k, v in errors.items()), errors)


def check_assignment(ctx: Context, data: dict[str, Any]) -> None:
    """:raises ValidationFailed: submitted data hands the clue to a unit or group not in the directory."""
    errors = {}
    for name, (table, label) in ASSIGNING_VARIABLES.items():
        value = data.get(name)
        if value in (None, "") or (table is WorkGroup and value == OFFICE):
            continue
        if not isinstance(value, str) or ctx.session.get(table, value) is None:
            errors[name] = f"{label}不存在，请从列表中选择"
    if errors:
        raise ValidationFailed("表单校验未通过：" + "；".join(f"{k} {v}" for k, v in errors.items()), errors)
