"""Recorded steps as people read them: each value under its own form's label, in Chinese.

Task pages, clue pages and the case file show what earlier steps submitted. The raw event
data is JSON with codes (`zengdu`, `true`, `1280000.0`); a handler reads 责任单位：曾都区,
重点问题：是, 拖欠金额（元）：1,280,000.00 元. The labels come from the form the step used
(found through the step's BPMN element in the instance's own definition version), so two forms
that name a field alike each keep their own title and options.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from . import vocabulary
from .clock import SHANGHAI
from .context import Context
from .db.models import User
from .forms import FormDefinition

KIND_LABELS, ROLE_LABELS, SOURCE_LABELS = vocabulary.EVENT, vocabulary.ROLE, vocabulary.SOURCE
# Process variables every clue carries from its campaign: not something a person entered.
HIDDEN_VARIABLES = {"campaign_id", "investigation_end", "rectification_end", "spot_check_start", "spot_check_end",
                    "campaign_end", "spot_check_rate", "max_sendbacks", "clue_id"}
# Titles of the variables that no form asks for (set at intake or by the process itself).
VARIABLE_TITLES = {
    "enterprise_name": "企业名称", "debtor": "被反映单位", "summary": "问题概述", "amount_owed": "欠款金额（元）",
    "source": "线索来源", "uscc": "统一社会信用代码", "county": "所在县市区", "work_group": "牵头专班",
    "lead_units": "牵头单位", "sendback_count": "退回次数", "spot_check_selected": "纳入抽查",
    "refer": "移送纪检", "redo": "重新整改", "complainant_name": "反映人", "complainant_phone": "联系电话",
    "evidence_id": "证据编号", "filename": "文件名", "media_type": "文件类型", "size": "大小（字节）",
    "hash": "文件哈希", "hash_alg": "哈希算法", "text": "督办内容", "notice_id": "督办单编号",
    "history_head_before": "签收前链头哈希", "message": "错误信息", "ended_by": "结束于",
    "step": "督办步骤", "reason": "理由", "listed": "挂牌督办", "note": "意见",
    "category": "问题类别", "level": "办理层级", "key_problem": "重点问题", "responsible_unit": "责任单位",
    "deadline": "办结时限", "sla_days": "办理时限（天）",
}
CODE_FIELDS = {"responsible_unit", "work_group", "lead_units", "county", "unit", "group"}
MAX_VALUE_CHARS = 1000
_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def directory_names(ctx: Context) -> dict[str, str]:
    """Unit and group codes -> Chinese names, read once per operation."""
    if "directory_names" not in ctx.cache:
        ctx.cache["directory_names"] = vocabulary.org_names(ctx.session)
    return ctx.cache["directory_names"]


def people_names(ctx: Context, usernames: set[str]) -> dict[str, str]:
    wanted = {u for u in usernames if u and u != "system"}
    rows = ctx.session.execute(select(User.username, User.display_name).where(User.username.in_(wanted))) if wanted else []
    return {"system": "系统", **{username: name for username, name in rows}}


def form_keys_by_element(ctx: Context, definition_id: int | None) -> dict[str, str]:
    """BPMN element id -> the form its user task names, in one definition version."""
    if definition_id is None:
        return {}
    cache_key = f"form_keys:{definition_id}"
    if cache_key not in ctx.cache:
        spec, subprocesses = ctx.runtime.specs.get_by_id(ctx.session, definition_id)
        keys: dict[str, str] = {}
        for process in [spec, *subprocesses.values()]:
            for task_spec in process.task_specs.values():
                form_key = getattr(task_spec, "extensions", {}).get("properties", {}).get("formKey")
                if form_key and getattr(task_spec, "bpmn_id", None):
                    keys[task_spec.bpmn_id] = form_key
        ctx.cache[cache_key] = keys
    return ctx.cache[cache_key]


def form_of(ctx: Context, form_key: str | None) -> FormDefinition | None:
    return ctx.runtime.forms.get(form_key) if form_key and form_key in ctx.runtime.forms.keys() else None


def money(value: Any) -> str:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{amount:,.2f} 元" if amount.is_finite() else str(value)


def local_moment(value: Any) -> str:
    """A recorded moment in Beijing time; a plain date stays a date."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return value.isoformat()
    elif isinstance(value, str) and _ISO_MOMENT.match(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _is_money(name: str, prop: dict[str, Any]) -> bool:
    return name.startswith("amount") or "金额" in str(prop.get("title", ""))


def display_value(name: str, value: Any, prop: dict[str, Any], ui: dict[str, Any], names: dict[str, str]) -> str:
    """One submitted value as text a handler reads."""
    labels = {str(k): str(v) for k, v in (ui.get("enum_labels") or {}).items()}
    if name == "source" and not labels:
        labels = SOURCE_LABELS
    if isinstance(value, bool):
        return labels.get(str(value).lower()) or vocabulary.yes_no(value)
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return "；".join(_row_text(row, prop.get("items", {}), ui, names) for row in value)
        return "、".join(display_value(name, v, prop, ui, names) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{k}：{v}" for k, v in value.items())
    text = str(value)
    if text in labels:
        return labels[text]
    if name in CODE_FIELDS and text in names:
        return names[text]
    if isinstance(value, (int, float, Decimal)) and _is_money(name, prop) or (
            isinstance(value, str) and _is_money(name, prop) and re.fullmatch(r"-?\d+(\.\d+)?", text)):
        return money(value)
    if isinstance(value, (datetime, date)) or (isinstance(value, str) and _ISO_MOMENT.match(text)):
        return local_moment(value)
    return text


def _row_text(row: dict[str, Any], items: dict[str, Any], ui: dict[str, Any], names: dict[str, str]) -> str:
    columns = items.get("properties", {})
    column_ui = ui.get("columns", {})
    parts = [f"{columns.get(k, {}).get('title', VARIABLE_TITLES.get(k, k))}："
             f"{display_value(k, v, columns.get(k, {}), column_ui.get(k, {}), names)}"
             for k, v in row.items() if v not in (None, "")]
    return "，".join(parts)


def readable_fields(data: Any, form: FormDefinition | None, names: dict[str, str],
                    hidden: set[str] | frozenset[str] = frozenset()) -> list[dict[str, str]]:
    """Label–value pairs of one step's data, in the form's field order; empty values left out."""
    if not isinstance(data, dict):
        return []
    properties = form.schema.get("properties", {}) if form else {}
    ui_fields = form.ui.get("fields", {}) if form else {}
    order = list(form.ui.get("order", properties)) if form else []
    keys = [k for k in order if k in data] + [k for k in data if k not in order]
    rows = []
    for key in keys:
        value = data[key]
        if value in (None, "", [], {}) or key in hidden or key in HIDDEN_VARIABLES or key == "changed":
            continue
        prop = properties.get(key, {})
        shown = display_value(key, value, prop, ui_fields.get(key, {}), names)
        if len(shown) > MAX_VALUE_CHARS:
            shown = shown[:MAX_VALUE_CHARS] + "…"
        rows.append({"name": key, "label": str(prop.get("title") or VARIABLE_TITLES.get(key, key)), "value": shown})
    return rows


def actor_text(actor: str, role: str | None, people: dict[str, str]) -> str:
    """办理人 as people read it: 张三（综合办公室）, 系统."""
    who = people.get(actor, actor)
    if role and role != "system" and actor != "system":
        who += f"（{ROLE_LABELS.get(role, role)}）"
    return who


def readable_event(ctx: Context, event: Any, definition_id: int | None, people: dict[str, str],
                   hidden: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """One history event with its title, who, when and its data as label–value pairs."""
    data = event.data
    form = None
    if event.kind == "instance_started" and isinstance(data, dict) and isinstance(data.get("variables"), dict):
        data = data["variables"]
        form = form_of(ctx, "intake")
    elif event.kind == "task_completed" and event.element_id:
        form = form_of(ctx, form_keys_by_element(ctx, definition_id).get(event.element_id))
    title = event.element_name or KIND_LABELS.get(event.kind, "")
    if event.kind == "instance_started":
        title = KIND_LABELS["instance_started"]
    return {
        "seq": event.seq, "kind": event.kind, "kind_label": KIND_LABELS.get(event.kind, "记录"),
        "title": title, "element_id": event.element_id, "task_id": event.task_id,
        "actor": event.actor, "actor_role": event.actor_role,
        "who": actor_text(event.actor, event.actor_role, people), "at": event.at.isoformat(),
        "form_key": form.key if form else None, "fields": readable_fields(data, form, directory_names(ctx), hidden),
        "data": event.data,
    }
