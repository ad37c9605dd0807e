"""Process instances: start, load under lock, run one step of SpiffWorkflow, save.

Every public function here runs inside the caller's transaction and leaves the instance
row, its READY-task rows, its history and its clue (if any) consistent with each other.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from . import projections
from .context import Context
from .db.models import InstanceStatus, ProcessInstance
from .definitions import latest_definition
from .errors import Conflict, NotFound, ScriptRejected
from .history import append_event
from .scripts import current_service_handler
from .serializer import SERIALIZER_VERSION, dump_workflow, load_workflow

AUTOMATIC_KINDS = {"ScriptTask": "script_run", "BusinessRuleTask": "decision_made", "ServiceTask": "service_called"}


@dataclass
class Step:
    """What one run of the workflow did, for history and projections."""

    completed: list[Task] = field(default_factory=list)
    user_data: dict[str, Any] = field(default_factory=dict)
    error: tuple[str, str] | None = None  # (element id, message)


def start_instance(ctx: Context, process_id: str, data: dict[str, Any], actor: str, actor_role: str | None,
                   business_key: str | None = None, on_created: Callable[[ProcessInstance], None] | None = None
                   ) -> ProcessInstance:
    """Start the newest version of a process with `data` as its first variables."""
    definition = ctx.cache.get(f"definition:{process_id}")
    if definition is None:
        definition = ctx.cache[f"definition:{process_id}"] = latest_definition(ctx.session, process_id)
    assert definition is not None
    spec, subprocess_specs = ctx.runtime.specs.get(definition)
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=ctx.runtime.script_engine)
    workflow.task_tree.data.update(data)
    instance = ProcessInstance(
        definition=definition, process_id=process_id, business_key=business_key, status=InstanceStatus.running,
        serializer_version=SERIALIZER_VERSION, state="", started_by=actor, created_at=ctx.now, updated_at=ctx.now,
        history_count=0,
    )
    ctx.session.add(instance)
    ctx.session.flush()
    if on_created is not None:
        on_created(instance)
    append_event(ctx.session, instance, ctx.now, actor, "instance_started", ctx.hash_alg, actor_role=actor_role,
                 data={"process_id": process_id, "version": definition.version, "variables": data})
    run_step(ctx, instance, workflow, lambda: None)
    return instance


def load_instance(ctx: Context, instance_id: int, lock: bool = True) -> tuple[ProcessInstance, BpmnWorkflow]:
    """Fetch an instance (row-locked on PostgreSQL) and rebuild its workflow.

    :raises NotFound: no such instance.
    """
    query = select(ProcessInstance).where(ProcessInstance.id == instance_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    instance = ctx.session.scalar(query)
    if instance is None:
        raise NotFound(f"instance {instance_id} does not exist")
    return instance, rebuild_workflow(ctx, instance)


def rebuild_workflow(ctx: Context, instance: ProcessInstance) -> BpmnWorkflow:
    spec, subprocess_specs = ctx.runtime.specs.get_by_id(ctx.session, instance.definition_id)
    workflow = load_workflow(instance.state, spec, subprocess_specs)
    # The script engine is not part of the serialization (SPIFF_NOTES pitfall 6).
    workflow.script_engine = ctx.runtime.script_engine
    return workflow


def run_step(ctx: Context, instance: ProcessInstance, workflow: BpmnWorkflow, action: Callable[[], Any],
             step: Step | None = None, flush: bool = True) -> Step:
    """Apply `action` to the workflow, advance it as far as it goes, then write everything back
    (into the session; flushed at once unless `flush` is False).

    A failing script or expression does not raise: the instance goes to the error state with
    the element and message, and what ran before the failure is kept.
    """
    step = step or Step()
    before = {task.id: task.state for task in workflow.tasks.values()}
    token = current_service_handler.set(_service_handler(ctx))
    try:
        action()
        # Timers that fell due are only noticed by refresh_timers(), which do_engine_steps()
        # calls last (SPIFF_NOTES pitfall 4), so refresh first, then step.
        workflow.refresh_timers()
        workflow.do_engine_steps()
    except SpiffWorkflowException as exc:
        step.error = (_element_of(exc), str(exc))
    except Exception as exc:  # noqa: BLE001 - SpiffWorkflow's own error formatting can fail too
        failed = workflow.get_tasks(state=TaskState.ERROR)
        element = failed[0].task_spec.bpmn_id if failed else _element_of(exc)
        step.error = (element or "", f"{type(exc).__name__}: {exc}")
    finally:
        current_service_handler.reset(token)
    step.completed = sorted(
        (t for t in workflow.tasks.values()
         if t.state == TaskState.COMPLETED and before.get(t.id) != TaskState.COMPLETED),
        key=lambda t: t.last_state_change,
    )
    state = _dump(workflow)
    with ctx.session.no_autoflush:
        _record_automatic(ctx, instance, step)
        projections.sync(ctx, instance, workflow, step)
    save(ctx, instance, state, flush)
    return step


def _dump(workflow: BpmnWorkflow) -> str:
    # Serialized before any projection is written: a value that cannot be stored refuses
    # the whole operation (the transaction rolls back) instead of saving half of it.
    try:
        return dump_workflow(workflow)
    except (TypeError, ValueError) as exc:
        raise ScriptRejected(f"a script left a value that cannot be stored: {exc}") from exc


def save(ctx: Context, instance: ProcessInstance, state: str, flush: bool = True) -> None:
    instance.state = state
    instance.serializer_version = SERIALIZER_VERSION
    instance.updated_at = ctx.now
    if not flush:
        return
    try:
        ctx.session.flush()
    except StaleDataError as exc:
        raise Conflict(f"instance {instance.id} was changed by someone else; reload and try again") from exc


def find_task(workflow: BpmnWorkflow, task_id: str) -> Task | None:
    try:
        return workflow.get_task_from_id(UUID(task_id))
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises TaskNotFoundException or KeyError
        return None


def _service_handler(ctx: Context) -> Callable[[str, dict[str, Any], dict[str, Any]], Any]:
    def handle(operation: str, params: dict[str, Any], data: dict[str, Any]) -> Any:
        service = ctx.runtime.services.get(operation)
        if service is None:
            raise NotFound(f"no service operation {operation!r}")
        return service(ctx, params, data)
    return handle


def _element_of(exc: Exception) -> str:
    task = getattr(exc, "task", None)
    if task is not None:
        return task.task_spec.bpmn_id or task.task_spec.name
    return getattr(exc, "id", "") or ""


def _record_automatic(ctx: Context, instance: ProcessInstance, step: Step) -> None:
    for task in step.completed:
        kind = _event_kind(task)
        if kind is None:
            continue
        data = _delta(task) if kind in AUTOMATIC_KINDS.values() else None
        append_event(ctx.session, instance, ctx.now, "system", kind, ctx.hash_alg, task_id=str(task.id),
                     element_id=task.task_spec.bpmn_id, element_name=task.task_spec.bpmn_name, data=data)
    if step.error is not None:
        append_event(ctx.session, instance, ctx.now, "system", "error", ctx.hash_alg,
                     element_id=step.error[0], data={"message": step.error[1]})


def _event_kind(task: Task) -> str | None:
    spec_class = type(task.task_spec).__name__
    if spec_class in AUTOMATIC_KINDS:
        return AUTOMATIC_KINDS[spec_class]
    if isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition):
        return "timer_fired"
    if spec_class == "EndEvent":
        return "end_reached"
    return None


def _delta(task: Task) -> dict[str, Any]:
    parent = task.parent.data if task.parent is not None else {}
    return {k: v for k, v in task.data.items() if k not in parent or parent[k] != v}
