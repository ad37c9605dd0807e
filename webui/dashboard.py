"""数据看板 and 排名: the campaign in figures, and units and groups ranked.

The dashboard page renders the overview, the weekly trend and the phase timeline itself; each
per-key chart fetches `GET /api/stats?by=…` with the page's filters (the ledger's filter keys,
plus registered_from/registered_to). Every chart segment links to the ledger with the same
filters and the segment's key, so a click shows the clues behind the figure.

`/api/stats` lives on a second blueprint under /api that authenticates exactly like
webui/api.py (session or Bearer token; 401 JSON otherwise).
"""
from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import ranking as ranking_engine
from engine import money, stats
from engine.errors import ValidationFailed
from engine.ledger import FILTERS, LABELS

from . import api, csrf
from .db import engine

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
api_bp = Blueprint("stats_api", __name__, url_prefix="/api")
api_bp.before_request(api.authenticate)


def init_app(app: Flask) -> None:
    csrf.exempt(api_bp)  # read-only; webui.api.authenticate checks CSRF for session writes anyway
    app.register_blueprint(api_bp)


def _filters() -> dict[str, Any]:
    return {k: v.strip() for k in FILTERS if (v := request.args.get(k, "")).strip()}


@bp.route("/")
@login_required
def index() -> Any:
    data = engine().run(stats.dashboard, current_user.username, _filters())
    return render_template("dashboard/index.html", data=data, labels=LABELS, chart_titles=_chart_titles(),
                           phase_names=_phase_names())


def _chart_titles() -> dict[str, str]:
    return {"category": _("Clues by category"), "source": _("Clues by source"), "stage": _("Clues by stage"),
            "unit": _("Clues by responsible unit"), "group": _("Clues by work group"),
            "light": _("Open clues by light"), "money": _("Owed and paid by category (10,000 yuan)"),
            "trend": _("Registered and closed per week"), "timeline": _("Campaign phases")}


def _phase_names() -> dict[str, str]:
    return {"investigation": _("Investigation"), "rectification": _("Rectification"),
            "spot_check": _("Spot checks"), "summary": _("Summary")}


def _day(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"{name} is not a date", {name: _("Enter a date (YYYY-MM-DD).")}) from None


@bp.route("/ranking")
@login_required
def ranking() -> Any:
    level = request.args.get("level", "unit")
    data = engine().run(ranking_engine.ranking_page, current_user.username, level, _day("start"), _day("end"))
    return render_template("dashboard/ranking.html", data=data)


@api_bp.get("/stats")
def stats_api() -> Any:
    by = request.args.get("by", "").strip() or "category"
    items = engine().run(stats.figures, current_user.username, by, _filters())
    return jsonify({"by": by, "items": items, "total": len(items), "clues": sum(i["count"] for i in items),
                    "owed": money.total(i["owed"] for i in items), "paid": money.total(i["paid"] for i in items)})


def openapi_part() -> dict[str, Any]:
    """/api/stats for webui/openapi.py's document."""
    def query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}

    def error(code: str) -> dict[str, str]:
        names = {"401": "Unauthorized", "422": "Invalid"}
        return {"$ref": f"#/components/responses/{names[code]}"}

    amount = {"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "description": "元，精确到分的十进制字符串，如 \"1280000.00\""}
    figure = {
        "type": "object", "required": ["key", "label", "count", "owed", "paid"],
        "properties": {"key": {"type": ["string", "null"], "description": "分组键（编码）；null 表示尚未填写"},
                       "label": {"type": "string", "description": "中文名称"},
                       "count": {"type": "integer", "description": "线索数"},
                       "owed": {**amount, "description": "欠款金额合计（元，精确到分的十进制字符串）"},
                       "paid": {**amount, "description": "已支付金额合计（元，精确到分的十进制字符串）"}},
    }
    result = {
        "type": "object", "required": ["by", "items", "total", "clues", "owed", "paid"],
        "properties": {"by": {"enum": list(stats.BY)}, "items": {"type": "array", "items": {"$ref": "#/components/schemas/StatsFigure"}},
                       "total": {"type": "integer", "description": "分组个数"},
                       "clues": {"type": "integer", "description": "线索总数（与工作台账同条件的总数相同）"},
                       "owed": amount, "paid": amount},
    }
    parameters = [
        query("by", {"enum": list(stats.BY), "default": "category"}, "分组：问题类别（默认）、线索来源、办理阶段、责任单位、牵头专班或亮灯"),
        query("category", {"enum": list(LABELS["category"])}, "问题类别"),
        query("stage", {"enum": list(LABELS["stage"])}, "办理阶段"),
        query("unit", {"type": "string"}, "责任单位编码"),
        query("group", {"type": "string"}, "牵头专班编码"),
        query("source", {"enum": list(LABELS["source"])}, "线索来源"),
        query("light", {"enum": list(LABELS["light"])}, "亮灯"),
        query("overdue", {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no", "on", "off"]},
              "true 只看逾期，false 只看未逾期"),
        query("q", {"type": "string"}, "企业名称、被反映单位（模糊）或统一社会信用代码（精确）"),
        query("registered_from", {"type": "string", "format": "date"}, "登记日期不早于（含）"),
        query("registered_to", {"type": "string", "format": "date"}, "登记日期不晚于（含）"),
    ]
    return {
        "paths": {"/api/stats": {"get": {
            "tags": ["stats"], "operationId": "getStats", "summary": "统计",
            "description": ("按一个维度分组的线索数、欠款金额和已支付金额，筛选条件与 GET /api/clues 相同，"
                            "范围与工作台账相同（责任单位只看本单位，专班只看本专班）。"),
            "parameters": parameters,
            "responses": {"200": {"description": "各分组的数字", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Stats"}}}}, "401": error("401"), "422": error("422")},
        }}},
        "schemas": {"StatsFigure": figure, "Stats": result},
        "tags": [{"name": "stats", "description": "统计"}],
    }
