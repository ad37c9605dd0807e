"""The generic JSON API for integrators: any deployed process, not only clues (engine/generic_processes.py).

POST /api/definitions (multipart, parts named `file`) deploys BPMN and DMN files; GET lists the
catalogue. POST /api/instances starts a process; GET /api/instances and /api/instances/{id}
follow instances. Authentication and CSRF are webui.api's (bearer token or session; a
session-cookie write needs X-CSRFToken). Who may deploy, start and see is decided in the
engine module's docstring. Routes are described in `openapi_part()` below.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify, request, url_for
from flask_login import current_user

from engine import generic_processes
from engine.errors import NotFound, ValidationFailed
from engine.instance_view import FILTERS as MONITOR_FILTERS

from . import api, csrf
from .openapi import ERROR_RESPONSES, _json, _nullable, _query, _ref
from .db import engine

bp = Blueprint("process_api", __name__, url_prefix="/api")
bp.before_request(api.authenticate)
INSTANCE_FILTERS = ("process_id", "version", "status", "started_by_me", *(f for f in MONITOR_FILTERS
                                                                        if f not in ("process_id", "version", "status")))


def init_app(app: Flask) -> None:
    csrf.exempt(bp)  # webui.api.authenticate checks CSRF for session-cookie writes


@bp.post("/definitions")
def deploy_definitions() -> Any:
    uploads = request.files.getlist("file")
    if not request.mimetype.startswith("multipart/form-data") or not uploads:
        raise ValidationFailed("上传应为 multipart/form-data，文件字段名为 file",
                               {"file": "至少上传一个 BPMN 文件（字段名 file）"})
    files = [(upload.filename or f"upload-{n}", upload.read()) for n, upload in enumerate(uploads, start=1)]
    deployed = engine().run(generic_processes.deploy_files, current_user.username, files)
    return jsonify(deployed), 201


@bp.get("/definitions")
def list_definitions() -> Any:
    return jsonify(engine().run(generic_processes.catalogue, current_user.username))


@bp.post("/instances")
def start_instance() -> Any:
    body = api._body()
    if not isinstance(body.get("process_id"), str) or not body["process_id"]:
        raise ValidationFailed("请求体缺少 process_id", {"process_id": "必填"})
    started = engine().run(generic_processes.start, current_user.username, body["process_id"], body.get("data", {}))
    return jsonify(started), 201, {"Location": url_for(".get_instance", instance_id=started["id"])}


@bp.get("/instances")
def list_instances() -> Any:
    errors: dict[str, str] = {}
    page = api._int_arg("page", 1, 1, None, errors)
    per_page = api._int_arg("per_page", 50, 1, 200, errors)
    if errors:
        raise ValidationFailed("查询参数有误", errors)
    filters = {k: request.args.get(k, "").strip() for k in INSTANCE_FILTERS if request.args.get(k, "").strip()}
    listed = engine().run(generic_processes.list_instances, current_user.username, filters, page, per_page)
    return jsonify({**listed, "page": page, "per_page": per_page})


# A string converter: the instance id is checked here, so that any path answers 401 before 404.
@bp.get("/instances/<instance_id>")
def get_instance(instance_id: str) -> Any:
    if not instance_id.isdigit():
        raise NotFound(f"instance {instance_id} does not exist")
    return jsonify(engine().run(generic_processes.instance_detail, current_user.username, int(instance_id)))


# --- OpenAPI --------------------------------------------------------------------------------------

def _errors(*codes: str) -> dict[str, Any]:
    return {code: {"$ref": f"#/components/responses/{ERROR_RESPONSES[code][0]}"} for code in codes}


def openapi_part() -> dict[str, Any]:
    """Paths, schemas and tags of this module's routes, merged into /api/openapi.json."""
    text = {"type": "string"}
    moment = {"type": "string", "format": "date-time"}
    statuses = list(generic_processes.STATUSES)
    task_keys = ("id", "instance_id", "clue_id", "name", "title", "lane", "form", "stage", "candidate_unit",
                 "candidate_group", "due_at", "claimed_by", "created_at")
    schemas: dict[str, Any] = {
        "DefinitionFile": {"type": "object", "required": ["filename", "kind"],
                           "properties": {"filename": text, "kind": {"enum": ["bpmn", "dmn"]}}},
        "Definition": {
            "type": "object",
            "required": ["id", "process_id", "name", "version", "deployed_by", "deployed_at", "files"],
            "properties": {"id": {"type": "integer"}, "process_id": {"type": "string", "description": "BPMN 流程 ID"},
                           "name": text, "version": {"type": "integer", "minimum": 1}, "deployed_by": text,
                           "deployed_at": moment, "files": {"type": "array", "items": _ref("DefinitionFile")}},
        },
        "Deployed": {
            "type": "object", "required": ["definitions"],
            "properties": {"definitions": {"type": "array", "items": _ref("Definition"),
                                           "description": "上传中每个可执行流程部署后的版本（与最新版本完全相同则沿用该版本）"}},
        },
        "DefinitionProblem": {
            "type": "object", "required": ["file", "element_id", "reason"],
            "properties": {"file": {"type": "string", "description": "出问题的文件名；空串表示整个上传"},
                           "element_id": {"type": "string", "description": "出问题的 BPMN/DMN 元素 ID；空串表示整个文件"},
                           "reason": text},
        },
        "DeployRefused": {
            "type": "object", "required": ["error", "message"],
            "properties": {
                "error": {"enum": ["definition_rejected", "invalid"]}, "message": text,
                "problems": {"type": "array", "items": _ref("DefinitionProblem"),
                             "description": "definition_rejected：每个问题及其元素 ID，未部署任何内容"},
                "fields": {"type": "object", "additionalProperties": text, "description": "invalid：请求本身的问题"},
            },
        },
        "CatalogueEntry": {
            "allOf": [_ref("Definition")],
            "required": ["versions", "may_start"],
            "properties": {"versions": {"type": "array", "items": {"type": "integer"}},
                           "may_start": {"type": "boolean", "description": "当前用户能否用 POST /api/instances 启动它"}},
        },
        "Catalogue": {"type": "object", "required": ["items", "total"],
                      "properties": {"items": {"type": "array", "items": _ref("CatalogueEntry")},
                                     "total": {"type": "integer"}}},
        "InstanceStart": {
            "type": "object", "required": ["process_id"],
            "properties": {"process_id": text,
                           "data": {"type": "object", "description": "流程的初始变量；变量名以字母开头，只含字母、数字和下划线"}},
        },
        "InstanceTask": {"type": "object", "required": list(task_keys),
                         "properties": {k: v for k, v in {
                             "id": text, "instance_id": {"type": "integer"}, "clue_id": _nullable("integer"),
                             "name": {"type": "string", "description": "BPMN 任务 ID"}, "title": text,
                             "lane": _nullable("string", description="泳道；为 null 时任务交给流程发起人"),
                             "form": _nullable("string", description="表单键；为 null 时提交空数据即可完成"),
                             "stage": _nullable("string"), "candidate_unit": _nullable("string"),
                             "candidate_group": _nullable("string"), "due_at": _nullable("string", format="date-time"),
                             "claimed_by": _nullable("string"), "created_at": moment}.items()}},
        "InstanceEvent": {
            "type": "object", "required": ["seq", "at", "actor", "kind"],
            "properties": {"seq": {"type": "integer"}, "at": moment, "actor": text, "actor_role": _nullable("string"),
                           "kind": text, "task_id": _nullable("string"), "element_id": _nullable("string"),
                           "element_name": _nullable("string"), "data": {"type": ["object", "null"]}},
        },
        "InstanceDetail": {
            "type": "object",
            "required": ["id", "process_id", "version", "status", "started_by", "tasks", "history"],
            "properties": {
                "id": {"type": "integer"}, "process_id": text, "version": {"type": "integer"},
                "business_key": _nullable("string"), "status": {"enum": statuses},
                "error": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
                    "message": _nullable("string"), "element_id": _nullable("string")}}]},
                "started_by": text, "created_at": moment, "updated_at": moment,
                "completed_at": _nullable("string", format="date-time"),
                "next_timer_at": _nullable("string", format="date-time"), "clue_id": _nullable("integer"),
                "tasks": {"type": "array", "items": _ref("InstanceTask"), "description": "当前待办任务"},
                "history": {"type": "array", "items": _ref("InstanceEvent"), "description": "历史事件（SM3 哈希链），按顺序"},
            },
        },
        "InstanceRow": {
            "type": "object", "required": ["id", "process_id", "version", "status", "created_at"],
            "properties": {
                "id": {"type": "integer"}, "process_id": text, "version": {"type": "integer"},
                "business_key": _nullable("string"), "status": {"enum": statuses}, "created_at": moment,
                "updated_at": moment, "clue_id": _nullable("integer"), "stage": _nullable("string"),
                "waiting_on": _nullable("string"), "waiting_task": _nullable("string"),
                "waiting_since": _nullable("string", format="date-time"),
                "next_timer_at": _nullable("string", format="date-time"),
            },
        },
        "InstanceList": {"type": "object", "required": ["items", "total", "page", "per_page"],
                         "properties": {"items": {"type": "array", "items": _ref("InstanceRow")},
                                        "total": {"type": "integer"}, "page": {"type": "integer"},
                                        "per_page": {"type": "integer"}}},
    }
    page = {"$ref": "#/components/parameters/page"}
    instance_id = {"name": "instance_id", "in": "path", "required": True,
                   "schema": {"type": "string", "pattern": "^[0-9]+$"}, "description": "流程实例编号"}
    paths = {
        "/api/definitions": {
            "post": {
                "tags": ["processes"], "operationId": "deployDefinitions", "summary": "部署流程",
                "description": ("上传一个或多个 BPMN、DMN 文件（multipart/form-data，每个文件一个名为 file 的部分），"
                                "校验通过后部署为新版本（仅流程设计员和系统管理员）。不能执行的元素、未知泳道、"
                                "表达式错误等被拒绝为 422，problems 逐条给出文件名和元素 ID。"),
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["file"],
                    "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}},
                "responses": {"201": _json(_ref("Deployed"), "已部署"), **_errors("400", "401", "403"),
                              "422": _json(_ref("DeployRefused"), "未部署：problems 列出每个问题（含元素 ID）")},
            },
            "get": {
                "tags": ["processes"], "operationId": "listDefinitions", "summary": "已部署的流程",
                "description": "每个流程的最新版本、全部版本号，以及当前用户能否启动它。",
                "responses": {"200": _json(_ref("Catalogue"), "流程目录"), **_errors("401")},
            },
        },
        "/api/instances": {
            "post": {
                "tags": ["processes"], "operationId": "startInstance", "summary": "启动流程",
                "description": ("以 data 为初始变量启动流程的最新版本。开始事件不在泳道中时任何已登录用户都可启动，"
                                "在泳道中时只有该泳道对应的角色可启动；问题线索流程须通过 POST /api/clues 登记。"
                                "不在泳道中的用户任务交给发起人；没有表单的任务提交空数据即可完成。"),
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("InstanceStart")}}},
                "responses": {"201": {**_json(_ref("InstanceDetail"), "已启动：状态、当前任务和历史"),
                                      "headers": {"Location": {"schema": text, "description": "新实例的 URL"}}},
                              **_errors("400", "401", "403", "404", "422")},
            },
            "get": {
                "tags": ["processes"], "operationId": "listInstances", "summary": "流程实例",
                "description": ("监督角色（营商办、综合办公室、纪检监察、系统管理员、专班）按其范围看到实例；"
                                "其他用户看到自己发起的实例。"),
                "parameters": [
                    _query("process_id", text, "流程 ID"), _query("version", {"type": "integer"}, "版本号"),
                    _query("status", {"enum": statuses}, "实例状态"),
                    _query("started_by_me", {"enum": ["true", "false", "1", "0"]}, "只看自己发起的"),
                    _query("stage", text, "线索办理阶段（监督角色）"),
                    _query("unit", text, "责任单位编码（监督角色）"),
                    _query("overdue", {"enum": ["true", "false", "1", "0"]}, "只看有逾期任务的（监督角色）"),
                    _query("waiting_on", text, "等待的对象，如 unit:zengdu（监督角色）"),
                    _query("waiting_before", {"type": "string", "format": "date"}, "在该日前就已在等待（监督角色）"),
                    _query("clue_id", {"type": "integer"}, "线索编号（监督角色）"),
                    page, {"$ref": "#/components/parameters/per_page"},
                ],
                "responses": {"200": _json(_ref("InstanceList"), "一页实例和匹配总数"), **_errors("401", "403", "422")},
            },
        },
        "/api/instances/{instance_id}": {"get": {
            "tags": ["processes"], "operationId": "getInstance", "summary": "流程实例详情",
            "description": "实例的状态、当前任务和历史。发起人和范围内的监督角色可看。", "parameters": [instance_id],
            "responses": {"200": _json(_ref("InstanceDetail"), "实例"), **_errors("401", "403", "404")},
        }},
    }
    return {"paths": paths, "schemas": schemas,
            "tags": [{"name": "processes", "description": "任意流程：部署、启动和跟踪（集成用）"}]}
