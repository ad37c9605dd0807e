"""Reminders, the chase and the escalation ladder (亮灯督办, 催办) for every READY human task
with a due date — clue tasks and the units' own reporting tasks alike — and supervision by
hand: the office's supervision notice (督办单) and listing a clue for supervision (挂牌督办).

The ladder of one task, with the default LadderConfig (days from its due moment):
  −3, −1  reminder to the task's audience
   0      chase: for a task whose diagram has a timer boundary event of its own (Task_report →
          Task_chase) the process chases; the ladder only tells the audience
  +1      escalation to the unit's leader (the unit's users: there is no separate leader role)
  +4      escalation to the work group (3 days later)
  +11     escalation to the office (7 days after that)

`advance_ladder` runs every minute (notifications.register_jobs). It finds due steps with
range queries on the indexed human_task.due_at, anti-joined with ladder_step's unique
(task_id, step) — never deserializing a workflow. Each step is taken once per task: one
ladder_step row, one history event on the row-locked instance, its notifications, all in the
caller's transaction. A task that is no longer READY has no human_task row, so its ladder stops;
a task whose due moment moves (a campaign calendar change) starts its ladder again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import exists, select
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from . import access, vocabulary
from .clock import local_today
from .clues import get_clue
from .context import Context
from .db.models import (Clue, HumanTask, InstanceStatus, LadderStep, OrgUnit, ProcessInstance, Role,
                        SupervisionNotice, User)
from .errors import Conflict, ValidationFailed
from .history import append_event
from .notifications import deadline_day, notify

ACTIVE = (InstanceStatus.running, InstanceStatus.waiting)
ESCALATION_LEVELS = ("unit_leader", "group", "office")


@dataclass(frozen=True)
class LadderConfig:
    reminder_days: tuple[float, ...] = (3, 1)
    # (level, days after the previous step); the first counts from the due moment
    escalations: tuple[tuple[str, float], ...] = (("unit_leader", 1), ("group", 3), ("office", 7))


@dataclass(frozen=True)
class Step:
    name: str           # ladder_step.step and the notification kind
    kind: str           # instance_event.kind: reminder | chase | escalation
    offset: timedelta   # from the task's due moment
    level: str | None = None
    window: timedelta | None = None  # reminders: only while no later reminder is due
    after: str | None = None  # escalations: only once the step before has been taken


def ladder_steps(config: LadderConfig) -> list[Step]:
    days = sorted(set(config.reminder_days), reverse=True)
    steps = [Step(f"reminder_{d:g}d", "reminder", -timedelta(days=d),
                  window=timedelta(days=d - (days[i + 1] if i + 1 < len(days) else 0)))
             for i, d in enumerate(days)]
    steps.append(Step("chase", "chase", timedelta(0)))
    offset = timedelta(0)
    for level, days_after in config.escalations:
        if level not in ESCALATION_LEVELS:
            raise ValueError(f"unknown escalation level {level!r}; known: {', '.join(ESCALATION_LEVELS)}")
        offset += timedelta(days=days_after)
        steps.append(Step(f"escalation_{level}", "escalation", offset, level=level, after=steps[-1].name))
    return steps


DEFAULT_STEPS = ladder_steps(LadderConfig())
LABELS = vocabulary.LADDER


def advance_ladder(ctx: Context, limit: int = 500, config: LadderConfig | None = None) -> int:
    """Take every due ladder step (at most `limit`); returns how many were taken."""
    steps = ladder_steps(config) if config is not None else DEFAULT_STEPS
    taken = 0
    for step in steps:
        if taken >= limit:
            break
        for row, definition_id in _due(ctx, step, limit - taken):
            if _take(ctx, step, row, definition_id):
                taken += 1
    return taken


def _due(ctx: Context, step: Step, limit: int) -> list[tuple[HumanTask, int]]:
    moment = ctx.now - step.offset  # the step is due for tasks due at or before this moment
    # Taken for this due moment; a deadline moved since (campaign calendar) starts the ladder anew.
    done = exists().where(LadderStep.task_id == HumanTask.id, LadderStep.step == step.name,
                          LadderStep.due_at == HumanTask.due_at)
    query = (select(HumanTask, ProcessInstance.definition_id)
             .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
             .where(HumanTask.due_at <= moment, ProcessInstance.status.in_(ACTIVE), ~done)
             .order_by(HumanTask.due_at, HumanTask.id).limit(limit))
    if step.window is not None:  # a reminder superseded by a later one is not sent any more
        query = query.where(HumanTask.due_at > moment - step.window)
    if step.after is not None:  # the ladder is climbed in order, even by workers side by side
        query = query.where(exists().where(LadderStep.task_id == HumanTask.id, LadderStep.step == step.after,
                                           LadderStep.due_at == HumanTask.due_at))
    return [(row, definition_id) for row, definition_id in ctx.session.execute(query)]


def _take(ctx: Context, step: Step, row: HumanTask, definition_id: int) -> bool:
    # An instance locked by someone else (a person completing its task, another worker) is
    # left for the next sweep: waiting for it could deadlock two workers' batches.
    instance = ctx.session.get(ProcessInstance, row.instance_id, with_for_update={"skip_locked": True})
    # Under the lock: the task may have been completed, or the step taken, meanwhile.
    if instance is None or instance.status not in ACTIVE:
        return False
    if ctx.session.get(HumanTask, row.id, populate_existing=True) is None or row.due_at is None:
        return False
    earlier = ctx.session.scalar(select(LadderStep).where(LadderStep.task_id == row.id, LadderStep.step == step.name))
    if earlier is not None and earlier.due_at == row.due_at:
        return False
    clue = ctx.session.get(Clue, row.clue_id) if row.clue_id else None
    outcome, recipients = "taken", _recipients(step, row, clue)
    if step.kind == "reminder" and row.created_at > row.due_at + step.offset:
        outcome, recipients = "skipped", []  # the task appeared after its reminder's moment
    elif step.kind == "chase" and has_deadline_boundary(ctx, definition_id, row.spec_name):
        outcome = "process"  # the diagram's boundary timer raises the chase task itself
    elif not recipients:
        outcome = "skipped"  # e.g. no work group besides the office, which comes next
    notified = 0
    if recipients:
        title, body = _message(ctx, step, row, clue)
        link = f"/tasks/{row.id}" if step.kind != "escalation" else None
        notified = notify(ctx, recipients, step.name, title, body, clue_id=row.clue_id, link=link)
    if outcome == "taken":
        label = LABELS[step.level or step.kind]
        append_event(ctx.session, instance, ctx.now, "system", step.kind, ctx.hash_alg, task_id=row.id,
                     element_id=row.spec_name, element_name=f"{label}：{row.title}"[:200],
                     data={"step": step.name, "task": row.title, "due_at": row.due_at.isoformat(),
                           "audiences": recipients, "notified": notified})
    if earlier is None:
        ctx.session.add(LadderStep(task_id=row.id, step=step.name, at=ctx.now, instance_id=row.instance_id,
                                   clue_id=row.clue_id, due_at=row.due_at, outcome=outcome, recipients=notified))
    else:  # taken again for the task's new due moment
        earlier.at, earlier.due_at, earlier.outcome, earlier.recipients = ctx.now, row.due_at, outcome, notified
    ctx.session.flush()
    return True


def _recipients(step: Step, row: HumanTask, clue: Clue | None) -> list[str]:
    if step.level is None:
        return [row.audience] if row.audience != "nobody" else []
    if step.level == "unit_leader":
        if row.candidate_unit:
            return [f"unit:{row.candidate_unit}"]
        return [row.audience] if row.audience != "nobody" else []
    if step.level == "group":
        group = clue.work_group if clue is not None else None
        return [f"group:{group}"] if group and group != access.OFFICE_GROUP else []
    return ["role:office"]


def _message(ctx: Context, step: Step, row: HumanTask, clue: Clue | None) -> tuple[str, str]:
    assert row.due_at is not None
    day = deadline_day(row.due_at).isoformat()
    subject = f"线索 #{clue.id}「{clue.enterprise_name}」" if clue is not None else "专项行动报送"
    where = f"{subject}：{row.title}"
    late = max(0, (ctx.now - row.due_at).days)
    if step.kind == "reminder":
        left = math.ceil((row.due_at - ctx.now) / timedelta(days=1))
        title = f"【到期提醒】{where}，办理期限 {day}（还有 {left} 天）"
    elif step.kind == "chase":
        title = f"【催办】{where}，已到办理期限（{day}）仍未办结"
    else:
        title = f"【{LABELS[step.level or '']}】{where}，逾期{f' {late} 天' if late else ''}仍未办结"
    lines = [f"事项：{row.title}", f"办理期限：{day}"]
    if clue is not None:
        lines += [f"线索：#{clue.id} {clue.enterprise_name}（债务方：{clue.debtor}）"]
        if clue.responsible_unit:
            lines.append(f"责任单位：{_unit_name(ctx, clue.responsible_unit)}")
    elif row.candidate_unit:
        lines.append(f"报送单位：{_unit_name(ctx, row.candidate_unit)}")
    if step.kind == "escalation":
        lines.append(f"已逾期 {late} 天，请督促办理。")
    elif step.kind == "chase":
        lines.append("已到办理期限，请尽快办理并反馈。")
    else:
        lines.append("请在期限内办理。")
    return title[:200], "\n".join(lines)


def _unit_name(ctx: Context, code: str) -> str:
    unit = ctx.session.get(OrgUnit, code)
    return unit.name if unit is not None else code


def has_deadline_boundary(ctx: Context, definition_id: int, spec_name: str) -> bool:
    """Whether the diagram attaches a timer boundary event to this task (it chases by itself).

    Read from the parsed process definition (SpecCache, parsed once per version), not the instance.
    """
    spec, subprocess_specs = ctx.runtime.specs.get_by_id(ctx.session, definition_id)
    return any(_timer_boundary_on(s, spec_name) for s in [spec, *subprocess_specs.values()])


def _timer_boundary_on(process_spec: Any, spec_name: str) -> bool:
    for task_spec in process_spec.task_specs.values():
        if type(task_spec).__name__ != "BoundaryEvent":
            continue
        if not isinstance(getattr(task_spec, "event_definition", None), TimerEventDefinition):
            continue
        if any(spec_name in (o.name for o in parent.outputs) for parent in task_spec.inputs):
            return True
    return False


def ladder_of(ctx: Context, task_id: str) -> list[dict[str, Any]]:
    """The steps taken for one task, in order (for tests and the task page)."""
    return [{"step": s.step, "at": s.at.isoformat(), "outcome": s.outcome, "recipients": s.recipients}
            for s in ctx.session.scalars(select(LadderStep).where(LadderStep.task_id == task_id)
                                         .order_by(LadderStep.at, LadderStep.id))]


# --- supervision by hand (督办单, 挂牌督办) -------------------------------------------------------

MAX_TEXT = 2000


def _office_and_clue(ctx: Context, username: str, clue_id: int) -> tuple[User, Clue, ProcessInstance]:
    user = access.get_user(ctx.session, username)
    access.require_role(user, Role.office)
    clue = get_clue(ctx, clue_id)
    instance = ctx.session.get(ProcessInstance, clue.instance_id, with_for_update=True) if clue.instance_id else None
    if instance is None:
        raise Conflict(f"clue {clue_id} has no process instance")
    return user, clue, instance


def _supervised(clue: Clue) -> list[str]:
    """Who answers for a clue: its responsible unit and its work group (the office leads some)."""
    recipients = [f"unit:{clue.responsible_unit}"] if clue.responsible_unit else []
    if clue.work_group and clue.work_group != access.OFFICE_GROUP:
        recipients.append(f"group:{clue.work_group}")
    return recipients


def issue_supervision_notice(ctx: Context, username: str, clue_id: int, text: str,
                             deadline: date | None = None) -> dict[str, Any]:
    """The office issues a supervision notice (督办单) on an open clue: stored, recorded in the
    clue's history and sent to its responsible unit and work group.

    :raises Forbidden: not the office. :raises NotFound: no such clue.
    :raises ValidationFailed: empty or overlong text, a deadline in the past. :raises Conflict: clue closed.
    """
    text = (text or "").strip()
    if not text or len(text) > MAX_TEXT:
        raise ValidationFailed("a supervision notice needs a text", {"text": f"请填写督办内容（不超过 {MAX_TEXT} 字）"})
    if deadline is not None and deadline < local_today(ctx.runtime.clock):
        raise ValidationFailed("the deadline is in the past", {"deadline": "督办期限不能早于今天"})
    user, clue, instance = _office_and_clue(ctx, username, clue_id)
    if clue.closed_at is not None:
        raise Conflict(f"clue {clue_id} is closed")
    notice = SupervisionNotice(clue_id=clue.id, instance_id=instance.id, issued_by=user.username, issued_at=ctx.now,
                               text=text, deadline=deadline, responsible_unit=clue.responsible_unit,
                               work_group=clue.work_group)
    ctx.session.add(notice)
    ctx.session.flush()
    recipients = _supervised(clue)
    title = f"【督办单】线索 #{clue.id}「{clue.enterprise_name}」"
    body = text + (f"\n督办期限：{deadline.isoformat()}" if deadline else "")
    notified = notify(ctx, recipients, "supervision_notice", title, body, clue_id=clue.id)
    append_event(ctx.session, instance, ctx.now, user.username, "supervision_notice", ctx.hash_alg,
                 actor_role=user.role.value, element_name="督办单",
                 data={"notice_id": notice.id, "text": text, "deadline": deadline.isoformat() if deadline else None,
                       "audiences": recipients, "notified": notified})
    return {**notice_summary(notice), "notified": notified}


def list_for_supervision(ctx: Context, username: str, clue_id: int, listed: bool, reason: str = "") -> dict[str, Any]:
    """The office lists a clue for supervision (挂牌督办) or takes it off the list; recorded and
    notified. Setting what is already set changes nothing.

    :raises Forbidden: not the office. :raises NotFound: no such clue. :raises ValidationFailed: no reason to list.
    """
    reason = (reason or "").strip()
    if len(reason) > MAX_TEXT or (listed and not reason):
        raise ValidationFailed("listing for supervision needs a reason", {"reason": "请填写挂牌督办理由"})
    user, clue, instance = _office_and_clue(ctx, username, clue_id)
    if bool(clue.listed_for_supervision) == listed:  # type: ignore[attr-defined]
        return {"clue_id": clue.id, "listed": listed, "changed": False, "notified": 0}
    clue.listed_for_supervision = listed  # type: ignore[attr-defined]
    clue.updated_at = ctx.now
    recipients = _supervised(clue)
    name = "挂牌督办" if listed else "取消挂牌督办"
    title = f"【{name}】线索 #{clue.id}「{clue.enterprise_name}」"
    notified = notify(ctx, recipients, "supervision_listed" if listed else "supervision_unlisted", title,
                      reason, clue_id=clue.id)
    append_event(ctx.session, instance, ctx.now, user.username, "supervision_listing", ctx.hash_alg,
                 actor_role=user.role.value, element_name=name,
                 data={"listed": listed, "reason": reason, "audiences": recipients, "notified": notified})
    return {"clue_id": clue.id, "listed": listed, "changed": True, "notified": notified}


def notice_summary(notice: SupervisionNotice) -> dict[str, Any]:
    return {"id": notice.id, "clue_id": notice.clue_id, "text": notice.text, "issued_by": notice.issued_by,
            "issued_at": notice.issued_at.isoformat(),
            "deadline": notice.deadline.isoformat() if notice.deadline else None,
            "responsible_unit": notice.responsible_unit, "work_group": notice.work_group}


def supervision_of(ctx: Context, username: str, clue_id: int) -> dict[str, Any]:
    """A clue's supervision as one user may see it: listed or not, the notices, what they may do.

    :raises NotFound: no such clue. :raises Forbidden: another unit's or group's clue.
    """
    user = access.get_user(ctx.session, username)
    clue = get_clue(ctx, clue_id)
    access.require_can_see_clue(user, clue)
    notices = ctx.session.scalars(select(SupervisionNotice).where(SupervisionNotice.clue_id == clue.id)
                                  .order_by(SupervisionNotice.id))
    return {"clue_id": clue.id, "listed": bool(clue.listed_for_supervision),  # type: ignore[attr-defined]
            "notices": [notice_summary(n) for n in notices], "may_supervise": user.role == Role.office,
            "closed": clue.closed_at is not None}
