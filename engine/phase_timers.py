"""Moving a running instance's campaign variables, and the timers already armed from them.

SpiffWorkflow evaluates a timer's expression once, when the timer starts waiting, and keeps the
result in `task.internal_data['event_value']` (SPIFF_NOTES pitfall 3). Changing a phase date
therefore takes two edits: the process variable in every task's data (so that timers armed
later, due dates and scripts see the new value) and, for each waiting timer whose expression
reads a changed variable, its frozen value, re-evaluated from the same expression. Both are
recorded in the instance's history; then the instance runs one step under its row lock, so a
timer moved into the past fires at once and the READY tasks, the clue, its light and
`next_timer_at` are projected again.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimeDateEventDefinition
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from . import projections
from .context import Context
from .db.models import Clue, InstanceStatus, ProcessInstance
from .errors import ValidationFailed
from .history import append_event
from .instances import load_instance, run_step, save
from .serializer import dump_workflow

FINISHED = (InstanceStatus.completed, InstanceStatus.terminated)
RUNNABLE = (InstanceStatus.running, InstanceStatus.waiting)


def instances_of_campaign(ctx: Context, campaign_id: int, after: int = 0, limit: int | None = None,
                          clues_only: bool = False) -> list[int]:
    """Unfinished instances that may carry this campaign's variables: its clues' instances and
    (unless `clues_only`) every instance without a clue (unit reporting); the latter are checked
    on load. In id order; only ids above `after`, at most `limit` of them (batches of a calendar
    change)."""
    live = [ProcessInstance.status.not_in(FINISHED), ProcessInstance.id > after]
    of_clues = select(ProcessInstance.id).join(Clue, Clue.instance_id == ProcessInstance.id).where(
        Clue.campaign_id == campaign_id, *live).order_by(ProcessInstance.id)
    without_clue = select(ProcessInstance.id).outerjoin(Clue, Clue.instance_id == ProcessInstance.id).where(
        Clue.id.is_(None), *live).order_by(ProcessInstance.id)
    if limit is not None:
        of_clues, without_clue = of_clues.limit(limit), without_clue.limit(limit)
    ids = sorted(set(ctx.session.scalars(of_clues)) | (set() if clues_only else set(ctx.session.scalars(without_clue))))
    return ids if limit is None else ids[:limit]


def count_instances_of_campaign(ctx: Context, campaign_id: int) -> int:
    """How many instances `instances_of_campaign` would list (without reading their ids)."""
    live = ProcessInstance.status.not_in(FINISHED)
    of_clues = select(func.count()).select_from(ProcessInstance).join(
        Clue, Clue.instance_id == ProcessInstance.id).where(Clue.campaign_id == campaign_id, live)
    without_clue = select(func.count()).select_from(ProcessInstance).outerjoin(
        Clue, Clue.instance_id == ProcessInstance.id).where(Clue.id.is_(None), live)
    return (ctx.session.scalar(of_clues) or 0) + (ctx.session.scalar(without_clue) or 0)


def move_variables(ctx: Context, instance_id: int, values: dict[str, Any], actor: str, actor_role: str | None,
                   kind: str, data: dict[str, Any], campaign_id: int | None = None,
                   always_record: bool = False) -> dict[str, Any] | None:
    """Give one instance new values for existing process variables and re-arm its waiting
    timers that read them; records `kind` (with `data` and the variables' old and new values)
    and one `timer_rescheduled` per moved timer. Returns what changed, or None if nothing did
    (or the instance is finished, or belongs to another campaign than `campaign_id`).

    :raises ValidationFailed: a timer expression no longer evaluates with the new values.
    """
    instance, workflow = load_instance(ctx, instance_id)
    if instance.status in FINISHED:
        return None
    if campaign_id is not None and workflow.task_tree.data.get("campaign_id") != campaign_id:
        return None
    changed = _set_variables(workflow, values)
    if not changed and not always_record:
        return None
    moved = _rearm_timers(instance, workflow, set(changed))
    append_event(ctx.session, instance, ctx.now, actor, kind, ctx.hash_alg, actor_role=actor_role,
                 data={**data, "variables": {k: {"from": old, "to": new} for k, (old, new) in changed.items()}})
    for timer in moved:
        append_event(ctx.session, instance, ctx.now, actor, "timer_rescheduled", ctx.hash_alg, actor_role=actor_role,
                     task_id=timer["task_id"], element_id=timer["element_id"], element_name=timer["element_name"],
                     data={"from": timer["from"], "to": timer["to"], "because": kind})
    if instance.status in RUNNABLE:
        run_step(ctx, instance, workflow, lambda: None)
    else:
        # Suspended or in error: keep the change, run nothing until someone resumes the instance.
        instance.next_timer_at = projections.next_timer_due(workflow)
        save(ctx, instance, dump_workflow(workflow))
    return {"instance_id": instance.id, "variables": {k: list(v) for k, v in changed.items()}, "timers": moved}


def _workflows(workflow: BpmnWorkflow) -> Iterator[Any]:
    yield workflow
    yield from workflow.subprocesses.values()


def _set_variables(workflow: BpmnWorkflow, values: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    # Every task holding the variable gets the new value, finished ones included: a task
    # inherits its parent's data when it becomes ready, and the parent's copy wins.
    changed: dict[str, tuple[Any, Any]] = {}
    for flow in _workflows(workflow):
        holders = [task.data for task in flow.tasks.values()]
        if getattr(flow, "data", None):
            holders.append(flow.data)
        for holder in holders:
            for name, value in values.items():
                if name in holder and holder[name] != value:
                    changed.setdefault(name, (holder[name], value))
                    holder[name] = value
    return changed


@lru_cache(maxsize=256)
def _names(expression: str) -> frozenset[str]:
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        return frozenset()
    return frozenset(node.id for node in ast.walk(tree) if isinstance(node, ast.Name))


def _rearm_timers(instance: ProcessInstance, workflow: BpmnWorkflow, changed: set[str]) -> list[dict[str, Any]]:
    moved = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        # Date timers only: a duration counts from when it was armed, a cycle keeps its own state.
        if not isinstance(definition, TimeDateEventDefinition) or task.internal_data.get("event_fired"):
            continue
        old = task.internal_data.get("event_value")
        if old is None or not _names(definition.expression) & changed:
            continue
        new = _evaluate(instance, workflow, task, definition.expression)
        if new != old:
            task.internal_data["event_value"] = new
            moved.append({"task_id": str(task.id), "element_id": task.task_spec.bpmn_id,
                          "element_name": task.task_spec.bpmn_name, "from": old, "to": new})
    return moved


def _evaluate(instance: ProcessInstance, workflow: BpmnWorkflow, task: Task, expression: str) -> str:
    try:
        value = workflow.script_engine.evaluate(task, expression)
        TimeDateEventDefinition.parse_time_or_duration(value)  # what SpiffWorkflow will do with it
    except Exception as exc:  # noqa: BLE001 - any failure refuses the whole change
        raise ValidationFailed(
            f"instance {instance.id}: timer {task.task_spec.bpmn_id} cannot be re-armed from {expression!r}: {exc}",
            {"calendar": f"流程实例 {instance.id} 的定时器无法按新日期重新设定"}) from exc
    return value
