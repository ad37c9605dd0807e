"""The OpenAPI 3.1 document of the JSON API (`/api/openapi.json`).

Written by hand next to `api.py` and checked against the app's URL map and real responses by
tests/integration/test_api.py, so that it says what the server does. Enumerations come from the
engine's own constants, and the intake request body is the intake form's JSON Schema itself.
"""
from __future__ import annotations

import copy
import importlib
from typing import Any

from engine.forms import FormRegistry
from engine.ledger import LABELS, MAX_PER_PAGE, SORTABLE

OPENAPI_VERSION = "3.1.0"
LIGHTS = list(LABELS["light"])  # what ledger.light_of_clue and tasks.light_of_task give
OPENAPI_AREAS = ("process_api", "dashboard")
INSTANCE_STATUSES = ["running", "waiting", "completed", "error", "suspended", "terminated"]


# status → (components/responses name, description, schema)
ERROR_RESPONSES = {
    "400": ("CsrfRefused", "使用会话 Cookie 且未带 CSRF 令牌（X-CSRFToken 头）的写操作被拒绝", "Error"),
    "401": ("Unauthorized", "未登录，或 Bearer 令牌无效、已撤销", "Error"),
    "403": ("Forbidden", "无权查看或办理（其他单位、专班的线索或任务，或角色不符）", "Error"),
    "404": ("NotFound", "线索或任务不存在", "Error"),
    "409": ("Conflict", "任务已不在待办状态（已被他人办理或取消），或被他人认领", "Error"),
    "422": ("Invalid", "数据或查询参数校验未通过；fields 给出每个字段的原因。error 为 confirmation_required 时，"
                       "数据可能成立但不合常理（期限已过、已支付超过拖欠金额、整改期限晚于交办期限），"
                       "核实后在请求体中加 \"confirm_warnings\": true 原样重新提交即可", "ValidationError"),
}


AMOUNT = {"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "description": "金额（元），精确到分的十进制字符串，如 \"1280000.00\""}
CONFIRM_WARNINGS = {"type": "boolean", "default": False,
                    "description": "true：确认此前 422 confirmation_required 列出的提醒，原样提交"}


