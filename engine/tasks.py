"""People's tasks: list, show, claim, release, complete."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import InvalidRequestError
from SpiffWorkflow.util.task import TaskState

from . import access, lights, plausibility, readable, vocabulary
from .notifications import notify
from .clock import SHANGHAI
from .context import Context
from .db.models import Clue, Evidence, HumanTask, InstanceEvent, InstanceStatus, OrgUnit, ProcessInstance, User
from .errors import Conflict, NotFound, ValidationFailed
from .form_options import check_assignment, check_options, options_for
from .history import append_event
from .instances import Step, find_task, load_instance, run_step
from .taskinfo import properties, ready_user_tasks


def task_summary(row: HumanTask, now: datetime | None = None) -> dict[str, Any]:
    summary = {
        "id": row.id, "instance_id": row.instance_id, "clue_id": row.clue_id, "name": row.spec_name,
        "title": row.title, "lane": row.lane, "form": row.form_key, "stage": row.stage,
        "candidate_unit": row.candidate_unit, "candidate_group": row.candidate_group,
        "due_at": row.due_at.isoformat() if row.due_at else None, "claimed_by": row.claimed_by,
        "created_at": row.created_at.isoformat(),
    }
    if now is not None:
        summary["light"] = lights.current(row.light, row.light_changes_at, row.due_at, now)
    return summary


def light_of_task(due_at: datetime | None, now: datetime,
                  yellow_working_days: int = lights.DEFAULT_YELLOW_WORKING_DAYS) -> str | None:
    """红灯 overdue, 黄灯 within N working days of the due date, 绿灯 on track (engine.lights).
    Inboxes read the stored `HumanTask.light` instead; this is for a due date not yet stored."""
    return lights.for_task(due_at, now, yellow_working_days).value


INBOX_FILTERS = ("category", "stage", "unit", "overdue", "q")


def list_tasks(ctx: Context, username: str, clue_id: int | None = None, page: int = 1,
               per_page: int = 50, filters: dict[str, Any] | None = None) -> dict[str, Any]:
    """READY tasks the user may act on, nearest deadline first, with filters on the clue."""
    if page < 1 or not 1 <= per_page <= 200:
        raise ValidationFailed("bad paging", {"page" if page < 1 else "per_page": "page ≥ 1，per_page 为 1–200"})
    user = access.get_user(ctx.session, username)
    mine = access.audiences(user)
    # Tasks of instances the user started themselves are rare: only look when there are any,
    # so that the usual inbox stays a single index range.
    if ctx.session.scalar(select(HumanTask.id).where(HumanTask.audience == mine[0]).limit(1)) is None:
        mine = mine[1:]
    where = [HumanTask.audience.in_(mine) if len(mine) != 1 else HumanTask.audience == mine[0]]
    if clue_id is not None:
        where.append(HumanTask.clue_id == clue_id)
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    if filters.get("stage"):
        where.append(HumanTask.stage == filters["stage"])
    if filters.get("overdue") not in (None, False, "0", "false"):
        where.append(HumanTask.due_at < ctx.now)
    if filters.get("light"):
        if filters["light"] not in lights.LIGHTS:
            raise ValidationFailed("bad light", {"light": "应为 red、yellow 或 green"})
        where.append(lights.light_is(filters["light"], HumanTask.light, HumanTask.light_changes_at,
                                     lights.task_overdue(ctx.now), ctx.now))
    query = select(HumanTask)
    count = select(func.count()).select_from(HumanTask)
    clue_filters = [f for f in ("category", "unit", "q") if filters.get(f)]
    if clue_filters:
        query = query.join(Clue, Clue.id == HumanTask.clue_id)
        count = count.join(Clue, Clue.id == HumanTask.clue_id)
        if filters.get("category"):
            where.append(Clue.category == filters["category"])
        if filters.get("unit"):
            where.append(Clue.responsible_unit.in_(vocabulary.matching_codes(OrgUnit, str(filters["unit"]).strip())))
        if filters.get("q"):
            text = str(filters["q"]).strip()
            where.append(or_(Clue.enterprise_name.like(f"%{text}%"), Clue.uscc == text.upper()))
    total = ctx.session.scalar(count.where(*where)) or 0
    rows = ctx.session.scalars(
        query.where(*where).order_by(HumanTask.sort_due, HumanTask.id)
        .offset((page - 1) * per_page).limit(per_page))
    items = [task_summary(r, ctx.now) for r in rows]
    # The enterprise is what people know a clue by; one look-up for the page, so the inbox
    # itself stays one range of the human_task index.
    clue_ids = {item["clue_id"] for item in items if item["clue_id"] is not None}
    enterprises = {clue_id: name for clue_id, name in ctx.session.execute(
        select(Clue.id, Clue.enterprise_name).where(Clue.id.in_(clue_ids)))} if clue_ids else {}
    for item in items:
        item["enterprise_name"] = enterprises.get(item["clue_id"])
    return {"items": items, "total": total}


def done_tasks(ctx: Context, username: str, page: int = 1, per_page: int = 50) -> dict[str, Any]:
    """Tasks this user completed (已办), newest first, from the history."""
    user = access.get_user(ctx.session, username)
    where = [InstanceEvent.actor == user.username, InstanceEvent.kind == "task_completed"]
    total = ctx.session.scalar(select(func.count()).select_from(InstanceEvent).where(*where)) or 0
    rows = ctx.session.execute(
        select(InstanceEvent, Clue.id, Clue.enterprise_name)
        .join(Clue, Clue.instance_id == InstanceEvent.instance_id, isouter=True)
        .where(*where).order_by(InstanceEvent.at.desc(), InstanceEvent.id.desc())
        .offset((page - 1) * per_page).limit(per_page))
    return {"items": [{"task_id": e.task_id, "title": e.element_name, "at": e.at.isoformat(), "clue_id": cid,
                       "enterprise_name": name, "instance_id": e.instance_id} for e, cid, name in rows],
            "total": total}


def _ready_row(ctx: Context, task_id: str, username: str | None = None) -> HumanTask:
    """:raises Conflict: completed or cancelled already (saying by whom, in Chinese, for people).
    :raises NotFound: never existed."""
    row = ctx.session.get(HumanTask, task_id, populate_existing=True)
    if row is not None:
        return row
    done = ctx.session.scalar(select(InstanceEvent).where(
        InstanceEvent.task_id == task_id, InstanceEvent.kind.in_(["task_completed", "task_cancelled"])))
    if done is not None:
        raise Conflict(f"task {task_id} is no longer ready: {done.kind.replace('task_', '')} by {done.actor} "
                       f"at {done.at.isoformat()}", user_message=_gone_message(ctx, done, username))
    raise NotFound(f"task {task_id} does not exist", user_message="此任务不存在。")


def _display_name(ctx: Context, username: str) -> str:
    return ctx.session.scalar(select(User.display_name).where(User.username == username)) or username


def _gone_message(ctx: Context, done: InstanceEvent, username: str | None) -> str:
    when = done.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    if done.kind == "task_cancelled":
        return f"此任务已于 {when}（北京时间）撤销，无需再办理。"
    if username is not None and done.actor == username:
        return f"您已提交过此任务（{when}，北京时间），无需再次提交。"
    return f"此任务已由{_display_name(ctx, done.actor)}于 {when}（北京时间）办理完毕，您这次的提交没有保存。"


def clue_of_finished_task(ctx: Context, task_id: str, username: str) -> int | None:
    """The clue a task that is no longer ready belonged to, if this user may see it: an old link
    (a notice, a bookmark) then leads to where the work went on."""
    user = access.get_user(ctx.session, username)
    clue = ctx.session.scalar(select(Clue).join(InstanceEvent, InstanceEvent.instance_id == Clue.instance_id)
                              .where(InstanceEvent.task_id == task_id).limit(1))
    return clue.id if clue is not None and access.can_see_clue(user, clue) else None


def show_task(ctx: Context, task_id: str, username: str) -> dict[str, Any]:
    """A READY task with its form, its option lists and every earlier step as label–value pairs.

    A task done before on this clue (a report after a send-back) starts from what was
    submitted last time and says what happened since (the review's opinion). A form whose ui
    names `shows_step` (审核销号 names the unit's report) gets that step's latest submission
    to put above the form.
    """
    user = access.get_user(ctx.session, username)
    row = _ready_row(ctx, task_id, username)
    access.require_can_view(user, row)
    instance = ctx.session.get(ProcessInstance, row.instance_id)
    definition_id = instance.definition_id if instance is not None else None
    events = list(ctx.session.scalars(select(InstanceEvent).where(
        InstanceEvent.instance_id == row.instance_id,
        InstanceEvent.kind.in_(["instance_started", "task_completed"])).order_by(InstanceEvent.seq)))
    hidden = set() if access.sees_complainant(user) else {"complainant_name", "complainant_phone"}
    people = readable.people_names(ctx, {e.actor for e in events})
    steps = [readable.readable_event(ctx, e, definition_id, people, hidden) for e in events]
    form_def = ctx.runtime.forms.get(row.form_key) if row.form_key else None
    clue = ctx.session.get(Clue, row.clue_id) if row.clue_id else None
    element = _element_of_task(ctx, definition_id, row.spec_name)
    previous = next((s for s in reversed(steps) if element and s["element_id"] == element), None)
    since = [s for s in steps if previous and s["seq"] > previous["seq"] and s["kind"] == "task_completed"]
    shows = form_def.ui.get("shows_step") if form_def else None
    shown_step = next((s for s in reversed(steps) if shows and s["form_key"] == shows), None)
    if shown_step is not None:
        # The files the unit attached while doing that step are part of its report.
        shown_step = {**shown_step, "evidence": [
            {"id": e.id, "filename": e.filename} for e in ctx.session.scalars(
                select(Evidence).where(Evidence.clue_id == row.clue_id, Evidence.task_id == shown_step["task_id"])
                .order_by(Evidence.id))]}
    return {
        **task_summary(row), "may_complete": access.can_act(user, row),
        "form": form_def.to_dict() if form_def else None,
        "options": options_for(ctx, form_def, clue),
        "earlier_steps": steps,
        "previous": {"values": previous["data"], "at": previous["at"], "since": since} if previous else None,
        "shown_step": shown_step,
    }


def _element_of_task(ctx: Context, definition_id: int | None, spec_name: str) -> str | None:
    if definition_id is None:
        return None
    spec, subprocesses = ctx.runtime.specs.get_by_id(ctx.session, definition_id)
    for process in [spec, *subprocesses.values()]:
        task_spec = process.task_specs.get(spec_name)
        if task_spec is not None:
            return getattr(task_spec, "bpmn_id", None)
    return None


def claim_task(ctx: Context, task_id: str, username: str) -> dict[str, Any]:
    """Take a task so that colleagues see it is being handled.

    :raises Conflict: someone else holds it.
    """
    user = access.get_user(ctx.session, username)
    row = _ready_row(ctx, task_id, username)
    access.require_can_act(user, row)
    # Read-then-write lost the race on PostgreSQL: two users both read "unclaimed" and were both
    # told they hold the task. The condition is re-checked by the database on the locked row, so
    # exactly one UPDATE matches; the other sees the winner's value and matches nothing.
    free_or_mine = HumanTask.claimed_by.is_(None) | (HumanTask.claimed_by == user.username)
    if not _set_claim(ctx, row, user.username, free_or_mine):
        raise Conflict(f"task {task_id} is claimed by {row.claimed_by}",
                       user_message=f"此任务已由{_display_name(ctx, row.claimed_by)}认领，请与其联系或等其释放。")
    return task_summary(row)


def release_task(ctx: Context, task_id: str, username: str) -> dict[str, Any]:
    user = access.get_user(ctx.session, username)
    row = _ready_row(ctx, task_id, username)
    access.require_can_act(user, row)
    if not _set_claim(ctx, row, None, HumanTask.claimed_by == user.username):
        raise Conflict(f"task {task_id} is not claimed by {user.username}")
    return task_summary(row)


def _set_claim(ctx: Context, row: HumanTask, claimed_by: str | None, condition: Any) -> bool:
    """Set `claimed_by` only where `condition` holds in the database now; the row then shows the stored value."""
    result = ctx.session.execute(update(HumanTask).where(HumanTask.id == row.id, condition)
                                 .values(claimed_by=claimed_by).execution_options(synchronize_session=False))
    try:
        ctx.session.refresh(row, ["claimed_by"])
    except InvalidRequestError:  # completed or cancelled by someone else since it was read
        raise Conflict(f"task {row.id} is no longer ready") from None
    return result.rowcount == 1


def complete_task(ctx: Context, task_id: str, username: str, data: Any,
                  confirm_warnings: bool = False) -> dict[str, Any]:
    """Submit a task's form and advance the instance.

    :raises NotFound: unknown task. :raises Forbidden: not this user's task.
    :raises ValidationFailed: invalid form data (engine.plausibility: a date that cannot be true
        included). :raises ConfirmationRequired: unusual values (a past deadline, more paid than
        owed) not confirmed with `confirm_warnings`. :raises Conflict: no longer ready.
    """
    user = access.get_user(ctx.session, username)
    row = _ready_row(ctx, task_id, username)
    access.require_can_act(user, row)
    if row.claimed_by not in (None, user.username):
        raise Conflict(f"task {task_id} is claimed by {row.claimed_by}",
                       user_message=f"此任务已由{_display_name(ctx, row.claimed_by)}认领，请与其联系或等其释放。")
    today = ctx.now.astimezone(SHANGHAI).date()
    cleaned = ctx.runtime.forms.validate(row.form_key, data, today=today) if row.form_key else {}
    if row.form_key:
        check_options(ctx, ctx.runtime.forms.get(row.form_key),
                      ctx.session.get(Clue, row.clue_id) if row.clue_id else None, cleaned)
    check_assignment(ctx, cleaned)
    instance, workflow = load_instance(ctx, row.instance_id)
    if instance.status in (InstanceStatus.suspended, InstanceStatus.terminated, InstanceStatus.error):
        raise Conflict(f"instance {instance.id} is {instance.status.value}")
    task = find_task(workflow, task_id)
    if task is None or task.state != TaskState.READY:
        raise Conflict(f"task {task_id} is no longer ready")
    if row.form_key:
        # Compared with the process's own variables (the assignment deadline, the amount owed).
        plausibility.check(ctx.runtime.forms.get(row.form_key).schema, cleaned, today, task.data,
                           confirmed=confirm_warnings)
    append_event(ctx.session, instance, ctx.now, user.username, "task_completed", ctx.hash_alg,
                 actor_role=user.role.value, task_id=task_id, element_id=task.task_spec.bpmn_id,
                 element_name=task.task_spec.bpmn_name, data=cleaned)

    def submit() -> None:
        _cancel_tasks_ended_by(ctx, instance, workflow, task.task_spec.name)
        task.data.update(cleaned)
        task.run()

    step = run_step(ctx, instance, workflow, submit, Step(user_data=cleaned))
    next_rows = list(ctx.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id).order_by(HumanTask.created_at)))
    _tell_units(ctx, row, cleaned, [r for r in next_rows if r.created_at == ctx.now])
    result = {"task_id": task_id, "instance_id": instance.id, "status": instance.status.value,
              "next_tasks": [task_summary(r) for r in next_rows]}
    if step.error:
        result["error"] = {"element_id": step.error[0], "message": step.error[1]}
    return result


def _cancel_tasks_ended_by(ctx: Context, instance: ProcessInstance, workflow: Any, spec_name: str) -> None:
    # Chase and reminder tasks (property endsWith) lose their point once the awaited task
    # is done. They are cancelled before that task runs: cancelling afterwards can leave
    # SpiffWorkflow's end join waiting forever.
    for other in ready_user_tasks(workflow):
        if properties(other).get("endsWith") == spec_name:
            other.cancel()
            append_event(ctx.session, instance, ctx.now, "system", "task_cancelled", ctx.hash_alg,
                         task_id=str(other.id), element_id=other.task_spec.bpmn_id,
                         element_name=other.task_spec.bpmn_name, data={"ended_by": spec_name})


def _tell_units(ctx: Context, done: HumanTask, submitted: dict[str, Any], new_rows: list[HumanTask]) -> None:
    # A unit learns of work for it when it arrives (in-app and, when on, by e-mail); a task
    # it has done before came back, and the notice says why, since the unit was not there
    # when the office decided.
    for new in new_rows:
        if not new.audience.startswith("unit:") or new.audience == done.audience:
            continue  # the unit's own next step (report after plan) is no news to it
        clue = ctx.session.get(Clue, new.clue_id) if new.clue_id else None
        subject = f"线索 #{clue.id}「{clue.enterprise_name}」" if clue else "流程任务"
        # due_at is the first moment after the due day (projections.due_moment): name the day itself.
        due = f"，办理时限 {(new.due_at.astimezone(SHANGHAI) - timedelta(microseconds=1)):%Y-%m-%d}" if new.due_at else ""
        again = ctx.session.scalar(select(InstanceEvent.id).where(
            InstanceEvent.instance_id == new.instance_id, InstanceEvent.kind == "task_completed",
            InstanceEvent.element_id == new.spec_name).limit(1)) is not None
        opinion = next((str(submitted[k]) for k in ("opinion", "findings", "instructions") if submitted.get(k)), "")
        kind, verb = ("sent_back", "退回") if again else ("task_assigned", "新任务")
        notify(ctx, [new.audience], kind, f"{verb}：{subject}，请{new.title}{due}",
               f"{done.title}意见：{opinion}" if opinion else "", clue_id=new.clue_id, link=f"/tasks/{new.id}")
