"""Moving running instances of a process from one deployed version to another, and back.

SpiffWorkflow 3.2 ships the pieces (`SpiffWorkflow.bpmn.util.diff`: a spec diff and
`migrate_workflow`, which points every task at the new version's spec with the same name and
re-predicts the READY and WAITING branches, keeping their task ids) but no policy. This module
is the policy:

- A **dry run** moves each instance in memory and reports, per instance, whether it can move
  and why not: a READY/WAITING task or a completed step whose element id is not in the new
  version, an element whose type changed, a running sub-process or multi-instance activity,
  a variable the new version's task properties or timers need, or a result that does not
  survive a save and reload. Nothing is written.
- A **migration** of one instance is one transaction: the same move, verified (the same READY
  tasks under the same ids, a reload with the new spec gives the same tree), then the blob,
  `definition_id`, the projections (READY tasks, status, timers, clue) and an
  `instance_migrated` history event are written together, with the old blob kept in
  `instance_migration` for undo. `migrate_many` runs a batch, one transaction per instance.
- **Undo** restores the old blob and definition exactly and logs `instance_migration_undone`;
  it is refused once the instance has moved on since the migration.

Elements are matched by id only (a renamed element is a removed one plus an added one), so a
move never guesses. Duration timers that are waiting are re-armed from the new version, so
they start again from the moment of the migration; date timers give the same moment.
"""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from . import access, projections
from .access import task_audience
from .context import Context
from .db.migration_models import InstanceMigration
from .db.models import Clue, HumanTask, InstanceStatus, ProcessDefinition, ProcessInstance, Role
from .errors import Conflict, EngineError, NotFound, ValidationFailed
from .history import append_event
from .instances import Step, load_instance, rebuild_workflow
from .serializer import SERIALIZER_VERSION, dump_workflow, load_workflow
from .taskinfo import properties, ready_user_tasks

MIGRATORS = (Role.designer, Role.admin)
ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
MAX_DRY_RUN = 500
_REGISTRY = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)


def _require_migrator(ctx: Context, username: str) -> Any:
    user = access.get_user(ctx.session, username)
    access.require_role(user, *MIGRATORS)
    return user


def _definition(ctx: Context, process_id: str, version: int) -> ProcessDefinition:
    definition = ctx.session.scalar(select(ProcessDefinition).where(
        ProcessDefinition.process_id == process_id, ProcessDefinition.version == version))
    if definition is None:
        raise NotFound(f"process {process_id!r} has no version {version}")
    return definition


# --- what can be migrated --------------------------------------------------------------------

def process_versions(ctx: Context, username: str) -> list[dict[str, Any]]:
    """Every process with its versions and how many unfinished instances each version has."""
    _require_migrator(ctx, username)
    counts = dict(ctx.session.execute(
        select(ProcessInstance.definition_id, func.count()).where(
            ProcessInstance.status.in_([InstanceStatus.running, InstanceStatus.waiting, InstanceStatus.error,
                                        InstanceStatus.suspended]))
        .group_by(ProcessInstance.definition_id)).all())
    result: dict[str, dict[str, Any]] = {}
    for definition in ctx.session.scalars(select(ProcessDefinition).order_by(
            ProcessDefinition.process_id, ProcessDefinition.version)):
        entry = result.setdefault(definition.process_id, {"process_id": definition.process_id, "versions": []})
        entry["name"] = definition.name
        entry["versions"].append({"version": definition.version, "definition_id": definition.id,
                                  "deployed_at": definition.deployed_at.isoformat(),
                                  "deployed_by": definition.deployed_by,
                                  "unfinished_instances": counts.get(definition.id, 0)})
    return list(result.values())


def _reason(code: str, message: str, element_id: str | None = None, element_name: str | None = None) -> dict[str, Any]:
    return {"code": code, "element_id": element_id, "element_name": element_name, "message": message}


def _element(task: Any) -> tuple[str, str | None]:
    spec = task.task_spec
    # Boundary events wrap their task in "<id>.BoundaryEventSplit"/"...Join" specs without a bpmn id.
    return spec.bpmn_id or spec.name.split(".")[0], spec.bpmn_name


