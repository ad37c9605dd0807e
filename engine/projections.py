"""Columns derived from the workflow after every step: READY tasks, status, next timer, clue."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.task import Task

from . import clue_projection, lights
from .access import task_audience
from .clock import as_utc, local_day_start
from .context import Context
from .db.models import Clue, HumanTask, InstanceStatus, ProcessInstance
from .taskinfo import properties, ready_user_tasks

if TYPE_CHECKING:
    from .instances import Step

NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=timezone.utc)
# Built once, so SQLAlchemy keeps its cache key instead of working it out on every step.
_ROWS_OF_INSTANCE = select(HumanTask).where(HumanTask.instance_id == bindparam("instance_id"))
TIMER_EVENTS = {"TimeDateEventDefinition", "DurationTimerEventDefinition", "CycleTimerEventDefinition"}


def hold_clues(ctx: Context, instances: list[ProcessInstance]) -> list[Clue]:
    """Load the clue rows of many instances with one query, for a group of steps: each step's
    `clue_of` is then answered from the session. Keep the returned list while the steps run
    (the session holds unchanged rows only weakly)."""
    ids = [int(i.business_key) for i in instances if (i.business_key or "").isdigit()]
    return list(ctx.session.scalars(select(Clue).where(Clue.id.in_(ids)))) if ids else []


def sync(ctx: Context, instance: ProcessInstance, workflow: BpmnWorkflow, step: Step) -> None:
    ready = ready_user_tasks(workflow)
    clue = clue_projection.clue_of(ctx.session, instance)
    campaign_id = clue.campaign_id if clue is not None else workflow.task_tree.data.get("campaign_id")
    _sync_human_tasks(ctx, instance, ready, clue.id if clue is not None else None,
                      lights.working_days_of(ctx.session, campaign_id))
    instance.next_timer_at = next_timer_due(workflow)
    if step.error is not None:
        instance.status = InstanceStatus.error
        instance.error_element, instance.error_message = step.error
    elif workflow.is_completed():
        instance.status = InstanceStatus.completed
        instance.completed_at = ctx.now
    elif instance.status not in (InstanceStatus.suspended, InstanceStatus.terminated):
        instance.status = InstanceStatus.running if ready else InstanceStatus.waiting
    if clue is not None:
        clue_projection.project(ctx, clue, workflow, step, ready)


def _sync_human_tasks(ctx: Context, instance: ProcessInstance, ready: list[Task], clue_id: int | None,
                      yellow_working_days: int) -> None:
    # Only the projection sets `waiting`, and only when no task is ready and so no row is left:
    # a waiting instance (most of those a timer sweep advances) has nothing to look up.
    existing = {} if instance.status == InstanceStatus.waiting else {
        row.id: row for row in ctx.session.scalars(_ROWS_OF_INSTANCE, {"instance_id": instance.id})}
    wanted = {str(task.id): task for task in ready}
    for task_id, row in existing.items():
        if task_id not in wanted:
            ctx.session.delete(row)
    for task_id, task in wanted.items():
        props = properties(task)
        due = due_moment(_variable(task, props.get("dueDate")))
        row = existing.get(task_id)
        due_changed = row is not None and row.due_at != due
        if row is None:
            unit, group = _variable(task, props.get("candidateUnit")), _variable(task, props.get("candidateGroup"))
            row = HumanTask(
                id=task_id, instance_id=instance.id, clue_id=clue_id, spec_name=task.task_spec.name,
                title=task.task_spec.bpmn_name or task.task_spec.name, lane=task.task_spec.lane,
                form_key=props.get("formKey"), stage=props.get("stage"), candidate_unit=unit, candidate_group=group,
                started_by=instance.started_by, due_at=due, sort_due=due or NO_DUE_DATE,
                audience=task_audience(task.task_spec.lane, unit, group, instance.started_by), created_at=ctx.now,
            )
            ctx.session.add(row)
        elif due_changed:
            # The variable behind the due date moved (a campaign calendar change).
            row.due_at, row.sort_due = due, due or NO_DUE_DATE
        lights.store_task_light(row, ctx.now, yellow_working_days, due_changed)


def _variable(task: Task, name: str | None) -> Any:
    if not name:
        return None
    value = task.data.get(name)
    return str(value) if value is not None else None


def due_moment(value: Any) -> datetime | None:
    """A due date means the end of that day in Asia/Shanghai; a datetime is taken as is."""
    if value in (None, ""):
        return None
    text = str(value)
    if len(text) == 10:
        return as_utc(local_day_start(date.fromisoformat(text) + timedelta(days=1)))
    return as_utc(datetime.fromisoformat(text))


def next_timer_due(workflow: BpmnWorkflow) -> datetime | None:
    dues = [TimerEventDefinition.get_datetime(event.value) for event in workflow.waiting_events()
            if event.event_type in TIMER_EVENTS and event.value]
    return min((as_utc(d) for d in dues), default=None)
