"""What supervisors see of process instances: the list across all clues and processes, one
instance with its diagram state and timeline, and whether its hash chain is intact.

Who may look (MONITORS): the supervisor (营商办 leaders), the office and the discipline
inspectors see every instance, and so does the administrator (for the errors inbox); a work
group head sees the instances of the clues its group leads. Units, spot-checkers and
designers do not: units follow their clues on the clue page.

The list reads only indexed columns of `process_instance`, `clue` and `human_task` (one page
of rows, counted in the database); only the page of one instance deserializes its workflow.
"""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, exists, func, select, true
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState

from . import access, vocabulary
from .clock import as_utc, local_day_start
from .clues import PRIVATE_FIELDS
from .context import Context
from .db.models import (Clue, DefinitionFile, HumanTask, InstanceEvent, InstanceStatus, OrgUnit,
                        ProcessDefinition, ProcessInstance, Role, User, WorkGroup)
from .errors import Forbidden, NotFound, ValidationFailed
from .history import events_of, verify_instance
from .instances import rebuild_workflow
from .tasks import task_summary

MONITORS = {Role.supervisor, Role.office, Role.discipline, Role.admin, Role.group}
STATUSES = tuple(s.value for s in InstanceStatus)
COUNT_CAP = 1_000  # list_instances counts matches up to this many
FEW_TASKS = 2_000  # task filters up to this many matching tasks become a list of instance ids
FILTERS = ("process_id", "version", "status", "stage", "overdue", "unit", "waiting_on", "waiting_before", "clue_id")
# Events whose data are process variables (what a person entered or a script computed).
VARIABLE_EVENTS = {"task_completed", "script_run", "decision_made", "service_called"}
# Data of supervisor actions and other recorded events, as shown on the page.
ACTION_FIELDS = {"reason": "理由", "status_before": "原状态", "open_tasks": "未办结任务", "error_before": "原错误",
                 "variables": "修正的流程变量", "message": "错误信息", "ended_by": "结束原因",
                 "sendback_count": "退回次数"}


def require_monitor(ctx: Context, username: str) -> User:
    """:raises Forbidden: the user's role does not look at instances."""
    user = access.get_user(ctx.session, username)
    if user.role not in MONITORS or (user.role == Role.group and not user.group_code):
        raise Forbidden(f"user {username!r} may not look at process instances")
    return user


def may_monitor(role: str | None) -> bool:
    """Whether a role may open the instance pages at all (for menus)."""
    return role in {r.value for r in MONITORS}


def _scope(user: User) -> ColumnElement[bool]:
    if user.role in access.SEES_EVERYTHING:
        return true()
    return Clue.work_group == user.group_code


def _truthy(value: Any) -> bool:
    return value not in (None, "", False, "0", "false", "no")


def _where(ctx: Context, user: User, filters: dict[str, Any]) -> tuple[list[ColumnElement[bool]], bool]:
    """SQL conditions for the filters, and whether they need the clue joined."""
    where: list[ColumnElement[bool]] = []
    needs_clue = user.role not in access.SEES_EVERYTHING
    if needs_clue:
        where.append(_scope(user))
    if filters.get("process_id"):
        where.append(ProcessInstance.process_id == str(filters["process_id"]))
    if filters.get("version"):
        try:
            version = int(filters["version"])
        except (TypeError, ValueError):
            raise ValidationFailed("bad version", {"version": "版本应为整数"}) from None
        versions = select(ProcessDefinition.id).where(ProcessDefinition.version == version)
        if filters.get("process_id"):
            versions = versions.where(ProcessDefinition.process_id == str(filters["process_id"]))
        where.append(ProcessInstance.definition_id.in_(versions))
    if filters.get("status"):
        if filters["status"] not in STATUSES:
            raise ValidationFailed("bad status", {"status": "状态应为 " + "、".join(STATUSES)})
        where.append(ProcessInstance.status == InstanceStatus(filters["status"]))
    if filters.get("stage"):
        where.append(Clue.stage == str(filters["stage"]))
        needs_clue = True
    if filters.get("unit"):
        where.append(Clue.responsible_unit == str(filters["unit"]))
        needs_clue = True
    if filters.get("clue_id"):
        where.append(ProcessInstance.business_key == str(filters["clue_id"]))
    waiting = []
    if _truthy(filters.get("overdue")):
        waiting.append(HumanTask.due_at < ctx.now)
    if filters.get("waiting_on"):
        waiting.append(HumanTask.audience == str(filters["waiting_on"]))
    if filters.get("waiting_before"):
        try:
            day = date.fromisoformat(str(filters["waiting_before"]))
        except ValueError:
            raise ValidationFailed("bad date", {"waiting_before": "日期格式应为 YYYY-MM-DD"}) from None
        waiting.append(HumanTask.created_at < as_utc(local_day_start(day)))
    if waiting:
        where.append(_having_task(ctx, waiting))
    return where, needs_clue