def _spec_diff(ctx: Context, old_spec: Any, new_spec: Any) -> SpecDiff:
    key = f"specdiff:{id(old_spec)}:{id(new_spec)}"
    if key not in ctx.cache:
        ctx.cache[key] = SpecDiff(_REGISTRY, old_spec, new_spec)
    return ctx.cache[key]


def _snapshot(workflow: BpmnWorkflow) -> set[tuple[str, str, int]]:
    return {(str(t.id), t.task_spec.name, t.state) for t in workflow.get_tasks(state=TaskState.DEFINITE_MASK
                                                                              | TaskState.FINISHED_MASK)}


def _attempt(ctx: Context, instance: ProcessInstance, target: ProcessDefinition,
             workflow: BpmnWorkflow | None = None) -> tuple[list[dict[str, Any]], BpmnWorkflow | None]:
    """Move the instance's workflow to `target` in memory: (reasons it cannot move, moved workflow)."""
    reasons: list[dict[str, Any]] = []
    if instance.definition_id == target.id:
        return [_reason("same_version", f"already on version {target.version}")], None
    if instance.status in (InstanceStatus.completed, InstanceStatus.terminated):
        return [_reason("finished", f"the instance is {instance.status.value}")], None
    if instance.status == InstanceStatus.error:
        return [_reason("error", f"the instance stopped with an error at {instance.error_element or '?'}; "
                                 "repair it first", instance.error_element)], None
    new_spec, new_subs = ctx.runtime.specs.get(target)
    workflow = workflow if workflow is not None else rebuild_workflow(ctx, instance)
    seen: set[tuple[str, str | None]] = set()

    def add(code: str, message: str, task: Any) -> None:
        element_id, name = _element(task)
        if (code, element_id) not in seen:
            seen.add((code, element_id))
            reasons.append(_reason(code, message, element_id, name))

    for task in workflow.get_tasks(skip_subprocesses=True):
        spec = task.task_spec
        new = new_spec.task_specs.get(spec.name)
        active = task.has_state(ACTIVE)
        if new is None:
            if active:
                add("task_missing", f"{_element(task)[0]} is {TaskState.get_name(task.state).lower()} and does not "
                                    f"exist in version {target.version}", task)
            elif task.has_state(TaskState.FINISHED_MASK):
                add("history_missing", f"completed step {_element(task)[0]} does not exist in version "
                                       f"{target.version}; the instance's record could not be kept", task)
            continue
        if active and type(new).__name__ != type(spec).__name__:
            add("type_changed", f"{_element(task)[0]} is a {type(spec).__name__} here and a {type(new).__name__} "
                                f"in version {target.version}", task)
        if active and isinstance(spec, LoopTask):
            add("multi_instance_running", f"multi-instance activity {_element(task)[0]} is running", task)
    for sub_id, sub in workflow.subprocesses.items():
        if not sub.is_completed():
            parent = workflow.get_task_from_id(sub_id)
            add("subprocess_running", f"sub-process {_element(parent)[0]} is running", parent)
    if reasons:
        # A READY task's boundary wrapper is a completed step of the same element: say it once.
        active_missing = {r["element_id"] for r in reasons if r["code"] == "task_missing"}
        return [r for r in reasons if not (r["code"] == "history_missing" and r["element_id"] in active_missing)], None

    before_ready = {(str(t.id), t.task_spec.name) for t in ready_user_tasks(workflow)}
    before_waiting = {(str(t.id), t.task_spec.name) for t in workflow.get_tasks(state=TaskState.WAITING)}
    try:
        diff = WorkflowDiff(workflow, _spec_diff(ctx, workflow.spec, new_spec))
        migrate_workflow(diff, workflow, new_spec)
        workflow.subprocess_specs = new_subs
    except Exception as exc:  # noqa: BLE001 - re-arming evaluates the new version's expressions
        code = "data_missing" if isinstance(exc, NameError) or "is not defined" in str(exc) else "failed"
        failing = getattr(exc, "task", None)
        element = _element(failing) if failing is not None else (None, None)
        return [_reason(code, f"version {target.version} cannot take this instance over: {exc}", *element)], None

    for task in ready_user_tasks(workflow):
        for prop in ("candidateUnit", "candidateGroup", "dueDate"):
            variable = properties(task).get(prop)
            if variable and task.data.get(variable) in (None, ""):
                add("data_missing", f"{_element(task)[0]} needs the variable {variable!r} ({prop}) in version "
                                    f"{target.version}, and the instance has none", task)
    after_ready = {(str(t.id), t.task_spec.name) for t in ready_user_tasks(workflow)}
    after_waiting = {(str(t.id), t.task_spec.name) for t in workflow.get_tasks(state=TaskState.WAITING)}
    if after_ready != before_ready or after_waiting != before_waiting:
        reasons.append(_reason("failed", "the moved instance would not have the same ready and waiting tasks "
                                         f"(before {sorted(n for _, n in before_ready | before_waiting)}, after "
                                         f"{sorted(n for _, n in after_ready | after_waiting)})"))
    try:
        reloaded = load_workflow(dump_workflow(workflow), new_spec, new_subs)
        if _snapshot(reloaded) != _snapshot(workflow):
            reasons.append(_reason("failed", "the moved instance does not survive a save and reload unchanged"))
    except Exception as exc:  # noqa: BLE001 - any failure here means: do not move
        reasons.append(_reason("failed", f"the moved instance cannot be stored: {type(exc).__name__}: {exc}"))
    return (reasons, None) if reasons else ([], workflow)