def _responses(ok: tuple[str, dict[str, Any]], *errors: str) -> dict[str, Any]:
    """The success response and references to the shared error responses `errors` (statuses)."""
    status, response = ok
    return {status: response, **{code: {"$ref": f"#/components/responses/{ERROR_RESPONSES[code][0]}"} for code in errors}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


# Only the inbox list carries the clue's enterprise (one look-up per page).
OPTIONAL_TASK_FIELDS = {"enterprise_name"}


def _schemas(intake: dict[str, Any]) -> dict[str, Any]:
    text = {"type": "string"}
    moment = {"type": "string", "format": "date-time"}
    task_summary_props = {
        "id": {"type": "string", "description": "任务 ID（SpiffWorkflow 任务 UUID）"},
        "instance_id": {"type": "integer"},
        "clue_id": _nullable("integer"),
        "name": {"type": "string", "description": "BPMN 任务 ID，如 Task_triage"},
        "title": text,
        "lane": _nullable("string"),
        "form": _nullable("string", description="forms/ 中的表单键"),
        "stage": _nullable("string"),
        "candidate_unit": _nullable("string"),
        "candidate_group": _nullable("string"),
        "due_at": _nullable("string", format="date-time"),
        "claimed_by": _nullable("string"),
        "created_at": moment,
        "enterprise_name": _nullable("string", description="线索的企业名称（待办列表）"),
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {
                "error": {"type": "string", "description": "机器可读的错误代码，如 unauthorized、forbidden、not_found、conflict"},
                "message": {"type": "string", "description": "给人看的中文说明"},
                "detail": {"type": "string", "description": "开发者可读的详细原因（英文，可能省略）"},
            },
        },
        "ValidationError": {
            "type": "object",
            "required": ["error", "message", "fields"],
            "properties": {
                "error": {"enum": ["invalid", "confirmation_required"],
                          "description": "invalid：须改正；confirmation_required：须核实，确认后带 confirm_warnings 重新提交"},
                "message": {"type": "string", "description": "给人看的中文说明"},
                "detail": {"type": "string", "description": "开发者可读的详细原因（英文，可能省略）"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "字段名 → 中文错误信息或提醒（嵌套字段以点分隔）"},
                "confirm_with": {"const": "confirm_warnings",
                                 "description": "仅 confirmation_required：确认时在请求体顶层加的成员"},
            },
        },
        "ClueIntake": intake,
        "ClueCreated": {
            "type": "object",
            "required": ["clue_id", "instance_id", "duplicates"],
            "properties": {
                "clue_id": {"type": "integer"},
                "instance_id": {"type": "integer"},
                "duplicates": {"type": "array", "items": {"type": "integer"},
                               "description": "同一企业、同一被反映单位仍在办理中的其他线索编号"},
                "replayed": {"type": "boolean",
                             "description": "true：同一 Idempotency-Key 已登记过，返回的是当时登记的线索，未重复登记"},
                "same_data": {"type": "boolean", "description": "仅在 replayed 为 true 时出现；总为 true（数据不同时返回 422）"},
            },
        },
        "Clue": {
            "type": "object",
            "required": ["clue_id", "instance_id", "campaign_id", "source", "enterprise_name", "debtor", "summary",
                         "stage", "key_problem", "referred", "sendback_count", "created_by", "created_at"],
            "properties": {
                "clue_id": {"type": "integer"},
                "instance_id": _nullable("integer"),
                "campaign_id": {"type": "integer"},
                "source": {"enum": list(LABELS["source"])},
                "enterprise_name": text,
                "uscc": _nullable("string"),
                "debtor": text,
                "summary": text,
                "amount_owed": {**AMOUNT, "type": ["string", "null"]},
                "amount_paid": {**AMOUNT, "type": ["string", "null"]},
                "complainant_name": _nullable("string", description="仅综合办公室和纪检监察可见"),
                "complainant_phone": _nullable("string", description="仅综合办公室和纪检监察可见"),
                "county": _nullable("string"),
                "category": {"enum": [*LABELS["category"], None]},
                "level": {"enum": [*LABELS["level"], None]},
                "key_problem": {"type": "boolean"},
                "work_group": _nullable("string"),
                "lead_units": {"type": ["array", "null"]},
                "responsible_unit": _nullable("string"),
                "deadline": _nullable("string", format="date"),
                "stage": {"enum": list(LABELS["stage"])},
                "referred": {"type": "boolean"},
                "sendback_count": {"type": "integer"},
                "spot_check_selected": _nullable("boolean"),
                "spot_check_result": _nullable("string"),
                "created_by": text,
                "created_at": moment,
                "updated_at": moment,
                "closed_at": _nullable("string", format="date-time"),
            },
        },
        "LedgerRow": {
            "allOf": [_ref("Clue")],
            "required": ["light"],
            "properties": {"light": {"enum": [*LIGHTS, None], "description": "红灯逾期；黄灯距期限不足 N 个工作日（按国家法定节假日及调休计算，N 为专项行动设定的黄灯工作日数，默认 3）；绿灯正常；已办结为 null"}},
        },
        "ClueList": {
            "type": "object",
            "required": ["items", "total", "page", "per_page"],
            "properties": {"items": {"type": "array", "items": _ref("LedgerRow")}, "total": {"type": "integer"},
                           "page": {"type": "integer"}, "per_page": {"type": "integer"}},
        },
        "HistoryEvent": {
            "type": "object",
            "required": ["seq", "at", "actor", "kind", "hash_alg", "hash"],
            "properties": {
                "seq": {"type": "integer"}, "at": moment, "actor": text, "actor_role": _nullable("string"),
                "kind": text, "task_id": _nullable("string"), "element_id": _nullable("string"),
                "element_name": _nullable("string"), "data": {"type": ["object", "null"]},
                "hash_alg": {"type": "string", "description": "如 sm3"}, "hash": text,
            },
        },
        "History": {
            "type": "object",
            "required": ["clue_id", "instance_id", "items", "total"],
            "properties": {"clue_id": {"type": "integer"}, "instance_id": _nullable("integer"),
                           "items": {"type": "array", "items": _ref("HistoryEvent")}, "total": {"type": "integer"}},
        },
        "ClueDetail": {
            "allOf": [_ref("Clue")],
            "required": ["instance", "tasks", "history"],
            "properties": {
                "instance": {"oneOf": [{"type": "null"}, {
                    "type": "object",
                    "required": ["id", "status", "version"],
                    "properties": {"id": {"type": "integer"}, "status": {"enum": INSTANCE_STATUSES},
                                   "version": {"type": "integer"},
                                   "next_timer_at": _nullable("string", format="date-time"),
                                   "error": _nullable("string")},
                }]},
                "tasks": {"type": "array", "description": "当前待办的任务", "items": {
                    "allOf": [_ref("TaskSummary")], "required": ["may_open"],
                    "properties": {"may_open": {"type": "boolean", "description": "调用者能否打开该任务（GET /api/tasks/{id}）"}},
                }},
                "history": {"type": "array", "items": _ref("HistoryEvent")},
            },
        },
        "TaskSummary": {"type": "object", "required": [k for k in task_summary_props if k not in OPTIONAL_TASK_FIELDS],
                        "properties": task_summary_props},
        "InboxTask": {
            "allOf": [_ref("TaskSummary")],
            "required": ["light"],
            "properties": {"light": {"enum": [*LIGHTS, None], "description": "按任务期限亮灯（黄灯：距期限不足专项行动设定的工作日数）；无期限为 null"}},
        },
        "TaskList": {
            "type": "object",
            "required": ["items", "total", "page", "per_page"],
            "properties": {"items": {"type": "array", "items": _ref("InboxTask")}, "total": {"type": "integer"},
                           "page": {"type": "integer"}, "per_page": {"type": "integer"}},
        },
        "Form": {
            "type": "object",
            "required": ["key", "title", "schema", "ui"],
            "properties": {"key": text, "title": text,
                           "schema": {"type": "object", "description": "表单的 JSON Schema（2020-12）；complete 的 data 按它校验"},
                           "ui": {"type": "object", "description": "渲染提示：字段顺序、控件、选项中文名"}},
        },
        "TaskDetail": {
            "type": "object",
            "required": [*(k for k in task_summary_props if k not in OPTIONAL_TASK_FIELDS), "may_complete", "earlier_steps"],
            "properties": {
                **task_summary_props,
                "may_complete": {"type": "boolean"},
                "form": {"oneOf": [{"type": "null"}, _ref("Form")],
                         "description": "任务的表单（此处为整个表单，不只是表单键）；无表单为 null"},
                "earlier_steps": {"type": "array", "items": {
                    "type": "object", "required": ["kind", "actor", "at", "data"],
                    "properties": {"kind": {"enum": ["instance_started", "task_completed"]},
                                   "title": _nullable("string"), "actor": text, "at": moment,
                                   "who": {"type": "string", "description": "办理人姓名及角色（中文）"},
                                   "fields": {"type": "array", "description": "该步骤提交的内容，按其表单的中文标签与取值",
                                              "items": {"type": "object", "properties": {
                                                  "name": text, "label": text, "value": text}}},
                                   "data": {"type": ["object", "null"]}},
                }},
                "options": {"type": "object", "description": "取自单位、专班、用户名录的字段可选项（value 提交，label 显示）"},
                "previous": {"type": ["object", "null"],
                             "description": "同一环节上次提交的内容（退回后重新办理时），及其后各步骤"},
                "shown_step": {"type": ["object", "null"], "description": "表单要求置于顶部的前序步骤（审核销号时为整改反馈）"},
            },
        },
        "TaskCompletion": {
            "type": "object",
            "required": ["data"],
            "properties": {"data": {"type": "object", "description": "按任务表单（GET /api/tasks/{task_id} 的 form.schema）填写的数据；"
                                                             "金额为字符串（如 \"1280000.00\"）或最多两位小数的数字"},
                           "confirm_warnings": CONFIRM_WARNINGS},
        },
        "TaskCompleted": {
            "type": "object",
            "required": ["task_id", "instance_id", "status", "next_tasks"],
            "properties": {
                "task_id": text, "instance_id": {"type": "integer"}, "status": {"enum": INSTANCE_STATUSES},
                "next_tasks": {"type": "array", "items": _ref("TaskSummary")},
                "error": {"type": "object", "properties": {"element_id": text, "message": text},
                          "description": "流程在后续步骤出错时给出（任务本身已提交）"},
            },
        },
    }