def _having_task(ctx: Context, conditions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """Instances with a READY task meeting `conditions`. A few such tasks (one indexed range):
    their instances by primary key; many: checked row by row while walking the instances
    newest first, which stops as soon as the page (or the capped count) is full."""
    tasks = select(HumanTask.instance_id).where(*conditions)
    many = ctx.session.scalar(select(func.count()).select_from(tasks.limit(FEW_TASKS + 1).subquery()))
    if many > FEW_TASKS:
        return exists().where(HumanTask.instance_id == ProcessInstance.id, *conditions)
    return ProcessInstance.id.in_(sorted(set(ctx.session.scalars(tasks))) or [-1])


def list_instances(ctx: Context, username: str, filters: dict[str, Any] | None = None, page: int = 1,
                   per_page: int = 50) -> dict[str, Any]:
    """One page of instances (newest first) with who they wait on since when; `total` counts the
    matches up to COUNT_CAP (`total_capped` says there are more).

    Filters: process_id, version, status, stage, overdue, unit (responsible unit), waiting_on
    (a task audience such as ``unit:zengdu``), waiting_before (a day: waiting since before it),
    clue_id. :raises Forbidden: not a monitoring role. :raises ValidationFailed: bad filter or paging.
    """
    if page < 1 or not 1 <= per_page <= 200:
        raise ValidationFailed("bad paging", {"page" if page < 1 else "per_page": "page ≥ 1，per_page 为 1–200"})
    user = require_monitor(ctx, username)
    filters = {k: v for k, v in (filters or {}).items() if k in FILTERS and v not in (None, "")}
    where, needs_clue = _where(ctx, user, filters)
    matching = select(ProcessInstance.id).where(*where)
    if needs_clue:
        matching = matching.join(Clue, Clue.instance_id == ProcessInstance.id)
    # Counting stops at COUNT_CAP: past that, "1000+" is as useful to a person and an exact
    # count of a broad filter would cost as much as reading every match.
    counted = ctx.session.scalar(select(func.count()).select_from(matching.limit(COUNT_CAP + 1).subquery())) or 0
    # The page's ids first (an index walk), then the columns of those rows only.
    # With the clue joined, its id gives the same order (a clue's instance starts with it) and
    # walks the clue index in order instead of sorting every match.
    newest_first = Clue.id.desc() if needs_clue else ProcessInstance.id.desc()
    ids = list(ctx.session.scalars(matching.order_by(newest_first).offset((page - 1) * per_page).limit(per_page)))
    # Columns only: the workflow blob never leaves the database for a list.
    query = (select(ProcessInstance.id, ProcessInstance.process_id, ProcessDefinition.version,
                    ProcessInstance.business_key, ProcessInstance.status, ProcessInstance.next_timer_at,
                    ProcessInstance.created_at, ProcessInstance.updated_at, ProcessInstance.error_message,
                    ProcessInstance.error_element, Clue.id.label("clue_id"), Clue.stage, Clue.responsible_unit,
                    Clue.enterprise_name)
             .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
             .join(Clue, Clue.instance_id == ProcessInstance.id, isouter=True)
             .where(ProcessInstance.id.in_(ids)))
    position = {instance_id: n for n, instance_id in enumerate(ids)}
    rows = sorted(ctx.session.execute(query).all() if ids else [], key=lambda r: position[r.id])
    waits = _waiting(ctx, [r.id for r in rows])
    names = _names(ctx) if rows else {}
    items = []
    for r in rows:
        wait = waits.get(r.id)
        items.append({
            "id": r.id, "process_id": r.process_id, "version": r.version, "business_key": r.business_key,
            "clue_id": r.clue_id, "enterprise_name": r.enterprise_name, "status": r.status.value, "stage": r.stage,
            "responsible_unit": r.responsible_unit,
            "responsible_unit_name": names.get(r.responsible_unit or "", r.responsible_unit),
            "waiting_on": wait.audience if wait else None, "waiting_task": wait.title if wait else None,
            "waiting_on_label": audience_label(wait.audience, names) if wait else None,
            "waiting_since": _iso(wait.created_at) if wait else None,
            "overdue": bool(wait and wait.overdue),
            "next_timer_at": _iso(r.next_timer_at), "created_at": _iso(r.created_at),
            "updated_at": _iso(r.updated_at), "error_message": r.error_message, "error_element": r.error_element,
        })
    return {"items": items, "total": min(counted, COUNT_CAP), "total_capped": counted > COUNT_CAP,
            "page": page, "per_page": per_page}


class _Wait:
    __slots__ = ("audience", "title", "created_at", "overdue")

    def __init__(self, audience: str, title: str, created_at: datetime, overdue: bool) -> None:
        self.audience, self.title, self.created_at, self.overdue = audience, title, created_at, overdue


def _waiting(ctx: Context, instance_ids: list[int]) -> dict[int, _Wait]:
    """For each instance, its longest-waiting READY task (one indexed query for the page)."""
    if not instance_ids:
        return {}
    waits: dict[int, _Wait] = {}
    rows = ctx.session.execute(
        select(HumanTask.instance_id, HumanTask.audience, HumanTask.title, HumanTask.created_at, HumanTask.due_at)
        .where(HumanTask.instance_id.in_(instance_ids)).order_by(HumanTask.created_at, HumanTask.id))
    for instance_id, audience, title, created_at, due_at in rows:
        overdue = due_at is not None and as_utc(due_at) < ctx.now
        if instance_id not in waits:
            waits[instance_id] = _Wait(audience, title, created_at, overdue)
        elif overdue:
            waits[instance_id].overdue = True
    return waits


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- one instance ----------------------------------------------------------------------------

def get_visible_instance(ctx: Context, user: User, instance_id: int) -> tuple[ProcessInstance, Clue | None]:
    """:raises NotFound: no such instance. :raises Forbidden: outside the user's scope."""
    instance = ctx.session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(f"instance {instance_id} does not exist")
    clue = ctx.session.scalar(select(Clue).where(Clue.instance_id == instance.id))
    if user.role not in access.SEES_EVERYTHING and (clue is None or not access.can_see_clue(user, clue)):
        raise Forbidden(f"user {user.username!r} may not see instance {instance_id}")
    return instance, clue


def instance_detail(ctx: Context, username: str, instance_id: int) -> dict[str, Any]:
    """An instance with its diagram state (visits, path, current tasks, waiting timers), its
    timeline and the state of its hash chain.

    :raises NotFound: no such instance. :raises Forbidden: not a monitor, or outside their scope.
    """
    user = require_monitor(ctx, username)
    instance, clue = get_visible_instance(ctx, user, instance_id)
    return _detail(ctx, user, instance, clue)


def clue_instance_detail(ctx: Context, username: str, clue_id: int) -> dict[str, Any]:
    """instance_detail() of a clue's instance. :raises NotFound: no such clue or no instance."""
    user = require_monitor(ctx, username)
    clue = ctx.session.get(Clue, clue_id)
    if clue is None or clue.instance_id is None:
        raise NotFound(f"clue {clue_id} has no process instance")
    instance, clue = get_visible_instance(ctx, user, clue.instance_id)
    return _detail(ctx, user, instance, clue)


def _detail(ctx: Context, user: User, instance: ProcessInstance, clue: Clue | None) -> dict[str, Any]:
    from .supervisor_actions import allowed_actions  # one rule for the buttons and the checks

    definition = instance.definition
    events = events_of(ctx.session, instance.id)
    broken = verify_instance(instance, events)
    diagram = diagram_state(ctx, instance)
    tasks = list(ctx.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)
                                     .order_by(HumanTask.created_at, HumanTask.id)))
    actions = allowed_actions(user.role, instance.status)
    names = _names(ctx)
    reopen_at = []
    for event in events:
        if event.kind == "task_completed" and event.element_id and event.element_id not in [e for e, _ in reopen_at]:
            reopen_at.append((event.element_id, event.element_name or event.element_id))
    return {
        "id": instance.id, "process_id": instance.process_id, "version": definition.version,
        "definition": {"id": definition.id, "process_id": definition.process_id, "version": definition.version,
                       "name": definition.name},
        "business_key": instance.business_key, "status": instance.status.value,
        "error": ({"message": instance.error_message, "element_id": instance.error_element}
                  if instance.status == InstanceStatus.error else None),
        "started_by": instance.started_by, "created_at": _iso(instance.created_at),
        "updated_at": _iso(instance.updated_at), "completed_at": _iso(instance.completed_at),
        "next_timer_at": _iso(instance.next_timer_at),
        "clue": ({"id": clue.id, "enterprise_name": clue.enterprise_name, "debtor": clue.debtor, "stage": clue.stage,
                  "responsible_unit": clue.responsible_unit, "work_group": clue.work_group,
                  "sendback_count": clue.sendback_count} if clue is not None else None),
        "clue_id": clue.id if clue is not None else None,
        "tasks": [{**task_summary(t, ctx.now), "waiting_on": t.audience,
                   "waiting_on_label": audience_label(t.audience, names), "may_open": access.can_view(user, t)}
                  for t in tasks],
        **diagram,
        "timeline": vocabulary.name_actors(ctx.session, _timeline(events, include_private=access.sees_complainant(user))),
        "chain": chain_status(instance, events, broken),
        "actions": actions,
        # What the action forms offer: units to reassign to, tasks the clue can be reopened at.
        "units": sorted(_unit_names(ctx).items()) if actions["reassign"] else [],
        "reopen_at": [{"element_id": e, "element_name": n} for e, n in reopen_at] if actions["reopen"] else [],
        "field_labels": field_labels(ctx),
        "names": {c: n for c, n in names.items() if c in _mentioned(instance, clue, tasks)},
    }


