"""Any deployed process, not only clues: deploy, list, start, and follow instances (the generic API).

Who may do what:
- **Deploy** a BPMN/DMN upload: designers and administrators.
- **See the catalogue** of deployed processes: anyone signed in.
- **Start** a process: anyone signed in when its start event is in no lane; when it is in a
  lane, the roles that lane names (office → office, work_group → group, responsible_unit →
  unit, spot_check → spotcheck, discipline → discipline). Processes the system starts itself
  (clues, unit reporting) are refused here: a clue is registered through POST /api/clues.
- **Follow** instances: those who monitor instances (engine.instance_view.MONITORS) see them
  through instance_view, in their scope; everyone else sees the instances they started.

A user task in no lane is offered to the person who started the instance (access.task_audience);
a task with no form completes with no data.
"""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from . import access, instance_view
from .clues import CLUE_PROCESS
from .context import Context
from .db.models import HumanTask, InstanceStatus, ProcessDefinition, ProcessInstance, Role, User
from .definitions import deploy, latest_definition
from .errors import Forbidden, NotFound, ValidationFailed
from .form_options import check_assignment
from .history import events_of
from .instances import start_instance
from .reporting import REPORTING_PROCESS
from .tasks import task_summary

DEPLOYERS = (Role.designer, Role.admin)
SYSTEM_PROCESSES = {CLUE_PROCESS: "a clue's process starts when the clue is registered (POST /api/clues)",
                    REPORTING_PROCESS: "unit reporting is started for every unit by the campaign"}
LANE_ROLES = {"office": Role.office, "work_group": Role.group, "responsible_unit": Role.unit,
              "spot_check": Role.spotcheck, "discipline": Role.discipline}
STATUSES = tuple(s.value for s in InstanceStatus)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
MAX_VARIABLES = 200


def deploy_files(ctx: Context, username: str, files: list[tuple[str, bytes | str]]) -> dict[str, Any]:
    """Validate and deploy an upload of BPMN and DMN files.

    :raises Forbidden: not a designer or administrator. :raises DefinitionRejected: the problems, each with its element id.
    """
    user = access.get_user(ctx.session, username)
    access.require_role(user, *DEPLOYERS)
    if not files:
        raise ValidationFailed("no files", {"file": "至少上传一个 BPMN 文件"})
    deployed = deploy(ctx.session, files, user.username, ctx.now, ctx.runtime.compile_script,
                      ctx.runtime.forms.keys(), ctx.hash_alg)
    return {"definitions": [_definition_summary(d) for d in deployed]}


def _definition_summary(definition: ProcessDefinition) -> dict[str, Any]:
    return {"id": definition.id, "process_id": definition.process_id, "name": definition.name,
            "version": definition.version, "deployed_by": definition.deployed_by,
            "deployed_at": definition.deployed_at.isoformat(),
            "files": [{"filename": f.filename, "kind": f.kind} for f in definition.files]}


def catalogue(ctx: Context, username: str) -> dict[str, Any]:
    """Every deployed process: its newest version, all version numbers, and whether this user may start it."""
    user = access.get_user(ctx.session, username)
    by_process: dict[str, list[ProcessDefinition]] = {}
    for definition in ctx.session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.process_id,
                                                                             ProcessDefinition.version)):
        by_process.setdefault(definition.process_id, []).append(definition)
    items = []
    for process_id, versions in by_process.items():
        newest = versions[-1]
        items.append({**_definition_summary(newest), "versions": [v.version for v in versions],
                      "may_start": _start_refusal(ctx, user, newest) is None})
    return {"items": items, "total": len(items)}


def _start_lanes(ctx: Context, definition: ProcessDefinition) -> list[str | None]:
    spec, _ = ctx.runtime.specs.get(definition)
    return [ts.lane for ts in spec.task_specs.values() if type(ts).__name__ == "StartEvent"]


def _start_refusal(ctx: Context, user: User, definition: ProcessDefinition) -> str | None:
    if definition.process_id in SYSTEM_PROCESSES:
        return SYSTEM_PROCESSES[definition.process_id]
    lanes = {lane for lane in _start_lanes(ctx, definition) if lane}
    if lanes and user.role not in {LANE_ROLES[lane] for lane in lanes if lane in LANE_ROLES}:
        return f"the process starts in the lane {', '.join(sorted(lanes))}; {user.username!r} is {user.role.value}"
    return None