def dry_run(ctx: Context, username: str, process_id: str, from_version: int, to_version: int,
            instance_ids: list[int] | None = None, limit: int = MAX_DRY_RUN) -> dict[str, Any]:
    """Per unfinished instance of `from_version`: can it move to `to_version`, and if not, why.

    Nothing is written. :raises NotFound: unknown process or version. :raises Forbidden: not a designer or admin.
    """
    _require_migrator(ctx, username)
    source, target = _definition(ctx, process_id, from_version), _definition(ctx, process_id, to_version)
    if source.id == target.id:
        raise ValidationFailed("same version", {"to_version": "目标版本应与当前版本不同"})
    where = [ProcessInstance.definition_id == source.id,
             ProcessInstance.status.notin_([InstanceStatus.completed, InstanceStatus.terminated])]
    if instance_ids is not None:
        where.append(ProcessInstance.id.in_(instance_ids))
    total = ctx.session.scalar(select(func.count()).select_from(ProcessInstance).where(*where)) or 0
    instances = list(ctx.session.scalars(select(ProcessInstance).where(*where).order_by(ProcessInstance.id).limit(limit)))
    ids = [i.id for i in instances]
    # The page's clues and READY tasks in two queries, not two per instance.
    clues = {c.instance_id: c for c in ctx.session.scalars(select(Clue).where(Clue.instance_id.in_(ids)))} if ids else {}
    tasks: dict[int, list[dict[str, Any]]] = {}
    for row in ctx.session.scalars(select(HumanTask).where(HumanTask.instance_id.in_(ids))
                                   .order_by(HumanTask.created_at, HumanTask.id)) if ids else []:
        tasks.setdefault(row.instance_id, []).append({"task_id": row.id, "element_id": row.spec_name, "title": row.title})
    items = []
    for instance in instances:
        reasons, _ = _attempt(ctx, instance, target)
        clue = clues.get(instance.id)
        items.append({"instance_id": instance.id, "business_key": instance.business_key,
                      "clue_id": clue.id if clue is not None else None, "status": instance.status.value,
                      "stage": clue.stage if clue is not None else None,
                      "tasks": tasks.get(instance.id, []), "can_move": not reasons, "reasons": reasons})
    return {"process_id": process_id, "from_version": from_version, "to_version": to_version, "total": total,
            "items": items, "movable": sum(1 for i in items if i["can_move"]),
            "blocked": sum(1 for i in items if not i["can_move"])}


# --- moving and undoing ----------------------------------------------------------------------

def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _refresh_task_rows(ctx: Context, instance: ProcessInstance, workflow: BpmnWorkflow) -> None:
    """READY tasks that stay READY keep their rows (and claims); their spec-derived columns follow the version."""
    ready = {str(t.id): t for t in ready_user_tasks(workflow)}
    for row in ctx.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)):
        task = ready.get(row.id)
        if task is None:
            continue
        props = properties(task)
        row.title = task.task_spec.bpmn_name or task.task_spec.name
        row.lane, row.form_key, row.stage = task.task_spec.lane, props.get("formKey"), props.get("stage")
        unit = _text(task.data.get(props["candidateUnit"])) if props.get("candidateUnit") else None
        group = _text(task.data.get(props["candidateGroup"])) if props.get("candidateGroup") else None
        row.candidate_unit, row.candidate_group = unit, group
        row.audience = task_audience(row.lane, unit, group, instance.started_by)