def _names(ctx: Context) -> dict[str, str]:
    """Unit and group codes to names (a few dozen rows)."""
    names = {g.code: g.name for g in ctx.session.scalars(select(WorkGroup))}
    names.setdefault("office", "综合办公室")
    names.update(_unit_names(ctx))
    return names


def _unit_names(ctx: Context) -> dict[str, str]:
    units = ctx.cache.get("unit_names")
    if units is None:
        units = ctx.cache["unit_names"] = {u.code: u.name for u in ctx.session.scalars(select(OrgUnit))}
    return units


def _mentioned(instance: ProcessInstance, clue: Clue | None, tasks: list[HumanTask]) -> set[str]:
    codes = {t.candidate_unit for t in tasks} | {t.candidate_group for t in tasks}
    if clue is not None:
        codes |= {clue.responsible_unit, clue.work_group}
    return {c for c in codes if c}


def audience_label(audience: str | None, names: dict[str, str]) -> str | None:
    """A task audience (access.task_audience) as people read it: 曾都区, 机关事业单位拖欠账款清理组 …"""
    if not audience:
        return None
    kind, _, code = audience.partition(":")
    if kind in ("unit", "group", "spotcheck"):
        return names.get(code, code)
    if kind == "role":
        return {"office": "综合办公室", "discipline": "纪检监察"}.get(code, code)
    return code or kind