def build_document(forms: FormRegistry, session_cookie: str = "session") -> dict[str, Any]:
    """The whole OpenAPI document; `forms` supplies the intake form's JSON Schema."""
    intake = {k: v for k, v in copy.deepcopy(forms.get("intake").schema).items() if k != "$schema"}
    intake["properties"]["confirm_warnings"] = CONFIRM_WARNINGS
    page = {"$ref": "#/components/parameters/page"}
    per_page = {"$ref": "#/components/parameters/per_page"}
    clue_id = {"$ref": "#/components/parameters/clue_id"}
    task_id = {"$ref": "#/components/parameters/task_id"}
    overdue = _query("overdue", {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no", "on", "off"]},
                     "true 只看逾期；false 或省略则不按逾期筛选")
    q = _query("q", {"type": "string"}, "企业名称（模糊）或统一社会信用代码（精确）")
    category = _query("category", {"enum": list(LABELS["category"])}, "问题类别")
    stage = _query("stage", {"type": "string"}, "办理阶段")
    unit = _query("unit", {"type": "string"}, "责任单位编码")
    sort_values = [*SORTABLE, *(f"-{k}" for k in SORTABLE)]

    def task_action(operation_id: str, summary: str, description: str) -> dict[str, Any]:
        return {"post": {
            "tags": ["tasks"], "summary": summary, "description": description,
            "operationId": operation_id, "parameters": [task_id],
            "responses": _responses(("200", _json(_ref("TaskSummary"), "认领状态已更新的任务")),
                                    "400", "401", "403", "404", "409"),
        }}

    paths: dict[str, Any] = {
        "/api/clues": {
            "post": {
                "tags": ["clues"], "operationId": "createClue", "summary": "线索登记",
                "description": "登记一条问题线索并启动办理流程（仅综合办公室）。可带 Idempotency-Key 请求头："
                               "同一用户以同一键再次提交（如超时后重试）不会重复登记，而是返回 200 和当时登记的线索；"
                               "同一键配以不同的请求体返回 422。键与线索登记在同一事务中记录，并发的重复请求也只登记一条。",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                "description": "客户端为每次登记生成的唯一键（1–100 个可打印 ASCII 字符，建议 UUID）",
                                "schema": {"type": "string", "minLength": 1, "maxLength": 100,
                                           "pattern": "^[\\x21-\\x7e]{1,100}$"}}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ClueIntake")}}},
                "responses": {**_responses(
                    ("201", {**_json(_ref("ClueCreated"), "已登记；duplicates 非空时提示可能重复"),
                             "headers": {"Location": {"schema": {"type": "string"}, "description": "新线索的 URL"}}}),
                    "400", "401", "403", "422"),
                    "200": {**_json(_ref("ClueCreated"), "该 Idempotency-Key 已登记过：返回当时的线索，未重复登记"),
                            "headers": {"Location": {"schema": {"type": "string"}, "description": "该线索的 URL"},
                                        "Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]},
                                                                "description": "本次为重放"}}}},
            },
            "get": {
                "tags": ["clues"], "operationId": "listClues", "summary": "工作台账",
                "description": "当前用户可见的线索，按条件筛选、排序、分页。",
                "parameters": [
                    category, _query("stage", {"enum": list(LABELS["stage"])}, "办理阶段"), unit,
                    _query("group", {"type": "string"}, "牵头专班编码"),
                    _query("source", {"enum": list(LABELS["source"])}, "线索来源"),
                    _query("light", {"enum": LIGHTS}, "亮灯"),
                    {**overdue, "description": "true 只看逾期，false 只看未逾期"},
                    {**q, "description": "企业名称、被反映单位（模糊）或统一社会信用代码（精确）"},
                    page, per_page,
                    _query("sort", {"enum": sort_values, "default": "-id"}, "排序字段；前加 - 为倒序"),
                ],
                "responses": _responses(("200", _json(_ref("ClueList"), "一页线索和匹配总数")), "401", "422"),
            },
        },
        "/api/clues/{clue_id}": {"get": {
            "tags": ["clues"], "operationId": "getClue", "summary": "线索详情",
            "description": "线索、流程实例、当前待办任务和办理记录。", "parameters": [clue_id],
            "responses": _responses(("200", _json(_ref("ClueDetail"), "线索")), "401", "403", "404"),
        }},
        "/api/clues/{clue_id}/history": {"get": {
            "tags": ["clues"], "operationId": "getClueHistory", "summary": "办理记录",
            "description": "线索流程的全部历史事件（SM3 哈希链），按顺序。", "parameters": [clue_id],
            "responses": _responses(("200", _json(_ref("History"), "历史事件")), "401", "403", "404"),
        }},
        "/api/tasks": {"get": {
            "tags": ["tasks"], "operationId": "listTasks", "summary": "待办",
            "description": "当前用户可办理的待办任务，期限最近的在前。",
            "parameters": [category, stage, unit, overdue, q,
                           _query("clue_id", {"type": "integer", "minimum": 1}, "只看该线索的任务"), page, per_page],
            "responses": _responses(("200", _json(_ref("TaskList"), "一页待办和匹配总数")), "401", "422"),
        }},
        "/api/tasks/{task_id}": {"get": {
            "tags": ["tasks"], "operationId": "getTask", "summary": "任务详情",
            "description": "待办任务、它的表单（含 JSON Schema）和此前各步骤的数据。", "parameters": [task_id],
            "responses": _responses(("200", _json(_ref("TaskDetail"), "任务")), "401", "403", "404", "409"),
        }},
        "/api/tasks/{task_id}/claim": task_action("claimTask", "认领任务", "认领任务，让同事知道有人在办；他人已认领为 409。"),
        "/api/tasks/{task_id}/release": task_action("releaseTask", "放弃认领", "放弃自己的认领；未由本人认领为 409。"),
        "/api/tasks/{task_id}/complete": {"post": {
            "tags": ["tasks"], "operationId": "completeTask", "summary": "提交任务",
            "description": "按任务表单提交数据并推进流程。",
            "parameters": [task_id],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("TaskCompletion")}}},
            "responses": _responses(("200", _json(_ref("TaskCompleted"), "已提交；next_tasks 为该流程的当前待办")),
                                    "400", "401", "403", "404", "409", "422"),
        }},
        "/api/openapi.json": {"get": {
            "tags": ["meta"], "operationId": "getOpenApi", "summary": "本文档", "security": [],
            "responses": {"200": _json({"type": "object"}, "OpenAPI 文档")},
        }},
    }

    schemas = _schemas(intake)
    tags = [{"name": "clues", "description": "线索"}, {"name": "tasks", "description": "任务"},
            {"name": "meta", "description": "文档"}]
    # Later API areas describe their own routes next to their views: a module-level
    # `openapi_part()` returning {"paths": …, "schemas": …, "tags": […]}.
    for area in OPENAPI_AREAS:
        try:
            module = importlib.import_module(f"webui.{area}")
        except ModuleNotFoundError as exc:
            if exc.name != f"webui.{area}":
                raise
            continue
        part = module.openapi_part()
        paths.update(part.get("paths", {}))
        schemas.update(part.get("schemas", {}))
        tags += part.get("tags", [])

    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "诚信政府建设专项行动 问题线索办理系统 API",
            "version": "1.0.0",
            "description": ("JSON API。认证：`Authorization: Bearer <令牌>`（`chengxin token create USER` 或令牌管理页面生成），"
                            "或浏览器登录会话；以会话 Cookie 发起的写操作须带 `X-CSRFToken` 头。"
                            "所有列表返回 `{\"items\": [...], \"total\": N}`。"),
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "tags": tags,
        "security": [{"bearerAuth": []}, {"cookieSession": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "cx_…",
                               "description": "API 令牌"},
                "cookieSession": {"type": "apiKey", "in": "cookie", "name": session_cookie,
                                  "description": "登录页面建立的会话；写操作另须 X-CSRFToken 头"},
            },
            "parameters": {
                "page": {"name": "page", "in": "query", "required": False,
                         "schema": {"type": "integer", "minimum": 1, "default": 1}, "description": "页码"},
                "per_page": {"name": "per_page", "in": "query", "required": False,
                             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": 50},
                             "description": "每页条数"},
                "clue_id": {"name": "clue_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1}, "description": "线索编号"},
                "task_id": {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"},
                            "description": "任务 ID"},
            },
            "responses": {name: _json(_ref(schema), description)
                          for name, description, schema in ERROR_RESPONSES.values()},
            "schemas": schemas,
        },
    }

