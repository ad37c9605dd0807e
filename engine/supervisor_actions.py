"""Supervisor actions on a process instance: suspend, resume, terminate, reassign the
responsible unit, reopen a closed clue and retry an instance in error.

Every action needs a reason and the right role, and lands in the instance's hash-chained
history (kind ``instance_<action>``, data ``{"reason": ..., "status_before": ...}``) in the
same transaction as the change itself.

Who may do what (ACTION_ROLES): the supervisor and the office may suspend, resume, reassign,
reopen and retry; only the supervisor terminates; the administrator may also retry (an
error is usually a technical fault). Discipline inspectors and group heads look, they do not
act here.

A suspended instance fires no timers (timers.claim_due_instances and the ladder only sweep
running and waiting instances) and refuses task completion (tasks.complete_task); resuming
advances it at once, so a timer that fell due meanwhile fires then.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from SpiffWorkflow.util.task import TaskState

from . import access
from .context import Context
from .db.models import Clue, HumanTask, InstanceStatus, OrgUnit, ProcessInstance, Role, User
from .errors import Conflict, Forbidden, NotFound, ValidationFailed
from .history import append_event, events_of
from .instances import rebuild_workflow, run_step, save
from .serializer import dump_workflow

S = InstanceStatus
ACTION_ROLES: dict[str, frozenset[Role]] = {
    "suspend": frozenset({Role.supervisor, Role.office}),
    "resume": frozenset({Role.supervisor, Role.office}),
    "reassign": frozenset({Role.supervisor, Role.office}),
    "reopen": frozenset({Role.supervisor, Role.office}),
    "retry": frozenset({Role.supervisor, Role.office, Role.admin}),
    "terminate": frozenset({Role.supervisor}),
}
# The statuses each action applies to.
ACTION_FROM: dict[str, frozenset[InstanceStatus]] = {
    "suspend": frozenset({S.running, S.waiting}),
    "resume": frozenset({S.suspended}),
    "reassign": frozenset({S.running, S.waiting, S.suspended}),
    "reopen": frozenset({S.completed}),
    "retry": frozenset({S.error}),
    "terminate": frozenset({S.running, S.waiting, S.suspended, S.error}),
}
EVENT_KIND = {"suspend": "instance_suspended", "resume": "instance_resumed", "reassign": "unit_reassigned",
              "reopen": "instance_reopened", "retry": "instance_retried", "terminate": "instance_terminated"}
MAX_REASON = 2000


def allowed_actions(role: Role | str, status: InstanceStatus | str) -> dict[str, bool]:
    """Which actions a role may take on an instance in this status (for the page's buttons)."""
    role, status = Role(role), InstanceStatus(status)
    return {action: role in ACTION_ROLES[action] and status in ACTION_FROM[action] for action in ACTION_ROLES}


def _begin(ctx: Context, username: str, instance_id: int, action: str, reason: Any
           ) -> tuple[User, ProcessInstance, str]:
    """Check role, reason and status; lock the instance.

    :raises Forbidden: wrong role. :raises ValidationFailed: no reason.
    :raises NotFound: no such instance. :raises Conflict: not in a status the action applies to.
    """
    user = access.get_user(ctx.session, username)
    if user.role not in ACTION_ROLES[action]:
        roles = " or ".join(sorted(r.value for r in ACTION_ROLES[action]))
        raise Forbidden(f"{action} needs the role {roles}; {user.username!r} is {user.role.value}")
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise ValidationFailed("a reason is required", {"reason": "请填写理由"})
    if len(text) > MAX_REASON:
        raise ValidationFailed("reason too long", {"reason": f"理由不超过 {MAX_REASON} 字"})
    instance = ctx.session.scalar(select(ProcessInstance).where(ProcessInstance.id == instance_id)
                                  .with_for_update().execution_options(populate_existing=True))
    if instance is None:
        raise NotFound(f"instance {instance_id} does not exist")
    if instance.status not in ACTION_FROM[action]:
        raise Conflict(f"cannot {action} instance {instance_id}: it is {instance.status.value}")
    return user, instance, text


def _record(ctx: Context, user: User, instance: ProcessInstance, action: str, data: dict[str, Any],
            element_id: str | None = None, element_name: str | None = None) -> None:
    append_event(ctx.session, instance, ctx.now, user.username, EVENT_KIND[action], ctx.hash_alg,
                 actor_role=user.role.value, element_id=element_id, element_name=element_name, data=data)


def _result(instance: ProcessInstance, action: str) -> dict[str, Any]:
    result: dict[str, Any] = {"instance_id": instance.id, "action": action, "status": instance.status.value}
    if instance.status == S.error:
        result["error"] = {"element_id": instance.error_element, "message": instance.error_message}
    return result


def suspend(ctx: Context, username: str, instance_id: int, reason: str) -> dict[str, Any]:
    """Stop an instance where it stands: no timers fire and no task can be completed."""
    user, instance, reason = _begin(ctx, username, instance_id, "suspend", reason)
    _record(ctx, user, instance, "suspend", {"reason": reason, "status_before": instance.status.value})
    instance.status = S.suspended
    instance.updated_at = ctx.now
    return _result(instance, "suspend")


def resume(ctx: Context, username: str, instance_id: int, reason: str) -> dict[str, Any]:
    """Let a suspended instance go on; timers that fell due meanwhile fire now."""
    user, instance, reason = _begin(ctx, username, instance_id, "resume", reason)
    _record(ctx, user, instance, "resume", {"reason": reason, "status_before": instance.status.value})
    workflow = rebuild_workflow(ctx, instance)
    instance.status = S.running  # the projection settles running or waiting
    run_step(ctx, instance, workflow, lambda: None)
    return _result(instance, "resume")


def terminate(ctx: Context, username: str, instance_id: int, reason: str) -> dict[str, Any]:
    """End an instance for good: its tasks leave every inbox and its timers never fire.

    The workflow state is kept as it was (for the record); the clue keeps the stage it reached.
    """
    user, instance, reason = _begin(ctx, username, instance_id, "terminate", reason)
    tasks = list(ctx.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)))
    _record(ctx, user, instance, "terminate", {"reason": reason, "status_before": instance.status.value,
                                               "open_tasks": sorted(t.spec_name for t in tasks)})
    for task in tasks:
        ctx.session.delete(task)
    instance.status = S.terminated
    instance.next_timer_at = None
    instance.completed_at = ctx.now
    instance.updated_at = ctx.now
    return _result(instance, "terminate")