def field_labels(ctx: Context) -> dict[str, str]:
    """Field name -> its title in the forms (for showing recorded form data)."""
    labels: dict[str, str] = dict(ACTION_FIELDS)
    for key in sorted(ctx.runtime.forms.keys()):
        for name, spec in ctx.runtime.forms.get(key).schema.get("properties", {}).items():
            if isinstance(spec, dict) and spec.get("title"):
                labels.setdefault(name, spec["title"])
    return labels


def diagram_state(ctx: Context, instance: ProcessInstance) -> dict[str, Any]:
    """Visits per element, the completed path in order, what is active now and waiting timers."""
    workflow = rebuild_workflow(ctx, instance)
    visits: Counter[str] = Counter()
    done, current = [], []
    for task in workflow.get_tasks():
        element = task.task_spec.bpmn_id
        if not element:
            continue  # SpiffWorkflow's own bookkeeping specs (root, joins of boundary events)
        if task.state == TaskState.COMPLETED:
            done.append(task)
            visits[element] += 1
        elif task.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED, TaskState.ERROR):
            current.append(element)
            visits[element] += 1
        elif task.state == TaskState.CANCELLED and task.task_spec.manual:
            visits[element] += 1  # a chase that the awaited report ended: it was there
    done.sort(key=lambda t: t.last_state_change)
    timers = []
    for task in workflow.event_manager.tasks.values():
        definition = getattr(task.task_spec, "event_definition", None)
        if not isinstance(definition, TimerEventDefinition):
            continue
        value = definition.details(task).value
        due = TimerEventDefinition.get_datetime(value) if value else None
        timers.append({"element_id": task.task_spec.bpmn_id, "element_name": task.task_spec.bpmn_name,
                       "due_at": as_utc(due).isoformat() if due is not None else None})
    timers.sort(key=lambda t: t["due_at"] or "")
    return {"visits": dict(visits), "path": [t.task_spec.bpmn_id for t in done], "current": sorted(set(current)),
            "timers": timers}