def _text(value: Any) -> str | None:
    return str(value) if value is not None else None


def _write(ctx: Context, instance: ProcessInstance, workflow: BpmnWorkflow, definition: ProcessDefinition,
           state: str) -> None:
    instance.definition_id = definition.id
    instance.definition = definition
    instance.state = state
    instance.serializer_version = SERIALIZER_VERSION
    instance.updated_at = ctx.now
    with ctx.session.no_autoflush:
        projections.sync(ctx, instance, workflow, Step())
        _refresh_task_rows(ctx, instance, workflow)
    ctx.session.flush()


def migrate_instance(ctx: Context, username: str, instance_id: int, to_version: int,
                     batch: str | None = None, from_version: int | None = None) -> dict[str, Any]:
    """Move one instance to another version of its process (this transaction only).

    :raises Conflict: the instance cannot move (the message lists why; `reasons` on the error).
    :raises NotFound: unknown instance or version. :raises Forbidden: not a designer or admin.
    """
    user = _require_migrator(ctx, username)
    instance, loaded = load_instance(ctx, instance_id)
    source = ctx.session.get(ProcessDefinition, instance.definition_id)
    assert source is not None
    if from_version is not None and source.version != from_version:
        raise MigrationRefused(instance.id, [_reason("wrong_version", f"the instance is on version {source.version}, "
                                                                       f"not {from_version}")])
    target = _definition(ctx, instance.process_id, to_version)
    reasons, workflow = _attempt(ctx, instance, target, loaded)
    if workflow is None:
        raise MigrationRefused(instance.id, reasons)
    before_state, before_serializer = instance.state, instance.serializer_version
    state = dump_workflow(workflow)
    moved = [{"task_id": str(t.id), "element_id": t.task_spec.name, "state": TaskState.get_name(t.state)}
             for t in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING, skip_subprocesses=True)]
    _write(ctx, instance, workflow, target, state)
    record = InstanceMigration(
        batch=batch or uuid.uuid4().hex, instance_id=instance.id, process_id=instance.process_id,
        from_definition_id=source.id, to_definition_id=target.id, from_version=source.version,
        to_version=target.version, before_state=before_state, before_serializer_version=before_serializer,
        after_state_hash=_state_hash(state), after_history_count=0, tasks=moved, migrated_by=user.username,
        migrated_at=ctx.now)
    ctx.session.add(record)
    ctx.session.flush()
    append_event(ctx.session, instance, ctx.now, user.username, "instance_migrated", ctx.hash_alg,
                 actor_role=user.role.value,
                 data={"migration_id": record.id, "from_version": source.version, "to_version": target.version,
                       "from_definition_id": source.id, "to_definition_id": target.id, "tasks": moved})
    record.after_history_count = instance.history_count
    ctx.session.flush()
    return migration_summary(record)


class MigrationRefused(Conflict):
    """An instance that cannot move; `reasons` says why, each naming its element."""

    def __init__(self, instance_id: int, reasons: list[dict[str, Any]]) -> None:
        super().__init__(f"instance {instance_id} cannot be migrated: " + "; ".join(r["message"] for r in reasons))
        self.instance_id = instance_id
        self.reasons = reasons

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "reasons": self.reasons}