def reassign(ctx: Context, username: str, instance_id: int, unit: str, reason: str) -> dict[str, Any]:
    """Give a clue another responsible unit: its open unit tasks move to that unit's inbox and
    later steps use the new unit. The instance does not advance (a suspended one stays put).

    :raises ValidationFailed: unknown unit. :raises Conflict: no unit assigned yet, or the same one.
    """
    user, instance, reason = _begin(ctx, username, instance_id, "reassign", reason)
    target = ctx.session.get(OrgUnit, unit) if unit else None
    if target is None:
        raise ValidationFailed("unknown unit", {"unit": "请选择有效的责任单位"})
    clue = ctx.session.scalar(select(Clue).where(Clue.instance_id == instance.id))
    if clue is None or not clue.responsible_unit:
        raise Conflict(f"instance {instance_id} has no responsible unit yet")
    before = clue.responsible_unit
    if before == target.code:
        raise Conflict(f"{target.code} is already the responsible unit")
    workflow = rebuild_workflow(ctx, instance)
    # Data flows from each task to its children: changing the unfinished tasks changes what
    # every later step sees.
    for task in workflow.get_tasks(state=TaskState.NOT_FINISHED_MASK):
        if task.data.get("responsible_unit") is not None or task.state in (TaskState.READY, TaskState.WAITING):
            task.data["responsible_unit"] = target.code
    _record(ctx, user, instance, "reassign", {"reason": reason, "status_before": instance.status.value,
                                              "changed": {"responsible_unit": [before, target.code]}})
    for row in ctx.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                           HumanTask.candidate_unit == before)):
        row.candidate_unit = target.code
        row.audience = access.task_audience(row.lane, target.code, row.candidate_group, row.started_by)
        row.claimed_by = None
    clue.responsible_unit = target.code
    clue.updated_at = ctx.now
    save(ctx, instance, dump_workflow(workflow))
    return {**_result(instance, "reassign"), "responsible_unit": target.code, "before": before}