_UNCHECKED: Any = object()


def chain_status(instance: ProcessInstance, events: list[InstanceEvent], broken: Any = _UNCHECKED) -> dict[str, Any]:
    """"record intact", or the first broken event (engine.history.verify_instance, unless the
    caller already ran it and passes its answer as `broken`)."""
    if broken is _UNCHECKED:
        broken = verify_instance(instance, events)
    detail = None
    if broken is not None:
        detail = broken.to_dict()
        event = next((e for e in events if e.id == broken.event_id), None)
        if event is not None:
            detail.update(kind=event.kind, at=_iso(event.at), actor=event.actor)
    return {"intact": broken is None, "break": detail, "head": instance.history_head,
            "count": instance.history_count, "hash_alg": events[-1].hash_alg if events else None}


def timeline(ctx: Context, instance_id: int, include_private: bool = True) -> list[dict[str, Any]]:
    """Every recorded event of an instance, oldest first: who did what, when, in which role, with
    its data, `changed` — the variables this step set to a value different from before — and the
    actor's display name (`actor_name`)."""
    return vocabulary.name_actors(ctx.session, _timeline(events_of(ctx.session, instance_id), include_private))


def _timeline(events: list[InstanceEvent], include_private: bool = True) -> list[dict[str, Any]]:
    known: dict[str, Any] = {}
    entries = []
    for event in events:
        data = event.data
        changed: dict[str, list[Any]] = {}
        if event.kind == "instance_started" and isinstance(data, dict):
            variables = data.get("variables")
            if isinstance(variables, dict):
                if not include_private:
                    data = {**data, "variables": {k: v for k, v in variables.items() if k not in PRIVATE_FIELDS}}
                known.update(variables)
        elif event.kind in VARIABLE_EVENTS and isinstance(data, dict):
            for key, value in data.items():
                if key in known and known[key] != value:
                    changed[key] = [known[key], value]
                known[key] = value
        elif isinstance(data, dict) and isinstance(data.get("changed"), dict):
            # Supervisor actions record their own before/after (a reassigned unit).
            for key, pair in data["changed"].items():
                if isinstance(pair, list) and len(pair) == 2:
                    changed[key] = pair
                    known[key] = pair[1]
        entries.append({
            "seq": event.seq, "at": _iso(event.at), "actor": event.actor, "actor_role": event.actor_role,
            "kind": event.kind, "task_id": event.task_id, "element_id": event.element_id,
            "element_name": event.element_name, "data": data, "changed": changed,
        })
    return entries


def diagram_xml(ctx: Context, username: str, instance_id: int) -> str:
    """The BPMN XML of the version the instance runs on.

    :raises NotFound: no such instance. :raises Forbidden: not a monitor, or outside their scope.
    """
    user = require_monitor(ctx, username)
    instance, _ = get_visible_instance(ctx, user, instance_id)
    files = list(ctx.session.scalars(select(DefinitionFile).where(
        DefinitionFile.definition_id == instance.definition_id, DefinitionFile.kind == "bpmn")
        .order_by(DefinitionFile.id)))
    if not files:
        raise NotFound(f"instance {instance_id} has no diagram")
    marker = f'id="{instance.process_id}"'
    return next((f.content for f in files if marker in f.content), files[0].content)


def task_of(workflow: Any, task_id: str | None) -> Any:
    """A workflow task by its id string, or None."""
    if not task_id:
        return None
    try:
        return workflow.get_task_from_id(UUID(task_id))
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises TaskNotFoundException or KeyError
        return None