def migrate_many(run: Callable[..., Any], username: str, instance_ids: list[int], to_version: int,
                 from_version: int | None = None,
                 progress: Callable[[int, int, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Migrate a batch, each instance in its own transaction through `run` (e.g. `Engine.run`).

    One instance that cannot move does not stop the others; `progress(done, total, item)` is
    called after each.
    """
    batch = uuid.uuid4().hex
    moved, refused = [], []
    for done, instance_id in enumerate(instance_ids, start=1):
        try:
            item = run(migrate_instance, username, instance_id, to_version, batch, from_version)
            moved.append(item)
        except MigrationRefused as exc:
            item = {"instance_id": instance_id, "reasons": exc.reasons}
            refused.append(item)
        except EngineError as exc:
            item = {"instance_id": instance_id, "reasons": [_reason("failed", str(exc))]}
            refused.append(item)
        if progress is not None:
            progress(done, len(instance_ids), item)
    return {"batch": batch, "moved": moved, "refused": refused}


def undo_migration(ctx: Context, username: str, migration_id: int) -> dict[str, Any]:
    """Put an instance back exactly as it was before a migration (blob, version, tasks).

    :raises Conflict: already undone, or the instance moved on since. :raises NotFound: unknown migration.
    """
    user = _require_migrator(ctx, username)
    record = ctx.session.get(InstanceMigration, migration_id, with_for_update=True)
    if record is None:
        raise NotFound(f"migration {migration_id} does not exist")
    if record.undone_at is not None:
        raise Conflict(f"migration {migration_id} was already undone by {record.undone_by}")
    instance, _ = load_instance(ctx, record.instance_id)
    if (instance.definition_id != record.to_definition_id or instance.history_count != record.after_history_count
            or _state_hash(instance.state) != record.after_state_hash):
        raise Conflict(f"instance {instance.id} has moved on since migration {migration_id}; undoing it would lose that work")
    source = ctx.session.get(ProcessDefinition, record.from_definition_id)
    assert source is not None
    spec, subs = ctx.runtime.specs.get(source)
    workflow = load_workflow(record.before_state, spec, subs)
    workflow.script_engine = ctx.runtime.script_engine
    _write(ctx, instance, workflow, source, record.before_state)
    instance.serializer_version = record.before_serializer_version
    record.undone_by, record.undone_at = user.username, ctx.now
    append_event(ctx.session, instance, ctx.now, user.username, "instance_migration_undone", ctx.hash_alg,
                 actor_role=user.role.value,
                 data={"migration_id": record.id, "from_version": record.to_version, "to_version": record.from_version})
    ctx.session.flush()
    return migration_summary(record)


def migration_summary(record: InstanceMigration) -> dict[str, Any]:
    return {"id": record.id, "batch": record.batch, "instance_id": record.instance_id, "process_id": record.process_id,
            "from_version": record.from_version, "to_version": record.to_version, "tasks": record.tasks or [],
            "migrated_by": record.migrated_by, "migrated_at": record.migrated_at.isoformat(),
            "undone_by": record.undone_by, "undone_at": record.undone_at.isoformat() if record.undone_at else None}


def migration_log(ctx: Context, username: str, process_id: str | None = None, page: int = 1,
                  per_page: int = 50) -> dict[str, Any]:
    """Migrations, newest first, with whether each can still be undone."""
    _require_migrator(ctx, username)
    where = [InstanceMigration.process_id == process_id] if process_id else []
    total = ctx.session.scalar(select(func.count()).select_from(InstanceMigration).where(*where)) or 0
    rows = list(ctx.session.scalars(select(InstanceMigration).where(*where).order_by(InstanceMigration.id.desc())
                                    .offset((max(page, 1) - 1) * per_page).limit(per_page)))
    instances = {i.id: i for i in ctx.session.scalars(select(ProcessInstance).where(
        ProcessInstance.id.in_([r.instance_id for r in rows])))} if rows else {}
    items = []
    for record in rows:
        instance = instances.get(record.instance_id)
        undoable = (record.undone_at is None and instance is not None
                    and instance.definition_id == record.to_definition_id
                    and instance.history_count == record.after_history_count)
        items.append({**migration_summary(record), "undoable": undoable,
                      "business_key": instance.business_key if instance is not None else None})
    return {"items": items, "total": total}


def migration_page(ctx: Context, username: str, chosen: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the migration page shows: the processes and their versions, the move log, and the dry
    run of `chosen` ({"process_id", "from_version", "to_version"}) when given — in one transaction."""
    data: dict[str, Any] = {"processes": process_versions(ctx, username),
                            "log": migration_log(ctx, username, per_page=100), "result": None}
    if chosen:
        data["result"] = dry_run(ctx, username, chosen["process_id"], chosen["from_version"], chosen["to_version"])
    return data