def _check_data(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationFailed("data must be an object", {"data": "应为 JSON 对象"})
    if len(data) > MAX_VARIABLES:
        raise ValidationFailed("too many variables", {"data": f"变量不能超过 {MAX_VARIABLES} 个"})
    bad = {f"data.{k}": "变量名应以字母开头，只含字母、数字和下划线（不超过 64 个字符）"
           for k in data if not isinstance(k, str) or not _NAME.match(k)}
    if bad:
        raise ValidationFailed("bad variable names", bad)
    return data


def start(ctx: Context, username: str, process_id: str, data: Any) -> dict[str, Any]:
    """Start the newest version of a process with `data` as its first variables.

    :raises NotFound: not deployed. :raises Forbidden: the start is in a lane not the user's, or a
    process the system starts itself. :raises ValidationFailed: `data` is not an object of variables.
    """
    user = access.get_user(ctx.session, username)
    if not isinstance(process_id, str) or not process_id:
        raise ValidationFailed("process_id missing", {"process_id": "必填"})
    definition = latest_definition(ctx.session, process_id)
    assert definition is not None
    refusal = _start_refusal(ctx, user, definition)
    if refusal is not None:
        raise Forbidden(f"{user.username!r} may not start {process_id!r}: {refusal}")
    variables = _check_data(data)
    check_assignment(ctx, variables)  # a task for a unit that does not exist would reach no one
    instance = start_instance(ctx, process_id, variables, user.username, user.role.value)
    return _own_detail(ctx, instance)


# --- following instances ---------------------------------------------------------------------

def list_instances(ctx: Context, username: str, filters: dict[str, Any] | None = None, page: int = 1,
                   per_page: int = 50) -> dict[str, Any]:
    """Monitors: instance_view's list in their scope. Others: the instances they started.

    Filters: process_id, version, status, started_by_me (only one's own, for monitors too), and for
    monitors the rest of instance_view.FILTERS.
    """
    user = access.get_user(ctx.session, username)
    if page < 1 or not 1 <= per_page <= 200:
        raise ValidationFailed("bad paging", {"page" if page < 1 else "per_page": "page ≥ 1，per_page 为 1–200"})
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    mine = filters.pop("started_by_me", None) not in (None, False, "0", "false", "no")
    if not mine and instance_view.may_monitor(user.role.value) and not (user.role == Role.group and not user.group_code):
        listed = instance_view.list_instances(ctx, username, filters, page, per_page)
        return {"items": [_list_item(i) for i in listed["items"]], "total": listed["total"]}
    where = [ProcessInstance.started_by == user.username]
    if filters.get("process_id"):
        where.append(ProcessInstance.process_id == str(filters["process_id"]))
    if filters.get("status"):
        if filters["status"] not in STATUSES:
            raise ValidationFailed("bad status", {"status": "状态应为 " + "、".join(STATUSES)})
        where.append(ProcessInstance.status == InstanceStatus(filters["status"]))
    if filters.get("version"):
        try:
            version = int(filters["version"])
        except (TypeError, ValueError):
            raise ValidationFailed("bad version", {"version": "版本应为整数"}) from None
        where.append(ProcessInstance.definition_id.in_(
            select(ProcessDefinition.id).where(ProcessDefinition.version == version)))
    total = ctx.session.scalar(select(func.count()).select_from(ProcessInstance).where(*where)) or 0
    rows = ctx.session.execute(
        select(ProcessInstance.id, ProcessInstance.process_id, ProcessDefinition.version, ProcessInstance.business_key,
               ProcessInstance.status, ProcessInstance.created_at, ProcessInstance.updated_at)
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .where(*where).order_by(ProcessInstance.id.desc()).offset((page - 1) * per_page).limit(per_page))
    return {"items": [{"id": r.id, "process_id": r.process_id, "version": r.version, "business_key": r.business_key,
                       "status": r.status.value, "created_at": r.created_at.isoformat(),
                       "updated_at": r.updated_at.isoformat()} for r in rows], "total": total}


def _list_item(item: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "process_id", "version", "business_key", "status", "created_at", "updated_at", "clue_id",
            "stage", "waiting_on", "waiting_task", "waiting_since", "next_timer_at")
    return {k: item.get(k) for k in keys}


def instance_detail(ctx: Context, username: str, instance_id: int) -> dict[str, Any]:
    """An instance's status, current tasks and history.

    :raises NotFound: no such instance. :raises Forbidden: neither its starter nor a monitor in scope.
    """
    user = access.get_user(ctx.session, username)
    instance = ctx.session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(f"instance {instance_id} does not exist")
    if instance.started_by == user.username:
        return _own_detail(ctx, instance)
    if not instance_view.may_monitor(user.role.value):
        raise Forbidden(f"user {user.username!r} may not see instance {instance_id}")
    seen = instance_view.instance_detail(ctx, username, instance_id)
    return {"id": seen["id"], "process_id": seen["process_id"], "version": seen["version"],
            "business_key": seen["business_key"], "status": seen["status"], "error": seen["error"],
            "started_by": seen["started_by"], "created_at": seen["created_at"], "updated_at": seen["updated_at"],
            "completed_at": seen["completed_at"], "next_timer_at": seen["next_timer_at"], "clue_id": seen["clue_id"],
            "tasks": [_task(t) for t in seen["tasks"]],
            "history": [{k: e[k] for k in ("seq", "at", "actor", "actor_role", "kind", "task_id", "element_id",
                                            "element_name", "data")} for e in seen["timeline"]]}


def _task(summary: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "instance_id", "clue_id", "name", "title", "lane", "form", "stage", "candidate_unit",
            "candidate_group", "due_at", "claimed_by", "created_at")
    return {k: summary.get(k) for k in keys}


def _own_detail(ctx: Context, instance: ProcessInstance) -> dict[str, Any]:
    ctx.session.flush()
    tasks = ctx.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)
                                .order_by(HumanTask.created_at, HumanTask.id))
    iso = (lambda v: v.isoformat() if v is not None else None)
    return {
        "id": instance.id, "process_id": instance.process_id, "version": instance.definition.version,
        "business_key": instance.business_key, "status": instance.status.value,
        "error": ({"message": instance.error_message, "element_id": instance.error_element}
                  if instance.status == InstanceStatus.error else None),
        "started_by": instance.started_by, "created_at": iso(instance.created_at),
        "updated_at": iso(instance.updated_at), "completed_at": iso(instance.completed_at),
        "next_timer_at": iso(instance.next_timer_at), "clue_id": None if instance.process_id != CLUE_PROCESS
        else (int(instance.business_key) if (instance.business_key or "").isdigit() else None),
        "tasks": [_task(task_summary(t)) for t in tasks],
        "history": [{"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "actor_role": e.actor_role,
                     "kind": e.kind, "task_id": e.task_id, "element_id": e.element_id,
                     "element_name": e.element_name, "data": e.data} for e in events_of(ctx.session, instance.id)],
    }