def reopen(ctx: Context, username: str, instance_id: int, reason: str, element_id: str | None = None
           ) -> dict[str, Any]:
    """Reopen a closed clue at a user task it went through (by default the last one completed,
    e.g. the review that closed it): that task is ready again and the instance runs on.

    :raises ValidationFailed: the element is not a task this instance completed.
    """
    user, instance, reason = _begin(ctx, username, instance_id, "reopen", reason)
    completed = [e for e in events_of(ctx.session, instance.id) if e.kind == "task_completed" and e.task_id]
    if element_id:
        completed = [e for e in completed if e.element_id == element_id]
    workflow = rebuild_workflow(ctx, instance)
    from .instance_view import task_of
    task = task_of(workflow, completed[-1].task_id) if completed else None
    if task is None or task.state != TaskState.COMPLETED:
        raise ValidationFailed("nothing to reopen", {"element_id": "该流程未完成过此任务，无法从此处重新打开"})
    _record(ctx, user, instance, "reopen", {"reason": reason, "status_before": instance.status.value},
            element_id=task.task_spec.bpmn_id, element_name=task.task_spec.bpmn_name)
    workflow.reset_from_task_id(task.id)
    workflow.completed = False  # SpiffWorkflow remembers completion; a reset does not clear it
    # SpiffWorkflow leaves removed tasks in its event manager after a reset (SPIFF_NOTES pitfall 7).
    for stale in [k for k in workflow.event_manager.tasks if k not in workflow.tasks]:
        workflow.event_manager.tasks.pop(stale)
    instance.status = S.running
    instance.completed_at = None
    clue = ctx.session.scalar(select(Clue).where(Clue.instance_id == instance.id))
    if clue is not None:
        clue.closed_at = None
    run_step(ctx, instance, workflow, lambda: None)
    return {**_result(instance, "reopen"), "element_id": task.task_spec.bpmn_id}


def retry(ctx: Context, username: str, instance_id: int, reason: str,
          variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run an instance in error again from the failing element, optionally with corrected
    process variables for that element; if it fails again it goes back to error (logged).

    :raises ValidationFailed: variables that are not an object, or nothing failed to correct.
    """
    user, instance, reason = _begin(ctx, username, instance_id, "retry", reason)
    if variables is not None and not isinstance(variables, dict):
        raise ValidationFailed("variables must be an object", {"variables": "应为 JSON 对象"})
    workflow = rebuild_workflow(ctx, instance)
    failed = workflow.get_tasks(state=TaskState.ERROR)
    if variables and not failed:
        raise ValidationFailed("no failed element", {"variables": "没有出错的环节可修正"})
    _record(ctx, user, instance, "retry", {"reason": reason, "status_before": instance.status.value,
                                           "error_before": {"element_id": instance.error_element,
                                                            "message": instance.error_message},
                                           "variables": variables or None},
            element_id=instance.error_element)
    for task in failed:
        workflow.reset_from_task_id(task.id)
        # The reset task takes its parent's data as it becomes ready; the correction goes on top.
        task.data.update(variables or {})
    for stale in [k for k in workflow.event_manager.tasks if k not in workflow.tasks]:
        workflow.event_manager.tasks.pop(stale)
    instance.status = S.running
    instance.error_message = instance.error_element = None
    run_step(ctx, instance, workflow, lambda: None)
    return _result(instance, "retry")


ACTIONS = {"suspend": suspend, "resume": resume, "terminate": terminate, "reassign": reassign,
           "reopen": reopen, "retry": retry}
